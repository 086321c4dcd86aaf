"""Read-only queries the web pages need and no other service answers yet.

A producer's income history and the matches of its listing, a partner's requests, accepted pickups and
route for a day, the analyst's totals (kg, soles, CO2e), the classifier's accuracy on feedback, district
names and a database ping. Nothing here writes; state changes go through ``listings`` and ``matches``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ayni.domain.geo import Point, haversine_km
from ayni.domain.lifecycle import MatchStatus, Role
from ayni.domain.materials import MATERIALS
from ayni.domain.money import value_cents
from ayni.matching.impact import EmissionFactors, co2e_avoided
from ayni.matching.routing import RouteConfig
from ayni.services._common import require_role
from ayni.services.listings import get_listing
from ayni.services.matching import route as plan_day
from ayni.services.profiles import my_partner, my_producer
from ayni.storage.tables import District, Feedback, Listing, Match, Partner, User


@dataclass(frozen=True, slots=True)
class IncomeRow:
    month: str  # YYYY-MM
    kg: Decimal
    cents: int
    co2e_kg: float | None  # None when the emission factors are not available


@dataclass(frozen=True, slots=True)
class TotalRow:
    key: str
    kg: Decimal
    cents: int
    collections: int
    co2e_kg: float | None


class _Sum:
    """Running totals of collected matches: kg, céntimos, count and CO2e avoided."""

    def __init__(self, factors: EmissionFactors | None) -> None:
        self.factors = factors
        self.kg, self.cents, self.n = Decimal(0), 0, 0
        self.co2e: float | None = 0.0 if factors is not None else None

    def add(self, match: Match) -> None:
        kg = match.weighed_kg or Decimal(0)
        self.kg += kg
        self.cents += match.paid_cents or 0
        self.n += 1
        if self.factors is not None and self.co2e is not None:
            impact = co2e_avoided(material=match.listing.material, kg=kg, factors=self.factors)
            self.co2e += impact.co2e_avoided_kg if impact is not None else 0.0


@dataclass(frozen=True, slots=True)
class RouteStop:
    match_id: int
    listing_id: int
    lat: float
    lon: float
    kg: Decimal
    material: str
    leg_km: float


def _distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return haversine_km(Point(lat1, lon1), Point(lat2, lon2))


def listing_matches(session: Session, user: User, listing_id: int) -> list[Match]:
    """The matches of one of the producer's listings, newest first."""
    listing = get_listing(session, user, listing_id)
    return list(session.scalars(select(Match).where(Match.listing_id == listing.id).order_by(Match.id.desc())))


def producer_income(session: Session, user: User, *, factors: EmissionFactors | None) -> list[IncomeRow]:
    """The producer's collected matches summed by month (kg weighed, soles paid, CO2e avoided)."""
    producer = my_producer(session, user)
    rows = session.scalars(
        select(Match)
        .join(Listing, Match.listing_id == Listing.id)
        .where(Listing.producer_id == producer.id, Match.status == MatchStatus.COLLECTED.value)
        .order_by(Match.collected_at)
    )
    months: dict[str, _Sum] = defaultdict(lambda: _Sum(factors))
    for m in rows:
        months[m.collected_at.strftime("%Y-%m") if m.collected_at else "?"].add(m)
    return [IncomeRow(month=k, kg=v.kg, cents=v.cents, co2e_kg=v.co2e) for k, v in sorted(months.items())]


def partner_requests(session: Session, user: User) -> list[Match]:
    """Pickup requests addressed to the partner that wait for its answer, the most valuable first."""
    partner = my_partner(session, user)
    rows = session.scalars(
        select(Match)
        .where(Match.partner_id == partner.id, Match.status == MatchStatus.PROPOSED.value)
        .order_by(Match.created_at)
    )
    return sorted(rows, key=lambda m: -value_cents(kg=m.listing.estimated_kg, cents_per_kg=m.agreed_price_cents_per_kg))


def partner_accepted(session: Session, user: User) -> list[Match]:
    """The partner's accepted matches (to collect), by pickup date."""
    partner = my_partner(session, user)
    return list(
        session.scalars(
            select(Match)
            .where(Match.partner_id == partner.id, Match.status == MatchStatus.ACCEPTED.value)
            .order_by(Match.pickup_date, Match.id)
        )
    )


def route_for_day(session: Session, user: User, day: date) -> tuple[Partner, list[RouteStop], float]:
    """The partner's base, the day's accepted pickups in ``matching.route``'s visiting order (trips one
    after the other, unroutable stops last) with the straight-line leg to each, and the total in km."""
    partner = my_partner(session, user)
    route, todays = plan_day(session, user, day=day, config=RouteConfig(time_limit_s=0.05))
    by_listing = {m.listing_id: m for m in todays}
    stops: list[RouteStop] = []
    total = 0.0
    for trip in [*route.trips, route.unroutable]:
        lat, lon = partner.latitude, partner.longitude
        for listing_id in trip:
            m = by_listing[listing_id]
            leg = _distance(lat, lon, m.listing.latitude, m.listing.longitude)
            stops.append(
                RouteStop(m.id, listing_id, m.listing.latitude, m.listing.longitude, m.reserved_kg, m.material, leg)
            )
            total += leg
            lat, lon = m.listing.latitude, m.listing.longitude
        if trip:
            total += _distance(lat, lon, partner.latitude, partner.longitude)
    return partner, stops, total


def collected_totals(session: Session, user: User, *, by: str, factors: EmissionFactors | None) -> list[TotalRow]:
    """Kg weighed, soles paid and CO2e avoided in collected matches, by ``district``, ``material`` or ``month``."""
    require_role(user, Role.ANALYST, Role.ADMIN)
    stmt = (
        select(Match, District.distrito)
        .join(Listing, Match.listing_id == Listing.id)
        .join(District, District.ubigeo == Listing.ubigeo)
        .where(Match.status == MatchStatus.COLLECTED.value)
    )
    acc: dict[str, _Sum] = defaultdict(lambda: _Sum(factors))
    for match, distrito in session.execute(stmt):
        if by == "district":
            key = f"{distrito} ({match.listing.ubigeo})"
        elif by == "material":
            key = match.listing.material
        else:
            key = match.collected_at.strftime("%Y-%m") if match.collected_at else "?"
        acc[key].add(match)
    rows = [TotalRow(key=k, kg=v.kg, cents=v.cents, collections=v.n, co2e_kg=v.co2e) for k, v in acc.items()]
    return sorted(rows, key=lambda r: r.key) if by == "month" else sorted(rows, key=lambda r: -r.kg)


@dataclass(frozen=True, slots=True)
class AccuracyRow:
    model_version: str | None  # as the listing recorded it; None for predictions without a version
    predicted: int  # listings published with a prediction
    corrected: int  # of those, listings whose producer corrected the class (``classification_correction``)

    @property
    def accuracy(self) -> float:
        return (self.predicted - self.corrected) / self.predicted if self.predicted else 0.0


def _class_of(code: str | None) -> str | None:
    material = MATERIALS.get(code or "")
    return material.class_code if material is not None else code


def feedback_accuracy(session: Session, user: User) -> list[AccuracyRow]:
    """The classifier's accuracy on feedback, by model version: the share of listings published with a
    prediction that no ``classification_correction`` moved to another class. A correction to a more precise
    material of the same class (``plastic`` → ``PET``) is a refinement, not an error; when a listing was
    corrected several times its last correction counts. Newest versions (by listing) first."""
    require_role(user, Role.ADMIN)
    predicted = session.execute(
        select(Listing.model_version, func.count(Listing.id), func.max(Listing.id))
        .where(Listing.predicted_material.is_not(None))
        .group_by(Listing.model_version)
    ).all()
    last: dict[int, tuple[str | None, str | None, str | None]] = {}
    rows = session.execute(
        select(Feedback.listing_id, Listing.model_version, Feedback.predicted_material, Feedback.corrected_material)
        .join(Listing, Feedback.listing_id == Listing.id)
        .where(Feedback.kind == "classification_correction", Listing.predicted_material.is_not(None))
        .order_by(Feedback.id)
    )
    for listing_id, version, before, after in rows:
        if listing_id is not None:
            last[listing_id] = (version, before, after)
    wrong: dict[str | None, int] = defaultdict(int)
    for version, before, after in last.values():
        if _class_of(before) != _class_of(after):
            wrong[version] += 1
    ordered = sorted(predicted, key=lambda r: -int(r[2]))
    return [AccuracyRow(version, int(n), wrong[version]) for version, n, _ in ordered]


def district_names(session: Session, ubigeos: Sequence[str]) -> dict[str, str]:
    """UBIGEO → district name, for the codes given."""
    wanted = set(ubigeos)
    if not wanted:
        return {}
    rows = session.execute(select(District.ubigeo, District.distrito).where(District.ubigeo.in_(wanted)))
    return {row.ubigeo: row.distrito for row in rows}


def database_ok(session: Session) -> bool:
    """Whether the database answers a trivial query (what ``/readyz`` checks)."""
    try:
        session.execute(text("select 1"))
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False
    return True

"""Read-only queries the web pages need and no other service answers yet.

A producer's income history, the partners that can take a listing, a partner's requests and nearby
open listings, a partner's route for a day, the analyst's totals and a database ping. Nothing here
writes; state changes go through ``listings`` and ``matches``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ayni.domain.geo import Point, haversine_km
from ayni.domain.lifecycle import ListingStatus, MatchStatus, Role
from ayni.domain.materials import accepts
from ayni.domain.money import value_cents
from ayni.errors import InvalidInput
from ayni.matching.impact import EmissionFactors, co2e_avoided, load_emission_factors
from ayni.matching.routing import RouteConfig, Stop, plan_route
from ayni.services._common import require_role
from ayni.services.listings import get_listing
from ayni.services.matches import offer_for
from ayni.services.profiles import my_partner, my_producer
from ayni.storage.tables import District, Listing, Match, Partner, PartnerMaterial, User


@dataclass(frozen=True, slots=True)
class PartnerOption:
    """A partner that can take a listing, with its price line and the distance to the listing."""

    partner_id: int
    name: str
    kind: str
    material: str
    price_cents_per_kg: int
    min_kg: Decimal
    distance_km: float
    radius_km: float
    pickup_days: str


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


def emission_factors(data_dir: Path) -> EmissionFactors | None:
    """EPA WARM v15 factors from the reference data, or ``None`` when this machine does not have them."""
    path = data_dir / "peru" / "emission_factors_warm_v15.csv"
    if not path.is_file():
        return None
    try:
        return load_emission_factors(path)
    except InvalidInput:
        return None


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


def partners_for_listing(session: Session, user: User, listing_id: int) -> list[PartnerOption]:
    """Partners whose price covers the listing's material, whose area reaches it and whose minimum it meets."""
    listing = get_listing(session, user, listing_id)
    out = []
    for partner in session.scalars(select(Partner).order_by(Partner.id)):
        offer = offer_for(partner, listing.material)
        if offer is None or listing.estimated_kg < offer.min_kg:
            continue
        km = _distance(partner.latitude, partner.longitude, listing.latitude, listing.longitude)
        if km > partner.service_radius_km:
            continue
        out.append(
            PartnerOption(
                partner_id=partner.id,
                name=partner.name,
                kind=partner.kind,
                material=offer.material,
                price_cents_per_kg=offer.price_cents_per_kg,
                min_kg=offer.min_kg,
                distance_km=km,
                radius_km=partner.service_radius_km,
                pickup_days=partner.pickup_days,
            )
        )
    return out


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


def nearby_open_listings(session: Session, user: User, *, limit: int = 30) -> list[tuple[Listing, float, int]]:
    """Open listings the partner's materials cover within its radius: (listing, km, expected céntimos)."""
    partner = my_partner(session, user)
    codes = [m.material for m in partner.materials]
    stmt = select(Listing).where(Listing.status.in_((ListingStatus.OPEN.value, ListingStatus.MATCHED.value)))
    out = []
    for listing in session.scalars(stmt.order_by(Listing.created_at.desc()).limit(500)):
        if not any(accepts(c, listing.material) for c in codes):
            continue
        km = _distance(partner.latitude, partner.longitude, listing.latitude, listing.longitude)
        offer = offer_for(partner, listing.material)
        if km <= partner.service_radius_km and offer is not None and listing.estimated_kg >= offer.min_kg:
            cents = value_cents(kg=listing.estimated_kg, cents_per_kg=offer.price_cents_per_kg)
            out.append((listing, km, cents))
    out.sort(key=lambda row: (-row[2], row[1]))
    return out[:limit]


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
    """The partner's base, the day's accepted pickups in visiting order, and the round trip in km."""
    partner = my_partner(session, user)
    matches = [m for m in partner_accepted(session, user) if m.pickup_date == day]
    by_listing = {m.listing_id: m for m in matches}
    order = _order(partner, matches)
    stops: list[RouteStop] = []
    lat, lon, total = partner.latitude, partner.longitude, 0.0
    for listing_id in order:
        m = by_listing[listing_id]
        leg = _distance(lat, lon, m.listing.latitude, m.listing.longitude)
        total += leg
        stops.append(
            RouteStop(m.id, listing_id, m.listing.latitude, m.listing.longitude, m.reserved_kg, m.material, leg)
        )
        lat, lon = m.listing.latitude, m.listing.longitude
    if stops:
        total += _distance(lat, lon, partner.latitude, partner.longitude)
    return partner, stops, total


def _order(partner: Partner, matches: Sequence[Match]) -> list[int]:
    """Visiting order: the routing solver when it matters (3+ stops), else the obvious order."""
    if len(matches) < 3:
        return [m.listing_id for m in matches]
    stops = [Stop(m.listing_id, m.listing.latitude, m.listing.longitude, m.reserved_kg) for m in matches]
    route = plan_route(
        depot_lat=partner.latitude, depot_lon=partner.longitude, stops=stops, config=RouteConfig(time_limit_s=0.05)
    )
    return list(route.order) + list(route.unroutable)


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


def district_names(session: Session, ubigeos: Sequence[str]) -> dict[str, str]:
    """UBIGEO → district name, for the codes given."""
    wanted = set(ubigeos)
    if not wanted:
        return {}
    rows = session.execute(select(District.ubigeo, District.distrito).where(District.ubigeo.in_(wanted)))
    return {row.ubigeo: row.distrito for row in rows}


def partner_materials(session: Session, user: User) -> list[PartnerMaterial]:
    return list(my_partner(session, user).materials)


def database_ok(session: Session) -> bool:
    """Whether the database answers a trivial query (what ``/readyz`` checks)."""
    try:
        session.execute(text("select 1"))
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False
    return True

"""Matching use cases over the database: ranked partners for a listing, opportunities for a partner,
the region-wide allocation, a partner's pickup route and income/impact figures.

The partner catalogue (a spatial index over every partner's base, with full weekly capacities) is
cached per process for ``ttl_s`` seconds and rebuilt when a partner profile changes here; the capacity
already reserved is read from the database for the few candidates of each request, so a recommendation
never offers capacity that was promised in the meantime.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ayni.domain.lifecycle import ListingStatus, MatchStatus, PartnerKind, ProducerKind, Role
from ayni.domain.materials import MATERIALS
from ayni.domain.money import value_cents
from ayni.errors import InvalidInput, PermissionDenied
from ayni.matching.arcs import build_arcs
from ayni.matching.candidates import candidates_for_listing, listings_for_partner
from ayni.matching.entities import Candidate, ListingInput, MaterialOffer, PartnerOffer, Recommendation
from ayni.matching.impact import PERU_CAVEAT_EN, EmissionFactors, co2e_avoided, load_emission_factors
from ayni.matching.index import ListingIndex, PartnerIndex
from ayni.matching.ranker import LearntAcceptance
from ayni.matching.scoring import (
    AcceptanceEstimator,
    RuleAcceptance,
    ScoringConfig,
    transport_cents,
)
from ayni.observability import metrics
from ayni.services._common import audit, require_role
from ayni.services._ranking import p_pairs, rank_exact, rank_monotone, scorer_label, week_start
from ayni.services.listings import get_listing
from ayni.services.profiles import WEEKDAYS, my_partner
from ayni.storage.tables import CapacityReservation, Listing, Match, Partner, Producer, User

if TYPE_CHECKING:

    from ayni.matching.allocation import AllocationResult
    from ayni.matching.arcs import ArcTable
    from ayni.matching.routing import Route, RouteConfig

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def emission_factors(data_dir: Path) -> EmissionFactors | None:
    """EPA WARM v15 factors from the reference data, read once per data directory; ``None`` when this
    machine does not have them (CO2e is then reported as unknown, never as zero)."""
    path = data_dir / "peru" / "emission_factors_warm_v15.csv"
    try:
        return load_emission_factors(path) if path.is_file() else None
    except InvalidInput:
        log.warning("unreadable emission factors at %s; CO2e unknown", path)
        return None


def partner_offer(partner: Partner, *, reserved: dict[str, Decimal] | None = None) -> PartnerOffer:
    reserved = reserved or {}
    offers = tuple(MaterialOffer(material=m.material, price_cents_per_kg=m.price_cents_per_kg, min_kg=m.min_kg,
                                 weekly_capacity_kg=m.weekly_capacity_kg,
                                 capacity_left_kg=max(Decimal(0), m.weekly_capacity_kg - reserved.get(m.material, 0)))
                   for m in partner.materials)
    days = frozenset(WEEKDAYS.index(d) for d in partner.pickup_days.split(",") if d)
    return PartnerOffer(partner_id=partner.id, kind=PartnerKind(partner.kind), lat=partner.latitude,
                        lon=partner.longitude, radius_km=partner.service_radius_km, pickup_weekdays=days,
                        materials=offers, name=partner.name)


def listing_input(listing: Listing, producer_kind: str | None = None) -> ListingInput:
    return ListingInput(listing_id=listing.id, producer_id=listing.producer_id, material=listing.material,
                        kg=listing.estimated_kg, lat=listing.latitude, lon=listing.longitude,
                        available_from=listing.available_from.date(), available_until=listing.available_until.date(),
                        created_at=listing.created_at, photo_confidence=listing.predicted_confidence,
                        producer_kind=ProducerKind(producer_kind or listing.producer.kind))


class PartnerCatalog:
    """Process-wide cache of the partner spatial index (full capacities), rebuilt after ``ttl_s``."""

    def __init__(self, *, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s
        self._index: PartnerIndex | None = None
        self._built = 0.0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._index = None

    def index(self, session: Session) -> PartnerIndex:
        with self._lock:
            if self._index is None or time.monotonic() - self._built > self.ttl_s:
                partners = session.scalars(select(Partner)).all()
                self._index = PartnerIndex([partner_offer(p) for p in partners])
                self._built = time.monotonic()
                log.info("partner catalogue rebuilt with %d partners", len(partners))
            return self._index


def recommend(session: Session, user: User, listing_id: int, *, catalog: PartnerCatalog,
              estimator: AcceptanceEstimator | None = None, top_k: int = 10,
              now: datetime | None = None) -> list[Recommendation]:
    """The partners that can take this listing, best expected value to the producer first.

    ``estimator`` gives P(accept and collect): the rule by default, or the served learnt ranker
    (``services.acceptance``). Every recommendation says which (``p_source``); if the learnt model fails
    on a request, that request is ranked by the rule instead (logged) rather than failing."""
    listing = get_listing(session, user, listing_id)
    if user.role not in (Role.PRODUCER.value, Role.ADMIN.value):
        raise PermissionDenied("Only the listing's producer (or an admin) can see its ranked partners.")
    if listing.status not in (ListingStatus.OPEN.value, ListingStatus.MATCHED.value):
        return []
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    li = listing_input(listing)
    index = catalog.index(session)
    optimistic = candidates_for_listing(li, index, not_before=now.date())
    if not optimistic:
        metrics.record_matching(kind="listing", latency_s=time.perf_counter() - started, candidates=0)
        return []
    rule = RuleAcceptance()
    if estimator is None or isinstance(estimator, RuleAcceptance):
        ranked, weighed = rank_monotone(session, li, optimistic, index, estimator or rule, now=now, top_k=top_k)
    else:
        try:
            ranked, weighed = rank_exact(session, li, optimistic, index, estimator, now=now, top_k=top_k)
        except Exception:  # noqa: BLE001 - a broken learnt model must not fail the request
            log.exception("learnt acceptance failed for listing %s; ranked by the rule", listing_id)
            ranked, weighed = rank_monotone(session, li, optimistic, index, rule, now=now, top_k=top_k)
    metrics.record_matching(kind="listing", latency_s=time.perf_counter() - started, candidates=weighed,
                            scorer=scorer_label(ranked))
    return ranked


@dataclass(frozen=True, slots=True)
class Opportunity:
    listing: Listing
    candidate: Candidate
    p_accept: float
    expected_net_cents: int
    p_source: str = "rule"  # "model" when the learnt ranker scored it


PREFILTER = 500  # listings scored per opportunities request: the largest, then nearest, the partner can take


def opportunities(session: Session, user: User, *, estimator: AcceptanceEstimator | None = None,
                  limit: int = 50, now: datetime | None = None) -> list[Opportunity]:
    """Open listings this partner can take (material, radius, minimum, pickup day, capacity), best value first.

    Listings inside the partner's bounding box are read as plain columns, filtered by the engine's rules
    (at most ``PREFILTER`` of them, largest and nearest first), scored, and only the ``limit`` best are
    loaded as full listings."""
    started = time.perf_counter()
    partner = my_partner(session, user)
    now = now or datetime.now(UTC)
    offer = partner_offer(partner, reserved=_this_week(session, partner.id, now.date()))
    codes = {code for code in MATERIALS if offer.offer_for(code) is not None}
    dlat = partner.service_radius_km / 111.0
    dlon = dlat / max(0.2, abs(math.cos(math.radians(partner.latitude))))
    rows = session.execute(select(
        Listing.id, Listing.producer_id, Listing.material, Listing.estimated_kg, Listing.latitude, Listing.longitude,
        Listing.available_from, Listing.available_until, Listing.created_at, Listing.predicted_confidence,
        Producer.kind).join(Producer, Listing.producer_id == Producer.id).where(
        Listing.status.in_((ListingStatus.OPEN.value, ListingStatus.MATCHED.value)), Listing.material.in_(codes),
        Listing.latitude.between(partner.latitude - dlat, partner.latitude + dlat),
        Listing.longitude.between(partner.longitude - dlon, partner.longitude + dlon),
        Listing.available_until >= now)).all()
    inputs = [ListingInput(listing_id=r.id, producer_id=r.producer_id, material=r.material, kg=r.estimated_kg,
                           lat=r.latitude, lon=r.longitude, available_from=r.available_from.date(),
                           available_until=r.available_until.date(), created_at=r.created_at,
                           photo_confidence=r.predicted_confidence, producer_kind=ProducerKind(r.kind))
              for r in rows]
    pairs = listings_for_partner(offer, ListingIndex(inputs), not_before=now.date(), limit=PREFILTER) if inputs else []
    estimator = estimator or RuleAcceptance()
    try:
        p_all = p_pairs(estimator, pairs, now=now)
    except Exception:  # noqa: BLE001 - a broken learnt model must not fail the request
        log.exception("learnt acceptance failed for partner %s's opportunities; scored by the rule", partner.id)
        estimator = RuleAcceptance()
        p_all = p_pairs(estimator, pairs, now=now)
    config = ScoringConfig()
    scored = [(round(p * c.gross_cents) - transport_cents(c.distance_km, config=config), c, p)
              for (_, c), p in zip(pairs, p_all, strict=True)]
    scored.sort(key=lambda x: (-x[0], x[1].distance_km, x[1].listing_id))
    best = scored[:limit]
    full = {x.id: x for x in session.scalars(select(Listing).where(Listing.id.in_([c.listing_id for _, c, _ in best])))}
    metrics.record_matching(kind="partner", latency_s=time.perf_counter() - started, candidates=len(pairs),
                            scorer="ranker" if estimator.source == LearntAcceptance.source else "rule")
    return [Opportunity(full[c.listing_id], c, p, net, estimator.source) for net, c, p in best]


def _this_week(session: Session, partner_id: int, today: date) -> dict[str, Decimal]:
    rows = session.execute(select(CapacityReservation.material, CapacityReservation.reserved_kg).where(
        CapacityReservation.partner_id == partner_id, CapacityReservation.week_start == week_start(today))).all()
    return {str(m): Decimal(kg) for m, kg in rows}


@dataclass(frozen=True)
class AllocationReport:
    region: str
    listings: int
    partners: int
    arcs: int
    results: dict[str, AllocationResult]
    violations: dict[str, int]
    proposed: int


def allocate(session: Session, admin: User, *, region: str, apply: bool = False, time_limit_s: float = 10.0,
             now: datetime | None = None) -> AllocationReport:
    """Assign every open listing of a region (UBIGEO prefix: 2 digits department, 4 province, 6 district)
    to partners, maximising total expected net income within each partner's capacity left this week,
    and compare with the greedy baselines. With ``apply`` the optimal assignment becomes proposed matches."""
    require_role(admin, Role.ADMIN)
    if not (region.isdigit() and len(region) in (2, 4, 6)):
        raise InvalidInput("region must be a UBIGEO prefix: 2 digits (department), 4 (province) or 6 (district).",
                           details={"field": "region"})
    now = now or datetime.now(UTC)
    rows = session.execute(select(Listing, Producer.kind).join(Producer).where(
        Listing.status == ListingStatus.OPEN.value, Listing.ubigeo.startswith(region),
        Listing.available_until >= now)).all()
    listings = [listing_input(li, kind) for li, kind in rows]
    partners = [partner_offer(p, reserved=_this_week(session, p.id, now.date()))
                for p in session.scalars(select(Partner)).all()]
    from ayni.matching.allocation import capacity_violations, greedy, optimise  # OR-Tools: loaded when used

    started = time.perf_counter()
    table = build_arcs(listings, partners, not_before=now.date())
    results = {"optimal": optimise(table, time_limit_s=time_limit_s)}
    for rule in ("nearest", "highest_price", "fcfs"):
        results[rule] = greedy(table, rule=rule)
    violations = {name: len(capacity_violations(table, r.chosen)) for name, r in results.items()}
    metrics.record_matching(kind="allocation", latency_s=time.perf_counter() - started, candidates=table.n_arcs)
    proposed = _propose(session, admin, results["optimal"], table) if apply else 0
    audit(session, actor=admin, action="allocation.run", entity="region", entity_id=None, region=region,
          listings=len(listings), assigned=results["optimal"].n_assigned, applied=apply)
    return AllocationReport(region, len(listings), len(partners), table.n_arcs, results, violations, proposed)


def _propose(session: Session, admin: User, result: AllocationResult, table: ArcTable) -> int:
    n = 0
    for a in result.assignments(table):
        listing = session.get(Listing, a.listing_id, with_for_update=True)
        if listing is None or listing.status != ListingStatus.OPEN.value:
            continue
        partner = session.get(Partner, a.partner_id)
        assert partner is not None
        offer = next(m for m in partner.materials if m.material == a.offer_material)
        session.add(Match(listing_id=listing.id, partner_id=partner.id, status=MatchStatus.PROPOSED.value,
                          material=offer.material, agreed_price_cents_per_kg=offer.price_cents_per_kg,
                          reserved_kg=listing.estimated_kg))
        listing.status = ListingStatus.MATCHED.value
        metrics.on_commit(session, _requested(listing.material, listing.ubigeo))
        n += 1
    session.flush()
    return n


def _requested(material: str, ubigeo: str) -> Callable[[], None]:
    return lambda: metrics.record_match_event(event="requested", material=material, ubigeo=ubigeo)


def route(session: Session, user: User, *, day: date, config: RouteConfig | None = None) -> tuple[Route, list[Match]]:
    """The partner's accepted collections for ``day`` as an ordered, capacity-feasible route from its base."""
    partner = my_partner(session, user)
    todays = list(session.scalars(select(Match).where(Match.partner_id == partner.id,
                                                      Match.status == MatchStatus.ACCEPTED.value,
                                                      Match.pickup_date == day)))
    from ayni.matching.routing import Stop, plan_route  # OR-Tools: loaded when used

    started = time.perf_counter()
    stops = [Stop(listing_id=m.listing_id, lat=m.listing.latitude, lon=m.listing.longitude, kg=m.reserved_kg)
             for m in todays]
    planned = plan_route(depot_lat=partner.latitude, depot_lon=partner.longitude, stops=stops, config=config)
    metrics.record_matching(kind="route", latency_s=time.perf_counter() - started, candidates=len(stops))
    return planned, todays


@dataclass
class ImpactRow:
    material: str
    kg_collected: Decimal
    soles_paid_cents: int
    co2e_avoided_kg: float | None
    collections: int


@dataclass
class ImpactSummary:
    scope: str
    kg_collected: Decimal
    soles_paid_cents: int
    expected_cents_open: int
    co2e_avoided_kg: float | None
    collections: int
    by_material: list[ImpactRow]
    caveat: str


def impact(session: Session, user: User, *, district: str | None = None, factors: EmissionFactors | None,
           since: date | None = None) -> ImpactSummary:
    """Realised kg, soles and CO2e avoided (and expected soles of pending matches) for a district or the
    whole platform; producers see their own, partners theirs, admins and analysts everything."""
    where: list[Any] = []
    if district is not None:
        if not (district.isdigit() and len(district) in (2, 4, 6)):
            raise InvalidInput("district must be a UBIGEO or a 2/4-digit prefix.", details={"field": "district"})
        where.append(Listing.ubigeo.startswith(district))
    if user.role == Role.PRODUCER.value:
        where.append(Producer.user_id == user.id)
    elif user.role == Role.PARTNER.value:
        where.append(Match.partner_id == my_partner(session, user).id)
    base = select(Listing.material, func.sum(Match.weighed_kg), func.sum(Match.paid_cents), func.count()).select_from(
        Match).join(Listing, Match.listing_id == Listing.id).join(Producer, Listing.producer_id == Producer.id)
    collected = [Match.status == MatchStatus.COLLECTED.value, *where]
    if since is not None:
        collected.append(Match.collected_at >= datetime.combine(since, datetime.min.time(), tzinfo=UTC))
    rows = session.execute(base.where(and_(*collected)).group_by(Listing.material)).all()
    by_material = []
    for material, kg, cents, n in rows:
        kg = Decimal(kg or 0)
        effect = co2e_avoided(material=material, kg=kg, factors=factors) if factors else None
        by_material.append(ImpactRow(material, kg, int(cents or 0), effect.co2e_avoided_kg if effect else None, int(n)))
    expected = session.execute(
        select(Match.reserved_kg, Match.agreed_price_cents_per_kg).select_from(Match)
        .join(Listing, Match.listing_id == Listing.id).join(Producer, Listing.producer_id == Producer.id)
        .where(and_(Match.status == MatchStatus.ACCEPTED.value, *where))).all()
    co2 = [r.co2e_avoided_kg for r in by_material if r.co2e_avoided_kg is not None]
    return ImpactSummary(
        scope=district or "all", kg_collected=sum((r.kg_collected for r in by_material), Decimal(0)),
        soles_paid_cents=sum(r.soles_paid_cents for r in by_material),
        expected_cents_open=sum(value_cents(kg=kg, cents_per_kg=p) for kg, p in expected),
        co2e_avoided_kg=sum(co2) if factors else None, collections=sum(r.collections for r in by_material),
        by_material=sorted(by_material, key=lambda r: -r.kg_collected), caveat=PERU_CAVEAT_EN)



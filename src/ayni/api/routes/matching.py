from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Query, Response
from pydantic import TypeAdapter

from ayni.api.deps import AcceptanceDep, AdminUser, CatalogDep, CurrentUser, FactorsDep, SessionDep, run_db
from ayni.api.routes._json import json_list_response
from ayni.api.routes.listings import to_public_many
from ayni.api.schemas.matching import (
    AllocationMethod,
    AllocationPublic,
    AllocationRequest,
    ExplanationPublic,
    ImpactMaterial,
    ImpactPublic,
    OpportunityPublic,
    RecommendationPublic,
    RoutePublic,
    RouteStop,
    ScoredBy,
)
from ayni.services import matching
from ayni.services.acceptance import Scorer
from ayni.services.profiles import my_partner

router = APIRouter(tags=["matching"])
RECOMMENDATIONS = TypeAdapter(list[RecommendationPublic])


@router.get("/listings/{listing_id}/matches", response_model=list[RecommendationPublic])
async def ranked_partners(listing_id: int, user: CurrentUser, session: SessionDep, catalog: CatalogDep,
                          acceptance: AcceptanceDep, limit: int = Query(10, ge=1, le=50)) -> Response:
    """Partners that can take this listing, ranked by expected income to the producer, with explanations
    and the acceptance model that scored them (``scored_by``: the rule, or the ranker and its version)."""

    def work() -> Response:
        scorer = acceptance.scorer(session)
        recs = matching.recommend(session, user, listing_id, catalog=catalog, estimator=scorer.estimator,
                                  top_k=limit)
        index = catalog.index(session)
        return json_list_response(RECOMMENDATIONS, [RecommendationPublic(
            rank=r.rank, partner_id=r.partner_id, partner_name=index.by_id[r.partner_id].name,
            partner_kind=r.candidate.partner_kind.value, material=r.candidate.offer_material,
            distance_km=round(r.candidate.distance_km, 2), price_cents_per_kg=r.candidate.price_cents_per_kg,
            kg=r.candidate.kg, pickup_date=r.candidate.pickup_date, p_accept=round(r.p_accept, 3),
            p_source=r.p_source, scored_by=_scored_by(scorer, r.p_source), gross_cents=r.candidate.gross_cents,
            transport_cents=r.transport_cents, expected_net_cents=r.expected_net_cents,
            explanation=ExplanationPublic(reasons=list(r.explanation.reasons), text_es=r.explanation.text_es,
                                          text_en=r.explanation.text_en, fields=r.explanation.fields))
            for r in recs])

    return await run_db(session, work)


@router.get("/partners/me/opportunities")
def my_opportunities(user: CurrentUser, session: SessionDep, acceptance: AcceptanceDep,
                     limit: int = Query(50, ge=1, le=200)) -> list[OpportunityPublic]:
    """Open listings this partner can take, best expected value first (no producer contact yet)."""
    scorer = acceptance.scorer(session)
    found = matching.opportunities(session, user, estimator=scorer.estimator, limit=limit)
    shapes = to_public_many(session, user, [o.listing for o in found])
    return [OpportunityPublic(listing=shape, distance_km=round(o.candidate.distance_km, 2),
                              price_cents_per_kg=o.candidate.price_cents_per_kg, pickup_date=o.candidate.pickup_date,
                              p_accept=round(o.p_accept, 3), scored_by=_scored_by(scorer, o.p_source),
                              expected_net_cents=o.expected_net_cents)
            for o, shape in zip(found, shapes, strict=True)]


def _scored_by(scorer: Scorer, p_source: str) -> ScoredBy:
    model, version = scorer.scored_by(p_source)
    return ScoredBy(model=model, version=version)


@router.post("/allocations")
def run_allocation(body: AllocationRequest, admin: AdminUser, session: SessionDep) -> AllocationPublic:
    """Assign all open listings of a region at once (exact optimum vs greedy baselines); admin only."""
    report = matching.allocate(session, admin, region=body.region, apply=body.apply, time_limit_s=body.time_limit_s)
    methods = [AllocationMethod(method=name, assigned=r.n_assigned, kg_placed=r.kg_placed,
                                total_expected_net_cents=r.total_value_cents,
                                capacity_violations=report.violations[name], status=r.status,
                                bound_cents=r.bound_cents, seconds=round(r.seconds, 3))
               for name, r in report.results.items()]
    return AllocationPublic(region=report.region, listings=report.listings, partners=report.partners, arcs=report.arcs,
                            methods=methods, proposed_matches=report.proposed)


@router.get("/partners/me/route")
def my_route(user: CurrentUser, session: SessionDep, day: date = Query(alias="date")) -> RoutePublic:
    """Today's (or any day's) accepted collections as an ordered pickup route from the partner's base."""
    route, todays = matching.route(session, user, day=day)
    by_listing = {m.listing_id: m for m in todays}
    stops, order = [], 0
    for trip_no, trip in enumerate(route.trips, start=1):
        for listing_id in trip:
            order += 1
            m = by_listing[listing_id]
            lat, lon = m.listing.latitude, m.listing.longitude
            stops.append(RouteStop(order=order, trip=trip_no, listing_id=listing_id, match_id=m.id, latitude=lat,
                                   longitude=lon, kg=m.reserved_kg,
                                   maps_url=f"https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}#map=17/{lat:.5f}/{lon:.5f}"))
    base = my_partner(session, user)
    return RoutePublic(date=day, depot_latitude=base.latitude, depot_longitude=base.longitude,
                       distance_km=round(route.distance_km, 2), duration_min=round(route.duration_min, 1), stops=stops,
                       unroutable_listing_ids=list(route.unroutable))


@router.get("/impact")
def impact(user: CurrentUser, session: SessionDep, factors: FactorsDep, district: str | None = None,
           since: date | None = None) -> ImpactPublic:
    """kg collected, soles paid, expected soles of accepted matches and CO2e avoided (EPA WARM v15)."""
    s = matching.impact(session, user, district=district, factors=factors, since=since)
    return ImpactPublic(scope=s.scope, kg_collected=s.kg_collected, soles_paid_cents=s.soles_paid_cents,
                        expected_cents_pending=s.expected_cents_open,
                        co2e_avoided_kg=None if s.co2e_avoided_kg is None else round(s.co2e_avoided_kg, 2),
                        collections=s.collections, caveat=s.caveat,
                        by_material=[ImpactMaterial(material=r.material, kg_collected=r.kg_collected,
                                                    soles_paid_cents=r.soles_paid_cents,
                                                    co2e_avoided_kg=None if r.co2e_avoided_kg is None
                                                    else round(r.co2e_avoided_kg, 2), collections=r.collections)
                                     for r in s.by_material])

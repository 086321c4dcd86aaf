"""Partner pages: requests to answer, nearby open listings, the day's route, confirming a collection."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response

from ayni.domain.money import value_cents
from ayni.errors import AyniError
from ayni.services import matches, matching, profiles, web_queries
from ayni.services.app_state import served_acceptance
from ayni.web import _forms as f
from ayni.web._charts import project
from ayni.web._csrf import checked_form
from ayni.web._locale import LIMA
from ayni.web._render import Db, WebRoute, WebUser, emission_factors_of, redirect, render

if TYPE_CHECKING:  # annotations only: pages reach storage through the services
    from ayni.storage.tables import Match, User

router = APIRouter(prefix="/partner", route_class=WebRoute, include_in_schema=False)


def _today() -> date:
    return datetime.now(LIMA).date()


def _contact(session: Db, user: User, m: Match) -> dict[str, Any] | None:
    """The producer's contact, only once the partner's match with the listing is accepted."""
    if not matches.contact_visible(session, user, m.listing):
        return None
    producer = m.listing.producer
    return {"name": producer.name, "phone": producer.user.phone, "email": producer.user.email, "address": producer.address}


def _proposed_day(m: Match) -> date | None:
    try:
        return matches.next_pickup_date(m.partner, m.listing)
    except AyniError:
        return None


@router.get("")
def home(request: Request, session: Db, user: WebUser) -> Response:
    partner = profiles.my_partner(session, user)
    pending = web_queries.partner_requests(session, user)
    requests = [(m, _proposed_day(m), value_cents(kg=m.listing.estimated_kg, cents_per_kg=m.agreed_price_cents_per_kg))
                for m in pending]
    accepted = [(m, _contact(session, user, m)) for m in web_queries.partner_accepted(session, user)]
    return render(
        request,
        "partner_home.html",
        user=user,
        partner=partner,
        requests=requests,
        accepted=accepted,
        nearby=matching.opportunities(session, user, limit=30,
                                      estimator=served_acceptance(request.app.state).scorer(session).estimator),
        today=_today(),
        districts=web_queries.district_names(session, [m.listing.ubigeo for m in pending]),
    )


@router.post("/matches/{match_id}/accept")
async def accept(request: Request, session: Db, user: WebUser, match_id: int) -> Response:
    form = await checked_form(request)
    match = matches.accept(session, user, match_id, pickup_date=f.optional_date(form, "pickup_date"))
    day = match.pickup_date.isoformat() if match.pickup_date else ""
    return redirect(f"/partner/route?day={day}")


@router.post("/matches/{match_id}/decline")
async def decline(request: Request, session: Db, user: WebUser, match_id: int) -> Response:
    form = await checked_form(request)
    matches.decline(session, user, match_id, reason=f.text(form, "reason", required=False) or None)
    return redirect("/partner")


@router.get("/route")
def route(request: Request, session: Db, user: WebUser, day: str = "") -> Response:
    try:
        when = date.fromisoformat(day) if day else _today()
    except ValueError:
        when = _today()
    partner, stops, total_km = web_queries.route_for_day(session, user, when)
    by_match = {m.id: m for m in web_queries.partner_accepted(session, user)}
    points = project(
        [("0", partner.latitude, partner.longitude)]
        + [(str(i + 1), s.lat, s.lon) for i, s in enumerate(stops)]
    )
    days = sorted({m.pickup_date for m in by_match.values() if m.pickup_date})
    return render(
        request,
        "route.html",
        user=user,
        partner=partner,
        day=when,
        stops=[(s, by_match[s.match_id], _contact(session, user, by_match[s.match_id])) for s in stops],
        points=points,
        total_km=total_km,
        other_days=[d for d in days if d != when],
    )


@router.post("/matches/{match_id}/collect")
async def collect(request: Request, session: Db, user: WebUser, match_id: int) -> Response:
    form = await checked_form(request)
    match = matches.collect(
        session,
        user,
        match_id,
        weighed_kg=f.decimal(form, "weighed_kg") or 0,
        paid_cents=f.soles_to_cents(form, "paid_soles", required=False),
        factors=emission_factors_of(request),
    )
    day = match.pickup_date.isoformat() if match.pickup_date else ""
    return redirect(f"/partner/route?day={day}&done={match.id}")

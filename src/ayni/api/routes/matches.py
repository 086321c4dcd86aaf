from __future__ import annotations

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from ayni.api.deps import CurrentUser, FactorsDep, SessionDep
from ayni.api.idempotency import IdempotencyKeyHeader, Once
from ayni.api.schemas.common import Page
from ayni.api.schemas.matches import AcceptRequest, CollectRequest, DeclineRequest, MatchCreate, MatchPublic
from ayni.services import matches

router = APIRouter(tags=["matches"])


@router.post("/listings/{listing_id}/pickup-requests", status_code=status.HTTP_201_CREATED, response_model=MatchPublic)
def request_pickup(listing_id: int, body: MatchCreate, user: CurrentUser, session: SessionDep, request: Request,
                   idempotency_key: IdempotencyKeyHeader = None) -> MatchPublic | JSONResponse:
    """The producer asks a partner to collect this listing (creates a proposed match). With an
    ``Idempotency-Key``, a retry returns the match created the first time."""
    once = Once.start(session, user, request, idempotency_key, body.model_dump_json())
    if once.replay is not None:
        return once.replay
    match = matches.request_pickup(session, user, listing_id, partner_id=body.partner_id)
    return once.keep(MatchPublic.model_validate(match), status=201)


@router.get("/matches")
def list_matches(
    user: CurrentUser,
    session: SessionDep,
    status: str | None = None,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
) -> Page[MatchPublic]:
    page = matches.list_matches(session, user, status=status, limit=limit, offset=offset)
    return Page[MatchPublic](
        items=[MatchPublic.model_validate(m) for m in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/matches/{match_id}")
def get_match(match_id: int, user: CurrentUser, session: SessionDep) -> MatchPublic:
    return MatchPublic.model_validate(matches.get_match(session, user, match_id))


@router.post("/matches/{match_id}/accept", response_model=MatchPublic)
def accept(match_id: int, user: CurrentUser, session: SessionDep, request: Request, body: AcceptRequest | None = None,
           idempotency_key: IdempotencyKeyHeader = None) -> MatchPublic | JSONResponse:
    """Accept and reserve weekly capacity. With an ``Idempotency-Key``, a retry returns the first answer."""
    once = Once.start(session, user, request, idempotency_key, (body or AcceptRequest()).model_dump_json())
    if once.replay is not None:
        return once.replay
    day = body.pickup_date if body else None
    return once.keep(MatchPublic.model_validate(matches.accept(session, user, match_id, pickup_date=day)))


@router.post("/matches/{match_id}/decline")
def decline(match_id: int, user: CurrentUser, session: SessionDep, body: DeclineRequest | None = None) -> MatchPublic:
    return MatchPublic.model_validate(matches.decline(session, user, match_id, reason=body.reason if body else None))


@router.post("/matches/{match_id}/collect", response_model=MatchPublic)
def collect(match_id: int, body: CollectRequest, user: CurrentUser, session: SessionDep, request: Request,
            factors: FactorsDep, idempotency_key: IdempotencyKeyHeader = None) -> MatchPublic | JSONResponse:
    """Record the weighed kg and the soles paid. With an ``Idempotency-Key``, a retry returns the first answer
    (the payment is recorded once)."""
    once = Once.start(session, user, request, idempotency_key, body.model_dump_json())
    if once.replay is not None:
        return once.replay
    match = matches.collect(session, user, match_id, weighed_kg=body.weighed_kg, paid_cents=body.paid_cents,
                            factors=factors)
    return once.keep(MatchPublic.model_validate(match))


@router.post("/matches/{match_id}/cancel")
def cancel(match_id: int, user: CurrentUser, session: SessionDep) -> MatchPublic:
    return MatchPublic.model_validate(matches.cancel(session, user, match_id))

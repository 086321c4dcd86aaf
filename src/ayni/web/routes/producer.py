"""Producer pages: home (photo, listings, income), the classification result, a listing and its partners."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from ayni.domain.lifecycle import ListingStatus, Role
from ayni.domain.materials import CLASSES, MATERIALS, get_material, sellable
from ayni.errors import AyniError, InvalidInput, ModelUnavailable, NotFound
from ayni.services import classification, listings, matches, media, profiles, web_queries
from ayni.services._common import require_role
from ayni.services.app_state import partner_catalog, served_acceptance
from ayni.settings import Settings
from ayni.web import _drafts
from ayni.web import _forms as f
from ayni.web._charts import bars
from ayni.web._csrf import checked_form
from ayni.web._render import Db, WebRoute, WebUser, emission_factors_of, locale_of, redirect, render
from ayni.web.ranking import rank_partners

log = logging.getLogger("ayni.web")
router = APIRouter(prefix="/producer", route_class=WebRoute, include_in_schema=False)

LISTABLE = tuple(c for c in CLASSES if sellable(c))
# the sellable sub-materials of each class, for an optional, more precise choice (PET, aluminium…)
PRECISE = {c: tuple(m.code for m in MATERIALS.values() if m.parent == c and sellable(m.code)) for c in LISTABLE}
TIMELINE = ("open", "matched", "scheduled", "collected", "closed")
WINDOW_DAYS = (1, 3, 7, 14, 30)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.get("")
def home(request: Request, session: Db, user: WebUser) -> Response:
    producer = profiles.my_producer(session, user)
    page = listings.list_listings(session, user, status=None, material=None, ubigeo=None, limit=50, offset=0)
    income = web_queries.producer_income(session, user, factors=emission_factors_of(request))
    loc = locale_of(request)
    chart = bars([(loc.month_short(row.month), row.cents / 100) for row in income[-12:]])
    return render(
        request,
        "producer_home.html",
        user=user,
        producer=producer,
        listings=page.items,
        income=income,
        chart=chart,
        total_cents=sum(r.cents for r in income),
        total_kg=sum((r.kg for r in income), start=0),
        total_co2e=None if any(r.co2e_kg is None for r in income) else sum(r.co2e_kg or 0.0 for r in income),
        classifier_ready=getattr(request.app.state, "classifier", None) is not None,
    )


def _classify(request: Request, session: Session, data: bytes) -> dict[str, Any] | None:
    """The classifier's answer as plain data, or ``None`` when there is no model (choose by hand).
    Goes through the same service as ``/v1/classify``, so web classifications are counted in the metrics."""
    classifier = getattr(request.app.state, "classifier", None)
    if classifier is None:
        return None
    try:
        pred = classification.classify(session, classifier, data).prediction
    except ModelUnavailable:
        return None
    except AyniError:
        raise  # the photo itself is unusable: the producer must see why
    except Exception:  # noqa: BLE001 - a broken model must not stop a listing: choose by hand instead
        log.exception("the classifier failed on an upload; asking the producer to choose")
        return None
    top3 = [(str(code), float(p)) for code, p in (getattr(pred, "top3", None) or [])][:3]
    return {
        "material": str(pred.material),
        "confidence": float(pred.confidence),
        "top3": top3,
        "abstained": bool(getattr(pred, "abstained", False)),
        "verdict": str(getattr(pred, "verdict", "")),
        "model_version": str(getattr(pred, "model_version", "") or "") or None,
    }


@router.post("/photo")
async def photo(request: Request, session: Db, user: WebUser) -> Response:
    form = await checked_form(request)
    profiles.my_producer(session, user)
    upload = f.upload(form, "photo")
    if upload is None:
        raise InvalidInput("Choose or take a photo first.", details={"field": "photo"})
    settings = _settings(request)
    data = await upload.read(settings.upload.max_bytes + 1)
    ext = media.check_image(data, content_type=upload.content_type, limits=settings.upload)
    prediction = _classify(request, session, data)
    token = _drafts.save(
        settings.var_dir, user.id, data=data, ext=ext, content_type=upload.content_type, prediction=prediction
    )
    return redirect(f"/producer/new?draft={token}")


@router.get("/new")
def new_listing(request: Request, session: Db, user: WebUser, draft: str = "") -> Response:
    profiles.my_producer(session, user)
    prediction = None
    if draft:
        prediction = _drafts.load(_settings(request).var_dir, user.id, draft).prediction
    unsure = prediction is None or prediction["abstained"]
    suggested = prediction["material"] if prediction else None
    return render(
        request,
        "classify.html",
        user=user,
        draft=draft,
        prediction=prediction,
        unsure=unsure,
        suggested=suggested if suggested in LISTABLE else None,
        materials=LISTABLE,
        precise=PRECISE,
        non_recoverable=suggested is not None and not sellable(suggested),
        window_days=WINDOW_DAYS,
    )


@router.get("/draft/{token}/photo")
def draft_photo(request: Request, user: WebUser, token: str) -> Response:
    require_role(user, Role.PRODUCER)
    d = _drafts.load(_settings(request).var_dir, user.id, token)
    return FileResponse(d.photo, media_type=d.content_type or "image/jpeg", headers={"Cache-Control": "private, max-age=600"})


@router.post("/listings")
async def create(request: Request, session: Db, user: WebUser) -> Response:
    form = await checked_form(request)
    settings = _settings(request)
    token = f.text(form, "draft", required=False, max_len=40)
    draft = _drafts.load(settings.var_dir, user.id, token) if token else None
    prediction = draft.prediction if draft else None
    days = f.integer(f.text(form, "days", required=False, max_len=3), default=7, low=1, high=90)
    now = datetime.now(UTC)
    material = f.choice(form, "material", LISTABLE)
    precise = f.text(form, "precise", required=False, max_len=32)
    if precise:
        material = f.choice(form, "precise", PRECISE[material])  # must belong to the class chosen above
    listing = listings.create_listing(
        session,
        user,
        material=material,
        estimated_kg=f.decimal(form, "kg") or 0,
        available_from=now,
        available_until=now + timedelta(days=days),
        description=f.text(form, "description", required=False, max_len=500) or None,
        predicted_material=prediction["material"] if prediction else None,
        predicted_confidence=prediction["confidence"] if prediction else None,
        model_version=prediction["model_version"] if prediction else None,
    )
    if draft is not None:
        listings.attach_photo(
            session,
            user,
            listing.id,
            data=draft.photo.read_bytes(),
            content_type=draft.content_type,
            limits=settings.upload,
            media_dir=settings.media_path,
        )
        _drafts.discard(draft)
    return redirect(f"/producer/listings/{listing.id}")


@router.get("/listings/{listing_id}")
def listing_page(request: Request, session: Db, user: WebUser, listing_id: int) -> Response:
    listing = listings.my_listing(session, user, listing_id)
    own = web_queries.listing_matches(session, user, listing_id)
    asked = {m.partner_id for m in own}
    can_request = listing.status in (ListingStatus.OPEN.value, ListingStatus.MATCHED.value)
    catalog = partner_catalog(request.app.state)
    ranked = (rank_partners(session, user, listing_id, catalog=catalog,
                            acceptance=served_acceptance(request.app.state)) if can_request else [])
    return render(
        request,
        "listing.html",
        user=user,
        listing=listing,
        material=get_material(listing.material),
        matches=own,
        asked=asked,
        ranked=ranked,
        can_request=can_request,
        can_cancel=listing.status in ("open", "matched", "scheduled"),
        timeline=TIMELINE,
        reached=_reached(listing.status),
    )


def _reached(status: str) -> int:
    """How far along the timeline a listing is (index of its state; -1 when it left the main line)."""
    return TIMELINE.index(status) if status in TIMELINE else -1


@router.get("/listings/{listing_id}/photo")
def listing_photo(request: Request, session: Db, user: WebUser, listing_id: int) -> Response:
    listing = listings.my_listing(session, user, listing_id)
    if listing.photo_path is None:
        raise NotFound("This listing has no photo.")
    path = media.photo_file(listing.photo_path, media_dir=_settings(request).media_path)
    return FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})


@router.post("/listings/{listing_id}/pickup")
async def request_pickup(request: Request, session: Db, user: WebUser, listing_id: int) -> Response:
    form = await checked_form(request)
    partner_id = f.integer(f.text(form, "partner_id", max_len=12), default=0, low=0, high=2**31 - 1)
    matches.request_pickup(session, user, listing_id, partner_id=partner_id)
    return redirect(f"/producer/listings/{listing_id}#matches")


@router.post("/listings/{listing_id}/cancel")
async def cancel(request: Request, session: Db, user: WebUser, listing_id: int) -> Response:
    await checked_form(request)
    listings.cancel_listing(session, user, listing_id)
    return redirect(f"/producer/listings/{listing_id}")



from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Query, Request, Response, UploadFile, status
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy import Row
from sqlalchemy.orm import Session

from ayni.api.deps import ClassifierDep, CurrentUser, SessionDep, SettingsDep, run_db
from ayni.api.idempotency import IdempotencyKeyHeader, Once
from ayni.api.routes._json import json_response
from ayni.api.schemas.common import Page
from ayni.api.schemas.listings import ListingCreate, ListingPublic, ListingUpdate
from ayni.api.schemas.profiles import Contact
from ayni.errors import NotFound, PayloadTooLarge
from ayni.services import listings, matches, media
from ayni.storage.tables import Listing, User

router = APIRouter(prefix="/listings", tags=["listings"])


def to_public(session: Session, user: User, listing: Listing) -> ListingPublic:
    return to_public_many(session, user, [listing])[0]


def to_public_many(session: Session, user: User, items: list[Listing]) -> list[ListingPublic]:
    """API shapes for ``items``; producer contact only where ``user`` may see it (one query for the page)."""
    visible = matches.contacts_visible(session, user, items)
    out = []
    for listing in items:
        public = ListingPublic.model_validate(listing)
        public.has_photo = listing.photo_path is not None
        if listing.id in visible:
            p = listing.producer
            public.producer_contact = Contact(name=p.name, email=p.user.email, phone=p.user.phone, address=p.address)
        out.append(public)
    return out


def to_public_rows(session: Session, user: User, rows: list[Row[Any]]) -> list[ListingPublic]:
    """``to_public_many`` for the rows of ``listings.list_listing_rows`` (the same shapes, no ORM objects)."""
    visible = matches.contacts_visible_by_owner(session, user, [(r.id, r.producer_user_id) for r in rows])
    out = []
    for row in rows:
        public = ListingPublic.model_validate(row)
        public.has_photo = row.photo_path is not None
        if row.id in visible:
            public.producer_contact = Contact(name=row.producer_name, email=row.producer_email,
                                              phone=row.producer_phone, address=row.producer_address)
        out.append(public)
    return out


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ListingPublic)
async def create_listing(body: ListingCreate, user: CurrentUser, session: SessionDep, request: Request,
                         idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Publish a listing. With an ``Idempotency-Key``, a retry returns the listing created the first time."""

    def work() -> Response:  # written, committed and serialised in one go (``run_db``): see api/deps
        once = Once.start(session, user, request, idempotency_key, body.model_dump_json())
        if once.replay is not None:
            return once.replay
        listing = listings.create_listing(
            session,
            user,
            material=body.material,
            estimated_kg=body.estimated_kg,
            available_from=body.available_from,
            available_until=body.available_until,
            description=body.description,
            predicted_material=body.predicted_material,
            predicted_confidence=body.predicted_confidence,
            model_version=body.model_version,
        )
        created = once.keep(to_public(session, user, listing), status=status.HTTP_201_CREATED)
        return json_response(created, status_code=status.HTTP_201_CREATED)

    return await run_db(session, work)


@router.get("", response_model=Page[ListingPublic])
async def list_listings(
    user: CurrentUser,
    session: SessionDep,
    status: str | None = None,
    material: str | None = None,
    ubigeo: str | None = None,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
) -> Response:
    def work() -> Response:
        page = listings.list_listing_rows(
            session, user, status=status, material=material, ubigeo=ubigeo, limit=limit, offset=offset
        )
        return json_response(Page[ListingPublic](
            items=to_public_rows(session, user, page.items), total=page.total, limit=page.limit, offset=page.offset
        ))

    return await run_db(session, work)


@router.get("/{listing_id}", response_model=ListingPublic)
async def get_listing(listing_id: int, user: CurrentUser, session: SessionDep) -> Response:
    return await run_db(session, lambda: json_response(
        to_public(session, user, listings.get_listing(session, user, listing_id))))


@router.patch("/{listing_id}")
def update_listing(listing_id: int, body: ListingUpdate, user: CurrentUser, session: SessionDep) -> ListingPublic:
    listing = listings.update_listing(
        session,
        user,
        listing_id,
        material=body.material,
        estimated_kg=body.estimated_kg,
        description=body.description,
        available_until=body.available_until,
    )
    return to_public(session, user, listing)


@router.put("/{listing_id}/photo", response_model=ListingPublic)
def upload_photo(
    listing_id: int,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    classifier: ClassifierDep,
    request: Request,
    file: UploadFile = File(description="JPEG, PNG, WebP or HEIC photo"),
    idempotency_key: IdempotencyKeyHeader = None,
) -> ListingPublic | JSONResponse:
    """Attach a photo (507 when the server's disk is full: nothing is stored). With an ``Idempotency-Key``, a
    retry returns the first answer without storing the photo twice."""
    data = file.file.read(settings.upload.max_bytes + 1)
    if len(data) > settings.upload.max_bytes:
        raise PayloadTooLarge(f"The photo is larger than the {settings.upload.max_bytes / 1e6:.0f} MB limit.")
    once = Once.start(session, user, request, idempotency_key, data, file.content_type or "")
    if once.replay is not None:
        return once.replay
    listing = listings.attach_photo(
        session,
        user,
        listing_id,
        data=data,
        content_type=file.content_type,
        limits=settings.upload,
        media_dir=settings.media_path,
        classifier=classifier,
    )
    return once.keep(to_public(session, user, listing))


@router.get("/{listing_id}/photo", response_class=FileResponse)
def get_photo(listing_id: int, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> FileResponse:
    listing = listings.get_listing(session, user, listing_id)
    if listing.photo_path is None:
        raise NotFound("This listing has no photo.")
    return FileResponse(media.photo_file(listing.photo_path, media_dir=settings.media_path))


@router.post("/{listing_id}/cancel")
def cancel_listing(listing_id: int, user: CurrentUser, session: SessionDep) -> ListingPublic:
    return to_public(session, user, listings.cancel_listing(session, user, listing_id))


@router.post("/{listing_id}/close")
def close_listing(listing_id: int, user: CurrentUser, session: SessionDep) -> ListingPublic:
    return to_public(session, user, listings.close_listing(session, user, listing_id))

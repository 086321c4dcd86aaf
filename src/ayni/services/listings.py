"""Listings: a producer's offer of sorted waste, from creation to closing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Row, Select, func, or_, select
from sqlalchemy.orm import Session

from ayni.domain.lifecycle import ListingStatus, MatchStatus, Role, check_listing_transition
from ayni.domain.materials import get_material, sellable
from ayni.domain.money import to_kg
from ayni.errors import InvalidInput, NotFound, PayloadTooLarge, PermissionDenied, UnsupportedMediaType
from ayni.observability import metrics
from ayni.services import media
from ayni.services._common import Page, audit, paginate, paginate_rows
from ayni.services.profiles import my_partner, my_producer
from ayni.settings import UploadSettings
from ayni.storage.tables import Feedback, Listing, Match, Producer, User
from ayni.vision import Classifier

log = logging.getLogger(__name__)
ACTIVE_MATCH = (MatchStatus.PROPOSED.value, MatchStatus.ACCEPTED.value)
MAX_WINDOW = timedelta(days=90)


def _window(available_from: datetime | None, available_until: datetime | None) -> tuple[datetime, datetime]:
    start = available_from or datetime.now(UTC)
    end = available_until or start + timedelta(days=7)
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput(
            "Dates must include a time zone, e.g. 2026-11-23T09:00:00-05:00.", details={"field": "available_from"}
        )
    if end <= start:
        raise InvalidInput("available_until must be after available_from.", details={"field": "available_until"})
    if end - start > MAX_WINDOW:
        raise InvalidInput("A listing can stay available for at most 90 days.", details={"field": "available_until"})
    if end < datetime.now(UTC):
        raise InvalidInput("The availability window is already over.", details={"field": "available_until"})
    return start, end


def create_listing(
    session: Session,
    user: User,
    *,
    material: str,
    estimated_kg: Decimal | float | str,
    available_from: datetime | None = None,
    available_until: datetime | None = None,
    description: str | None = None,
    predicted_material: str | None = None,
    predicted_confidence: float | None = None,
    model_version: str | None = None,
) -> Listing:
    producer = my_producer(session, user)
    get_material(material)
    if not sellable(material):
        raise InvalidInput(
            f"'{material}' cannot be recovered or sold; it goes to municipal collection.", details={"field": "material"}
        )
    if predicted_material is not None:
        get_material(predicted_material)
    if predicted_confidence is not None and not 0.0 <= predicted_confidence <= 1.0:
        raise InvalidInput("predicted_confidence must be between 0 and 1.", details={"field": "predicted_confidence"})
    start, end = _window(available_from, available_until)
    kg = to_kg(estimated_kg, field="estimated_kg")
    listing = Listing(
        producer_id=producer.id,
        material=material,
        estimated_kg=kg,
        description=description,
        available_from=start,
        available_until=end,
        status=ListingStatus.OPEN.value,
        ubigeo=producer.ubigeo,
        latitude=producer.latitude,
        longitude=producer.longitude,
        predicted_material=predicted_material,
        predicted_confidence=predicted_confidence,
        model_version=model_version,
    )
    session.add(listing)
    session.flush()
    if predicted_material is not None and predicted_material != material:
        session.add(
            Feedback(
                user_id=user.id,
                kind="classification_correction",
                listing_id=listing.id,
                predicted_material=predicted_material,
                corrected_material=material,
                confidence=predicted_confidence,
                model_version=model_version,
            )
        )
    metrics.on_commit(session, lambda: metrics.record_listing_created(material=material, ubigeo=producer.ubigeo))
    audit(session, actor=user, action="listing.created", entity="listing", entity_id=listing.id)
    return listing


def _partner_may_see(session: Session, user: User, listing: Listing) -> bool:
    if listing.status in (ListingStatus.OPEN.value, ListingStatus.MATCHED.value):
        return True
    partner = my_partner(session, user)
    return (
        session.scalar(select(Match.id).where(Match.listing_id == listing.id, Match.partner_id == partner.id))
        is not None
    )


def get_listing(session: Session, user: User, listing_id: int, *, for_update: bool = False) -> Listing:
    """The listing if ``user`` may see it; ``NotFound`` otherwise (existence is not revealed)."""
    stmt = select(Listing).where(Listing.id == listing_id)
    listing = session.scalar(stmt.with_for_update(of=Listing) if for_update else stmt)
    missing = NotFound(f"Listing {listing_id} does not exist or is not yours.")
    if listing is None:
        raise missing
    if user.role in (Role.ADMIN.value, Role.ANALYST.value):
        return listing
    if user.role == Role.PRODUCER.value:
        if listing.producer.user_id != user.id:
            raise missing
        return listing
    if not _partner_may_see(session, user, listing):
        raise missing
    return listing


def my_listing(session: Session, user: User, listing_id: int, *, for_update: bool = False) -> Listing:
    listing = get_listing(session, user, listing_id, for_update=for_update)
    if user.role != Role.PRODUCER.value:
        raise PermissionDenied("Only the producer who published a listing can change it.")
    return listing


def _browse_filters(session: Session, user: User, stmt: Select[Any], *, status: str | None, material: str | None,
                    ubigeo: str | None) -> Select[Any]:
    """``stmt`` (over listings joined with their producer) narrowed to what ``user`` may see and asked for."""
    if user.role == Role.PRODUCER.value:
        stmt = stmt.where(Producer.user_id == user.id)
    elif user.role == Role.PARTNER.value:
        partner = my_partner(session, user)
        mine = select(Match.listing_id).where(Match.partner_id == partner.id)
        stmt = stmt.where(or_(Listing.status.in_(("open", "matched")), Listing.id.in_(mine)))
    if status is not None:
        if status not in {s.value for s in ListingStatus}:
            _bad_status(status)
        stmt = stmt.where(Listing.status == status)
    if material is not None:
        get_material(material)
        stmt = stmt.where(Listing.material == material)
    if ubigeo is not None:
        stmt = stmt.where(Listing.ubigeo == ubigeo)
    return stmt


NEWEST_FIRST = (Listing.created_at.desc(), Listing.id.desc())


def list_listings(
    session: Session,
    user: User,
    *,
    status: str | None,
    material: str | None,
    ubigeo: str | None,
    limit: int,
    offset: int,
) -> Page[Listing]:
    stmt = select(Listing).join(Producer).order_by(*NEWEST_FIRST)
    stmt = _browse_filters(session, user, stmt, status=status, material=material, ubigeo=ubigeo)
    return paginate(session, stmt, limit=limit, offset=offset)


def list_listing_rows(
    session: Session,
    user: User,
    *,
    status: str | None,
    material: str | None,
    ubigeo: str | None,
    limit: int,
    offset: int,
) -> Page[Row[Any]]:
    """``list_listings`` as plain rows (the API's browse page, its most frequent request: loading ORM objects
    cost about twice as much): every listing column, and the producer's ``producer_user_id``,
    ``producer_name``, ``producer_address``, ``producer_email`` and ``producer_phone``."""
    columns = (*Listing.__table__.columns, Producer.user_id.label("producer_user_id"),
               Producer.name.label("producer_name"), Producer.address.label("producer_address"),
               User.email.label("producer_email"), User.phone.label("producer_phone"))
    rows = (select(*columns).join(Producer, Listing.producer_id == Producer.id)
            .join(User, Producer.user_id == User.id).order_by(*NEWEST_FIRST))
    count = select(func.count()).select_from(
        _browse_filters(session, user, select(Listing.id).join(Producer, Listing.producer_id == Producer.id),
                        status=status, material=material, ubigeo=ubigeo).subquery())
    rows = _browse_filters(session, user, rows, status=status, material=material, ubigeo=ubigeo)
    return paginate_rows(session, rows, count=count, limit=limit, offset=offset)


def _bad_status(status: str) -> None:
    raise InvalidInput(
        f"Unknown status '{status}'. Use one of: {', '.join(s.value for s in ListingStatus)}.",
        details={"field": "status"},
    )


def update_listing(
    session: Session,
    user: User,
    listing_id: int,
    *,
    material: str | None,
    estimated_kg: Decimal | float | str | None,
    description: str | None,
    available_until: datetime | None,
) -> Listing:
    listing = my_listing(session, user, listing_id, for_update=True)
    if listing.status != ListingStatus.OPEN.value:
        check_listing_transition(listing.status, ListingStatus.OPEN)  # raises the 409 with the reason
    if material is not None:
        get_material(material)
        if not sellable(material):
            raise InvalidInput(f"'{material}' cannot be recovered or sold.", details={"field": "material"})
        if listing.predicted_material and material != listing.material:
            session.add(
                Feedback(
                    user_id=user.id,
                    kind="classification_correction",
                    listing_id=listing.id,
                    predicted_material=listing.predicted_material,
                    corrected_material=material,
                    confidence=listing.predicted_confidence,
                    model_version=listing.model_version,
                    photo_path=listing.photo_path,
                )
            )
        listing.material = material
    if estimated_kg is not None:
        listing.estimated_kg = to_kg(estimated_kg, field="estimated_kg")
    if description is not None:
        listing.description = description
    if available_until is not None:
        listing.available_from, listing.available_until = _window(listing.available_from, available_until)
    audit(session, actor=user, action="listing.updated", entity="listing", entity_id=listing.id)
    return listing


def attach_photo(
    session: Session,
    user: User,
    listing_id: int,
    *,
    data: bytes,
    content_type: str | None,
    limits: UploadSettings,
    media_dir: Path,
    classifier: Classifier | None = None,
) -> Listing:
    """Check the photo first, then write it; a bad photo writes nothing, and a transaction rolled back after
    the write removes the file. When the listing has no prediction yet and a classifier is loaded, the
    photo's predicted class and confidence are kept with the listing. A replaced photo's file is left on
    disk (never deleted before the new one is committed)."""
    listing = my_listing(session, user, listing_id, for_update=True)
    ext = media.check_image(data, content_type=content_type, limits=limits)
    if classifier is not None and listing.predicted_material is None:
        _predict_into(listing, classifier, data)
    listing.photo_path = media.store_photo(data, ext=ext, media_dir=media_dir)
    media.discard_on_rollback(session, listing.photo_path, media_dir=media_dir)
    session.flush()
    audit(session, actor=user, action="listing.photo", entity="listing", entity_id=listing.id)
    return listing


def _predict_into(listing: Listing, classifier: Classifier, data: bytes) -> None:
    """Keep the classifier's answer with the listing; a classifier that fails does not stop the upload."""
    try:
        prediction = classifier.predict(data)
    except (InvalidInput, PayloadTooLarge, UnsupportedMediaType):
        raise
    except Exception:  # noqa: BLE001 - a broken model must not cost the producer their photo
        log.exception("classifier failed on an uploaded photo; stored without a prediction")
        return
    listing.predicted_material, listing.predicted_confidence = prediction.material, prediction.confidence
    listing.model_version = prediction.model_version


def set_status(session: Session, listing: Listing, target: ListingStatus) -> None:
    check_listing_transition(listing.status, target)
    listing.status = target.value
    listing.updated_at = datetime.now(UTC)


def cancel_listing(session: Session, user: User, listing_id: int) -> Listing:
    from ayni.services.matches import release_active_matches

    listing = my_listing(session, user, listing_id, for_update=True)
    set_status(session, listing, ListingStatus.CANCELLED)
    release_active_matches(session, listing, reason="listing cancelled by the producer", actor=user)
    audit(session, actor=user, action="listing.cancelled", entity="listing", entity_id=listing.id)
    return listing


def close_listing(session: Session, user: User, listing_id: int) -> Listing:
    listing = my_listing(session, user, listing_id, for_update=True)
    set_status(session, listing, ListingStatus.CLOSED)
    audit(session, actor=user, action="listing.closed", entity="listing", entity_id=listing.id)
    return listing


def expire_listings(session: Session, *, now: datetime | None = None) -> int:
    from ayni.services.matches import release_active_matches

    now = now or datetime.now(UTC)
    rows = session.scalars(
        select(Listing)
        .where(Listing.status.in_(("open", "matched")), Listing.available_until < now)
        .with_for_update(of=Listing)
    ).all()
    for listing in rows:
        set_status(session, listing, ListingStatus.EXPIRED)
        release_active_matches(session, listing, reason="listing expired", actor=None)
        audit(session, actor=None, action="listing.expired", entity="listing", entity_id=listing.id)
    return len(rows)

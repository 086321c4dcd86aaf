"""Matches between a listing and a partner: request, accept (reserving capacity atomically), decline,
collect and cancel. Every change runs inside the caller's transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ayni.domain.lifecycle import ListingStatus, MatchStatus, Role, check_match_transition
from ayni.domain.materials import accepts
from ayni.domain.money import to_kg, value_cents
from ayni.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ayni.matching.impact import EmissionFactors, co2e_avoided
from ayni.observability import metrics
from ayni.observability._families import MatchEvent
from ayni.services._common import Page, audit, paginate
from ayni.services.listings import ACTIVE_MATCH, my_listing, set_status
from ayni.services.profiles import WEEKDAYS, get_partner, my_partner, my_producer
from ayni.storage.tables import CapacityReservation, Feedback, Listing, Match, Partner, PartnerMaterial, User


def offer_for(partner: Partner, material: str) -> PartnerMaterial | None:
    """The partner's price line covering ``material``: an exact one first, else its class."""
    exact = [m for m in partner.materials if m.material == material]
    covering = exact or [m for m in partner.materials if accepts(m.material, material)]
    return covering[0] if covering else None


def request_pickup(session: Session, user: User, listing_id: int, *, partner_id: int) -> Match:
    listing = my_listing(session, user, listing_id, for_update=True)
    if listing.status not in (ListingStatus.OPEN.value, ListingStatus.MATCHED.value):
        raise Conflict(f"A listing that is '{listing.status}' cannot receive new pickup requests.")
    partner = get_partner(session, partner_id)
    offer = offer_for(partner, listing.material)
    if offer is None:
        raise InvalidInput(f"{partner.name} does not take '{listing.material}'.", details={"field": "partner_id"})
    if listing.estimated_kg < offer.min_kg:
        raise InvalidInput(
            f"{partner.name} takes at least {offer.min_kg} kg of {offer.material}; "
            f"this listing has {listing.estimated_kg} kg.",
            details={"field": "partner_id"},
        )
    if session.scalar(select(Match.id).where(Match.listing_id == listing.id, Match.partner_id == partner.id)):
        raise Conflict(f"You already asked {partner.name} to collect this listing.")
    match = Match(
        listing_id=listing.id,
        partner_id=partner.id,
        status=MatchStatus.PROPOSED.value,
        material=offer.material,
        agreed_price_cents_per_kg=offer.price_cents_per_kg,
        reserved_kg=listing.estimated_kg,
    )
    session.add(match)
    if listing.status == ListingStatus.OPEN.value:
        set_status(session, listing, ListingStatus.MATCHED)
    session.flush()
    _event(session, match, "requested")
    audit(
        session,
        actor=user,
        action="match.requested",
        entity="match",
        entity_id=match.id,
        listing_id=listing.id,
        partner_id=partner.id,
    )
    return match


def get_match(session: Session, user: User, match_id: int, *, for_update: bool = False) -> Match:
    stmt = select(Match).where(Match.id == match_id)
    match = session.scalar(stmt.with_for_update(of=Match) if for_update else stmt)
    missing = NotFound(f"Match {match_id} does not exist or is not yours.")
    if match is None:
        raise missing
    if user.role in (Role.ADMIN.value, Role.ANALYST.value):
        return match
    if user.role == Role.PRODUCER.value and match.listing.producer.user_id == user.id:
        return match
    if user.role == Role.PARTNER.value and match.partner.user_id == user.id:
        return match
    raise missing


def _partners_match(session: Session, user: User, match_id: int) -> Match:
    match = get_match(session, user, match_id, for_update=True)
    if user.role != Role.PARTNER.value:
        raise PermissionDenied("Only the partner of a match can accept, decline or confirm it.")
    return match


def next_pickup_date(partner: Partner, listing: Listing, *, today: date | None = None) -> date:
    days = {WEEKDAYS.index(d) for d in partner.pickup_days.split(",") if d}
    start = max(today or datetime.now(UTC).date(), listing.available_from.date())
    for offset in range(14):
        day = start + timedelta(days=offset)
        if day.weekday() in days and day <= listing.available_until.date():
            return day
    raise Conflict(f"{partner.name} has no pickup day within the listing's availability window.")


def reserve_capacity(
    session: Session, *, partner_id: int, material: str, week: date, kg: Decimal, capacity: Decimal
) -> None:
    """Add ``kg`` to the week's reservation unless that would exceed ``capacity`` (one conditional update)."""
    values = {"partner_id": partner_id, "material": material, "week_start": week, "reserved_kg": Decimal(0)}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(pg_insert(CapacityReservation).values(**values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite_insert(CapacityReservation).values(**values).on_conflict_do_nothing())
    else:  # pragma: no cover - other backends are not supported
        session.execute(insert(CapacityReservation).values(**values))
    key = (
        CapacityReservation.partner_id == partner_id,
        CapacityReservation.material == material,
        CapacityReservation.week_start == week,
    )
    result = session.execute(
        update(CapacityReservation)
        .where(*key)
        .where(CapacityReservation.reserved_kg + kg <= capacity)
        .values(reserved_kg=CapacityReservation.reserved_kg + kg)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        left = capacity - (session.scalar(select(CapacityReservation.reserved_kg).where(*key)) or Decimal(0))
        raise Conflict(
            f"Not enough capacity left for {material} in the week of {week.isoformat()}: "
            f"{left} kg left, {kg} kg needed.",
            details={"capacity_left_kg": str(left)},
        )


def release_capacity(session: Session, match: Match) -> None:
    if match.reservation_week is None:
        return
    session.execute(
        update(CapacityReservation)
        .where(
            CapacityReservation.partner_id == match.partner_id,
            CapacityReservation.material == match.material,
            CapacityReservation.week_start == match.reservation_week,
        )
        .values(reserved_kg=CapacityReservation.reserved_kg - match.reserved_kg)
    )
    match.reservation_week = None


def accept(session: Session, user: User, match_id: int, *, pickup_date: date | None = None) -> Match:
    match = _partners_match(session, user, match_id)
    check_match_transition(match.status, MatchStatus.ACCEPTED)
    listing = session.scalar(select(Listing).where(Listing.id == match.listing_id).with_for_update(of=Listing))
    assert listing is not None
    offer = offer_for(match.partner, listing.material)
    if offer is None:
        raise Conflict(f"You no longer list a price for {listing.material}; update your materials first.")
    day = pickup_date or next_pickup_date(match.partner, listing)
    if not listing.available_from.date() <= day <= listing.available_until.date():
        raise InvalidInput(
            "The pickup date must fall within the listing's availability window.", details={"field": "pickup_date"}
        )
    week = day - timedelta(days=day.weekday())
    reserve_capacity(
        session,
        partner_id=match.partner_id,
        material=offer.material,
        week=week,
        kg=listing.estimated_kg,
        capacity=offer.weekly_capacity_kg,
    )
    match.status, match.accepted_at = MatchStatus.ACCEPTED.value, datetime.now(UTC)
    match.pickup_date, match.reservation_week, match.reserved_kg = day, week, listing.estimated_kg
    match.material = offer.material
    set_status(session, listing, ListingStatus.SCHEDULED)
    for other in session.scalars(
        select(Match).where(
            Match.listing_id == listing.id, Match.id != match.id, Match.status == MatchStatus.PROPOSED.value
        )
    ):
        other.status = MatchStatus.CANCELLED.value
        audit(session, actor=user, action="match.cancelled", entity="match", entity_id=other.id,
              reason=f"another partner's match {match.id} was accepted")
    _event(session, match, "accepted")
    audit(session, actor=user, action="match.accepted", entity="match", entity_id=match.id, pickup=day.isoformat())
    return match


def decline(session: Session, user: User, match_id: int, *, reason: str | None = None) -> Match:
    match = _partners_match(session, user, match_id)
    check_match_transition(match.status, MatchStatus.DECLINED)
    match.status, match.decline_reason = MatchStatus.DECLINED.value, reason
    _reopen_if_orphan(session, match.listing)
    _event(session, match, "declined")
    audit(session, actor=user, action="match.declined", entity="match", entity_id=match.id)
    return match


def collect(
    session: Session, user: User, match_id: int, *, weighed_kg: Decimal | float | str, paid_cents: int | None = None,
    factors: EmissionFactors | None,
) -> Match:
    """Record the weighed kg and the payment; ``factors`` (the app's WARM factors, ``None`` without the reference
    data) give the CO2e avoided counted in the metrics."""
    match = _partners_match(session, user, match_id)
    check_match_transition(match.status, MatchStatus.COLLECTED)
    kg = to_kg(weighed_kg, field="weighed_kg")
    if paid_cents is not None and not 0 <= paid_cents <= 100_000_000:
        raise InvalidInput(
            "paid_cents must be between 0 and 100,000,000 (S/ 1,000,000).", details={"field": "paid_cents"}
        )
    paid = value_cents(kg=kg, cents_per_kg=match.agreed_price_cents_per_kg) if paid_cents is None else paid_cents
    match.status, match.weighed_kg, match.paid_cents = MatchStatus.COLLECTED.value, kg, paid
    match.collected_at = datetime.now(UTC)
    set_status(session, match.listing, ListingStatus.COLLECTED)
    session.add(
        Feedback(
            user_id=user.id,
            kind="collection_outcome",
            listing_id=match.listing_id,
            match_id=match.id,
            predicted_material=match.listing.predicted_material,
            corrected_material=match.listing.material,
            model_version=match.listing.model_version,
            payload={
                "estimated_kg": str(match.listing.estimated_kg),
                "weighed_kg": str(kg),
                "paid_cents": paid,
                "price_cents_per_kg": match.agreed_price_cents_per_kg,
            },
        )
    )
    _event(session, match, "collected", kg=kg, paid_cents=paid, factors=factors)
    audit(
        session,
        actor=user,
        action="match.collected",
        entity="match",
        entity_id=match.id,
        weighed_kg=str(kg),
        paid_cents=paid,
    )
    return match


def cancel(session: Session, user: User, match_id: int) -> Match:
    match = get_match(session, user, match_id, for_update=True)
    if user.role not in (Role.PRODUCER.value, Role.PARTNER.value):
        raise PermissionDenied("Only the producer or the partner of a match can cancel it.")
    check_match_transition(match.status, MatchStatus.CANCELLED)
    was_accepted = match.status == MatchStatus.ACCEPTED.value
    match.status = MatchStatus.CANCELLED.value
    release_capacity(session, match)
    if was_accepted:
        set_status(session, match.listing, ListingStatus.OPEN)
    else:
        _reopen_if_orphan(session, match.listing)
    _event(session, match, "cancelled")
    audit(session, actor=user, action="match.cancelled", entity="match", entity_id=match.id)
    return match


def _reopen_if_orphan(session: Session, listing: Listing) -> None:
    session.flush()
    active = session.scalar(select(Match.id).where(Match.listing_id == listing.id, Match.status.in_(ACTIVE_MATCH)))
    if active is None and listing.status == ListingStatus.MATCHED.value:
        set_status(session, listing, ListingStatus.OPEN)


def release_active_matches(session: Session, listing: Listing, *, reason: str, actor: User | None) -> None:
    """Cancel the listing's open matches and give back their capacity; ``actor`` is ``None`` for the system."""
    for match in session.scalars(select(Match).where(Match.listing_id == listing.id, Match.status.in_(ACTIVE_MATCH))):
        release_capacity(session, match)
        match.status, match.decline_reason = MatchStatus.CANCELLED.value, reason
        audit(session, actor=actor, action="match.cancelled", entity="match", entity_id=match.id, reason=reason)


def list_matches(session: Session, user: User, *, status: str | None, limit: int, offset: int) -> Page[Match]:
    stmt = select(Match).order_by(Match.created_at.desc(), Match.id.desc())
    if user.role == Role.PRODUCER.value:
        producer = my_producer(session, user)
        stmt = stmt.join(Listing).where(Listing.producer_id == producer.id)
    elif user.role == Role.PARTNER.value:
        stmt = stmt.where(Match.partner_id == my_partner(session, user).id)
    if status is not None:
        if status not in {s.value for s in MatchStatus}:
            raise InvalidInput(f"Unknown match status '{status}'.", details={"field": "status"})
        stmt = stmt.where(Match.status == status)
    return paginate(session, stmt, limit=limit, offset=offset)


def contact_visible(session: Session, user: User, listing: Listing) -> bool:
    """A partner sees a producer's contact only once one of its matches with the listing is accepted."""
    return listing.id in contacts_visible(session, user, [listing])


def contacts_visible(session: Session, user: User, listings: list[Listing]) -> set[int]:
    """The ids, among ``listings``, whose producer contact ``user`` may see — with at most two queries."""
    return contacts_visible_by_owner(session, user, [(x.id, x.producer.user_id) for x in listings])


def contacts_visible_by_owner(session: Session, user: User, listings: list[tuple[int, int]]) -> set[int]:
    """``contacts_visible`` for (listing id, the producer's user id) pairs (rows, not ORM objects)."""
    if user.role == Role.ADMIN.value:
        return {listing_id for listing_id, _ in listings}
    if user.role == Role.PRODUCER.value:
        return {listing_id for listing_id, owner in listings if owner == user.id}
    if user.role != Role.PARTNER.value or not listings:
        return set()
    partner = my_partner(session, user)
    return set(session.scalars(select(Match.listing_id).where(
        Match.listing_id.in_([listing_id for listing_id, _ in listings]), Match.partner_id == partner.id,
        Match.status.in_((MatchStatus.ACCEPTED.value, MatchStatus.COLLECTED.value)))))


def _event(session: Session, match: Match, event: MatchEvent, *, kg: Decimal | None = None,
           paid_cents: int | None = None, factors: EmissionFactors | None = None) -> None:
    """Count the change in the business metrics once the transaction commits."""
    material, ubigeo = match.listing.material, match.listing.ubigeo

    def record() -> None:
        metrics.record_match_event(event=event, material=material, ubigeo=ubigeo)
        if kg is not None:
            metrics.record_collection(material=material, ubigeo=ubigeo, kg=float(kg), paid_cents=paid_cents or 0,
                                      co2e_kg=_co2e(material, kg, factors))

    metrics.on_commit(session, record)


def _co2e(material: str, kg: Decimal, factors: EmissionFactors | None) -> float | None:
    effect = co2e_avoided(material=material, kg=kg, factors=factors) if factors else None
    return effect.co2e_avoided_kg if effect else None

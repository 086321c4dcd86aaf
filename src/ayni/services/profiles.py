"""Producer and partner profiles."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ayni.domain.geo import validate_in_peru
from ayni.domain.lifecycle import PartnerKind, ProducerKind, Role
from ayni.domain.materials import get_material
from ayni.domain.money import to_kg, validate_price_cents
from ayni.errors import Conflict, InvalidInput, NotFound
from ayni.services._common import Page, audit, paginate, require_role
from ayni.storage.tables import District, Partner, PartnerMaterial, Producer, User

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class MaterialOffer:
    material: str
    price_cents_per_kg: int
    min_kg: Decimal
    weekly_capacity_kg: Decimal


def get_district(session: Session, ubigeo: str) -> District:
    district = session.get(District, ubigeo)
    if district is None:
        raise InvalidInput(
            f"Unknown district UBIGEO '{ubigeo}'. Look it up at /v1/districts?q=name.", details={"field": "ubigeo"}
        )
    return district


def _location(session: Session, ubigeo: str, lat: float | None, lon: float | None) -> tuple[float, float]:
    district = get_district(session, ubigeo)
    if lat is None or lon is None:
        if district.latitude is None or district.longitude is None:
            raise InvalidInput(
                f"District {ubigeo} has no known coordinates; give latitude and longitude.",
                details={"field": "lat/lon"},
            )
        return district.latitude, district.longitude
    point = validate_in_peru(lat, lon)
    return point.lat, point.lon


def create_producer(
    session: Session,
    user: User,
    *,
    name: str,
    kind: ProducerKind,
    ubigeo: str,
    lat: float | None,
    lon: float | None,
    address: str | None,
) -> Producer:
    require_role(user, Role.PRODUCER)
    if session.scalar(select(Producer.id).where(Producer.user_id == user.id)) is not None:
        raise Conflict("You already have a producer profile; change it with PATCH /v1/producers/me.")
    lat, lon = _location(session, ubigeo, lat, lon)
    producer = Producer(
        user_id=user.id,
        name=name.strip() or user.display_name,
        kind=kind.value,
        ubigeo=ubigeo,
        latitude=lat,
        longitude=lon,
        address=address,
    )
    session.add(producer)
    session.flush()
    audit(session, actor=user, action="producer.created", entity="producer", entity_id=producer.id)
    return producer


def my_producer(session: Session, user: User) -> Producer:
    require_role(user, Role.PRODUCER)
    producer = session.scalar(select(Producer).where(Producer.user_id == user.id))
    if producer is None:
        raise NotFound("You have no producer profile yet; create it with POST /v1/producers.")
    return producer


def update_producer(
    session: Session,
    user: User,
    *,
    name: str | None,
    kind: ProducerKind | None,
    ubigeo: str | None,
    lat: float | None,
    lon: float | None,
    address: str | None,
) -> Producer:
    producer = my_producer(session, user)
    if ubigeo is not None or lat is not None or lon is not None:
        producer.latitude, producer.longitude = _location(session, ubigeo or producer.ubigeo, lat, lon)
        producer.ubigeo = ubigeo or producer.ubigeo
    if name is not None:
        producer.name = name.strip()
    if kind is not None:
        producer.kind = kind.value
    if address is not None:
        producer.address = address
    audit(session, actor=user, action="producer.updated", entity="producer", entity_id=producer.id)
    return producer


def get_producer(session: Session, producer_id: int) -> Producer:
    producer = session.get(Producer, producer_id)
    if producer is None:
        raise NotFound(f"Producer {producer_id} does not exist.")
    return producer


def _pickup_days(days: list[str]) -> str:
    cleaned = [d.strip().lower()[:3] for d in days]
    bad = [d for d in cleaned if d not in WEEKDAYS]
    if bad or not cleaned:
        raise InvalidInput(
            f"Pickup days must be among {', '.join(WEEKDAYS)} (got {', '.join(days) or 'none'}).",
            details={"field": "pickup_days"},
        )
    return ",".join(d for d in WEEKDAYS if d in cleaned)


def _offers(offers: list[MaterialOffer]) -> list[PartnerMaterial]:
    seen: set[str] = set()
    rows = []
    for offer in offers:
        get_material(offer.material)
        if offer.material in seen:
            raise InvalidInput(f"Material '{offer.material}' is listed twice.", details={"field": "materials"})
        seen.add(offer.material)
        rows.append(
            PartnerMaterial(
                material=offer.material,
                price_cents_per_kg=validate_price_cents(offer.price_cents_per_kg),
                min_kg=to_kg(offer.min_kg, field="min_kg", allow_zero=True),
                weekly_capacity_kg=to_kg(offer.weekly_capacity_kg, field="weekly_capacity_kg"),
            )
        )
    return rows


def _radius(radius_km: float) -> float:
    if not 0.1 <= radius_km <= 300:
        raise InvalidInput("The service radius must be between 0.1 and 300 km.", details={"field": "service_radius_km"})
    return radius_km


def create_partner(
    session: Session,
    user: User,
    *,
    name: str,
    kind: PartnerKind,
    ubigeo: str,
    lat: float | None,
    lon: float | None,
    service_radius_km: float,
    pickup_days: list[str],
    materials: list[MaterialOffer],
    description: str | None = None,
) -> Partner:
    require_role(user, Role.PARTNER)
    if session.scalar(select(Partner.id).where(Partner.user_id == user.id)) is not None:
        raise Conflict("You already have a partner profile; change it with PATCH /v1/partners/me.")
    lat, lon = _location(session, ubigeo, lat, lon)
    partner = Partner(
        user_id=user.id,
        name=name.strip() or user.display_name,
        kind=kind.value,
        ubigeo=ubigeo,
        latitude=lat,
        longitude=lon,
        service_radius_km=_radius(service_radius_km),
        pickup_days=_pickup_days(pickup_days),
        description=description,
    )
    partner.materials = _offers(materials)
    session.add(partner)
    session.flush()
    audit(session, actor=user, action="partner.created", entity="partner", entity_id=partner.id)
    return partner


def my_partner(session: Session, user: User) -> Partner:
    require_role(user, Role.PARTNER)
    partner = session.scalar(select(Partner).where(Partner.user_id == user.id))
    if partner is None:
        raise NotFound("You have no partner profile yet; create it with POST /v1/partners.")
    return partner


def update_partner(
    session: Session,
    user: User,
    *,
    name: str | None = None,
    ubigeo: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    service_radius_km: float | None = None,
    pickup_days: list[str] | None = None,
    materials: list[MaterialOffer] | None = None,
    description: str | None = None,
) -> Partner:
    partner = my_partner(session, user)
    if ubigeo is not None or lat is not None or lon is not None:
        partner.latitude, partner.longitude = _location(session, ubigeo or partner.ubigeo or "", lat, lon)
        partner.ubigeo = ubigeo or partner.ubigeo
    if name is not None:
        partner.name = name.strip()
    if service_radius_km is not None:
        partner.service_radius_km = _radius(service_radius_km)
    if pickup_days is not None:
        partner.pickup_days = _pickup_days(pickup_days)
    if materials is not None:
        partner.materials = _offers(materials)
    if description is not None:
        partner.description = description
    session.flush()
    audit(session, actor=user, action="partner.updated", entity="partner", entity_id=partner.id)
    return partner


def get_partner(session: Session, partner_id: int) -> Partner:
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(f"Partner {partner_id} does not exist.")
    return partner


def list_partners(
    session: Session, *, material: str | None, ubigeo: str | None, limit: int, offset: int
) -> Page[Partner]:
    stmt = select(Partner).order_by(Partner.id)
    if material is not None:
        get_material(material)
        stmt = stmt.where(Partner.materials.any(PartnerMaterial.material == material))
    if ubigeo is not None:
        stmt = stmt.where(Partner.ubigeo == ubigeo)
    return paginate(session, stmt, limit=limit, offset=offset)

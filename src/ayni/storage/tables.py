"""Tables. API shapes live in ``ayni.api.schemas``; routes never return these objects."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


KG = Numeric(12, 3)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), index=True)
    display_name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(5), default="es")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (CheckConstraint("role in ('producer','partner','admin','analyst')", name="role"),)


class AuthToken(Base):
    __tablename__ = "auth_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="bearer")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class District(Base):
    __tablename__ = "districts"
    ubigeo: Mapped[str] = mapped_column(String(6), primary_key=True)
    departamento: Mapped[str] = mapped_column(String(64), index=True)
    provincia: Mapped[str] = mapped_column(String(64), index=True)
    distrito: Mapped[str] = mapped_column(String(96), index=True)
    region_natural: Mapped[str | None] = mapped_column(String(16))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    pop_total: Mapped[int | None] = mapped_column(BigInteger)
    pop_urban: Mapped[int | None] = mapped_column(BigInteger)
    in_minam_2023: Mapped[bool] = mapped_column(Boolean, default=True)


class WasteGeneration(Base):
    __tablename__ = "waste_generation"
    ubigeo: Mapped[str] = mapped_column(ForeignKey("districts.ubigeo"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    pop_urban: Mapped[int | None] = mapped_column(BigInteger)
    gpc_dom_kg_hab_day: Mapped[float | None] = mapped_column(Float)
    dom_t_year: Mapped[float | None] = mapped_column(Float)
    non_dom_t_year: Mapped[float | None] = mapped_column(Float)
    mun_t_year: Mapped[float | None] = mapped_column(Float)
    qa_flags: Mapped[str | None] = mapped_column(String(200))


class WasteComposition(Base):
    __tablename__ = "waste_composition"
    ubigeo: Mapped[str] = mapped_column(ForeignKey("districts.ubigeo"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    material: Mapped[str] = mapped_column(String(32), primary_key=True)
    t_year: Mapped[float] = mapped_column(Float)


class Producer(Base):
    __tablename__ = "producers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    ubigeo: Mapped[str] = mapped_column(ForeignKey("districts.ubigeo"), index=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class Partner(Base):
    __tablename__ = "partners"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(32))
    ubigeo: Mapped[str | None] = mapped_column(ForeignKey("districts.ubigeo"), index=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    service_radius_km: Mapped[float] = mapped_column(Float)
    pickup_days: Mapped[str] = mapped_column(String(40))  # "mon,wed,fri"
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    materials: Mapped[list[PartnerMaterial]] = relationship(
        back_populates="partner", cascade="all, delete-orphan", lazy="selectin", order_by="PartnerMaterial.material"
    )


class PartnerMaterial(Base):
    __tablename__ = "partner_materials"
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True)
    material: Mapped[str] = mapped_column(String(32), primary_key=True)
    price_cents_per_kg: Mapped[int] = mapped_column(Integer)
    min_kg: Mapped[Decimal] = mapped_column(KG)
    weekly_capacity_kg: Mapped[Decimal] = mapped_column(KG)
    partner: Mapped[Partner] = relationship(back_populates="materials")
    __table_args__ = (
        CheckConstraint("price_cents_per_kg >= 0", name="price_nonneg"),
        CheckConstraint("min_kg >= 0", name="min_nonneg"),
        CheckConstraint("weekly_capacity_kg > 0", name="capacity_pos"),
    )


class CapacityReservation(Base):
    """kg of a partner's weekly capacity for a material already promised to accepted matches."""

    __tablename__ = "capacity_reservations"
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True)
    material: Mapped[str] = mapped_column(String(32), primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    reserved_kg: Mapped[Decimal] = mapped_column(KG, default=Decimal(0))
    __table_args__ = (CheckConstraint("reserved_kg >= 0", name="reserved_nonneg"),)


class Listing(Base):
    __tablename__ = "listings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    producer_id: Mapped[int] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"), index=True)
    material: Mapped[str] = mapped_column(String(32), index=True)
    estimated_kg: Mapped[Decimal] = mapped_column(KG)
    description: Mapped[str | None] = mapped_column(String(500))
    photo_path: Mapped[str | None] = mapped_column(String(200))
    predicted_material: Mapped[str | None] = mapped_column(String(32))
    predicted_confidence: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(64))
    available_from: Mapped[datetime] = mapped_column(UTCDateTime)
    available_until: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    ubigeo: Mapped[str] = mapped_column(ForeignKey("districts.ubigeo"), index=True)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    producer: Mapped[Producer] = relationship(lazy="joined", innerjoin=True)
    __table_args__ = (
        CheckConstraint("estimated_kg > 0", name="kg_pos"),
        CheckConstraint("available_until > available_from", name="window"),
        Index("ix_listings_status_ubigeo", "status", "ubigeo"),
        # a producer's listings, newest first (the browse page's order): no sort of all of them per page
        Index("ix_listings_producer_created", "producer_id", "created_at", "id"),
    )


class Match(Base):
    __tablename__ = "matches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="proposed", index=True)
    material: Mapped[str] = mapped_column(String(32))
    agreed_price_cents_per_kg: Mapped[int] = mapped_column(Integer)
    reserved_kg: Mapped[Decimal] = mapped_column(KG)
    reservation_week: Mapped[date | None] = mapped_column(Date)
    pickup_date: Mapped[date | None] = mapped_column(Date)
    weighed_kg: Mapped[Decimal | None] = mapped_column(KG)
    paid_cents: Mapped[int | None] = mapped_column(Integer)
    decline_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    listing: Mapped[Listing] = relationship(lazy="joined", innerjoin=True)
    partner: Mapped[Partner] = relationship(lazy="joined", innerjoin=True)
    __table_args__ = (
        UniqueConstraint("listing_id", "partner_id", name="uq_matches_listing_partner"),
        CheckConstraint("paid_cents is null or paid_cents >= 0", name="paid_nonneg"),
    )


class Feedback(Base):
    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)  # classification_correction | collection_outcome
    listing_id: Mapped[int | None] = mapped_column(ForeignKey("listings.id", ondelete="SET NULL"), index=True)
    match_id: Mapped[int | None] = mapped_column(ForeignKey("matches.id", ondelete="SET NULL"))
    predicted_material: Mapped[str | None] = mapped_column(String(32))
    corrected_material: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(64))
    photo_path: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyKey(Base):
    """The response to a request sent with an ``Idempotency-Key``, replayed when the same user sends the
    same key again (a retry after a time-out must not create a second listing or a second payment)."""

    __tablename__ = "idempotency_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request: Mapped[str] = mapped_column(String(200))  # "POST /v1/listings"
    request_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the request body
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),)

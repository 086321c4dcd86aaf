from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field, field_validator

from ayni.api.schemas.common import ORM
from ayni.domain.lifecycle import PartnerKind, ProducerKind


class ProducerCreate(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    kind: ProducerKind = ProducerKind.HOUSEHOLD
    ubigeo: str = Field(pattern=r"^\d{6}$", examples=["140101"])
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = Field(default=None, max_length=200)


class ProducerUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    kind: ProducerKind | None = None
    ubigeo: str | None = Field(default=None, pattern=r"^\d{6}$")
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = Field(default=None, max_length=200)


class ProducerPublic(ORM):
    id: int
    name: str
    kind: str
    ubigeo: str
    latitude: float
    longitude: float
    created_at: datetime


class Contact(BaseModel):
    name: str
    email: str
    phone: str | None
    address: str | None = None


class ProducerPrivate(ProducerPublic):
    address: str | None


class MaterialOfferIn(BaseModel):
    material: str = Field(examples=["PET"])
    price_cents_per_kg: int = Field(ge=0, le=100_000, description="céntimos of PEN per kg")
    min_kg: Decimal = Field(default=Decimal(0), ge=0, le=20_000)
    weekly_capacity_kg: Decimal = Field(gt=0, le=20_000_000)


class MaterialOfferPublic(ORM):
    material: str
    price_cents_per_kg: int
    min_kg: Decimal
    weekly_capacity_kg: Decimal


class PartnerCreate(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    kind: PartnerKind
    ubigeo: str = Field(pattern=r"^\d{6}$")
    latitude: float | None = None
    longitude: float | None = None
    service_radius_km: float = Field(gt=0, le=300)
    pickup_days: list[str] = Field(min_length=1, max_length=7, examples=[["mon", "thu"]])
    materials: list[MaterialOfferIn] = Field(min_length=1, max_length=60)
    description: str | None = Field(default=None, max_length=2000)


class PartnerUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    ubigeo: str | None = Field(default=None, pattern=r"^\d{6}$")
    latitude: float | None = None
    longitude: float | None = None
    service_radius_km: float | None = Field(default=None, gt=0, le=300)
    pickup_days: list[str] | None = Field(default=None, min_length=1, max_length=7)
    materials: list[MaterialOfferIn] | None = Field(default=None, min_length=1, max_length=60)
    description: str | None = Field(default=None, max_length=2000)


class PartnerPublic(ORM):
    id: int
    name: str
    kind: str
    ubigeo: str | None
    latitude: float
    longitude: float
    service_radius_km: float
    pickup_days: list[str]
    description: str | None
    materials: list[MaterialOfferPublic]

    @field_validator("pickup_days", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return value.split(",") if isinstance(value, str) else value

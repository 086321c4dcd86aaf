from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from ayni.api.schemas.common import ORM
from ayni.api.schemas.profiles import Contact


class ListingCreate(BaseModel):
    material: str = Field(max_length=32, examples=["PET"])
    estimated_kg: Decimal = Field(examples=["12.5"])
    available_from: datetime | None = None
    available_until: datetime | None = None
    description: str | None = Field(default=None, max_length=500)
    predicted_material: str | None = Field(default=None, max_length=32)
    predicted_confidence: float | None = None
    model_version: str | None = Field(default=None, max_length=64)


class ListingUpdate(BaseModel):
    material: str | None = Field(default=None, max_length=32)
    estimated_kg: Decimal | None = None
    description: str | None = Field(default=None, max_length=500)
    available_until: datetime | None = None


class ListingPublic(ORM):
    id: int
    producer_id: int
    material: str
    estimated_kg: Decimal
    description: str | None
    has_photo: bool = False
    predicted_material: str | None
    predicted_confidence: float | None
    model_version: str | None
    available_from: datetime
    available_until: datetime
    status: str
    ubigeo: str
    latitude: float
    longitude: float
    created_at: datetime
    updated_at: datetime
    producer_contact: Contact | None = None

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from ayni.api.schemas.common import ORM


class MatchCreate(BaseModel):
    partner_id: int = Field(ge=1)


class AcceptRequest(BaseModel):
    pickup_date: date | None = None


class DeclineRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=200)


class CollectRequest(BaseModel):
    weighed_kg: Decimal
    paid_cents: int | None = Field(default=None, ge=0, le=100_000_000)


class MatchPublic(ORM):
    id: int
    listing_id: int
    partner_id: int
    status: str
    material: str
    agreed_price_cents_per_kg: int
    reserved_kg: Decimal
    pickup_date: date | None
    weighed_kg: Decimal | None
    paid_cents: int | None
    decline_reason: str | None
    created_at: datetime
    accepted_at: datetime | None
    collected_at: datetime | None

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from ayni.api.schemas.listings import ListingPublic


class ExplanationPublic(BaseModel):
    reasons: list[str]
    text_es: str
    text_en: str
    fields: dict[str, Any]


class ScoredBy(BaseModel):
    """The acceptance model behind ``p_accept``: ``rule`` (cold-start fallback) or ``ranker`` + its version."""

    model: Literal["rule", "ranker"]
    version: int | None = None


class RecommendationPublic(BaseModel):
    rank: int
    partner_id: int
    partner_name: str
    partner_kind: str
    material: str
    distance_km: float
    price_cents_per_kg: int
    kg: Decimal
    pickup_date: date
    p_accept: float
    p_source: str
    scored_by: ScoredBy
    gross_cents: int
    transport_cents: int
    expected_net_cents: int
    explanation: ExplanationPublic


class OpportunityPublic(BaseModel):
    listing: ListingPublic
    distance_km: float
    price_cents_per_kg: int
    pickup_date: date
    p_accept: float
    scored_by: ScoredBy
    expected_net_cents: int


class AllocationRequest(BaseModel):
    region: str = Field(pattern=r"^\d{2}(\d{2}(\d{2})?)?$", examples=["1401"])
    apply: bool = False
    time_limit_s: float = Field(10.0, gt=0, le=120)


class AllocationMethod(BaseModel):
    method: str
    assigned: int
    kg_placed: Decimal
    total_expected_net_cents: int
    capacity_violations: int
    status: str
    bound_cents: int | None
    seconds: float


class AllocationPublic(BaseModel):
    region: str
    listings: int
    partners: int
    arcs: int
    methods: list[AllocationMethod]
    proposed_matches: int


class RouteStop(BaseModel):
    order: int
    trip: int
    listing_id: int
    match_id: int
    latitude: float
    longitude: float
    kg: Decimal
    maps_url: str


class RoutePublic(BaseModel):
    date: date
    depot_latitude: float
    depot_longitude: float
    distance_km: float
    duration_min: float
    stops: list[RouteStop]
    unroutable_listing_ids: list[int]


class ImpactMaterial(BaseModel):
    material: str
    kg_collected: Decimal
    soles_paid_cents: int
    co2e_avoided_kg: float | None
    collections: int


class ImpactPublic(BaseModel):
    scope: str
    kg_collected: Decimal
    soles_paid_cents: int
    expected_cents_pending: int
    co2e_avoided_kg: float | None
    collections: int
    by_material: list[ImpactMaterial]
    caveat: str

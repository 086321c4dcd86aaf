"""The engine's inputs and outputs: plain frozen dataclasses, no database, no I/O.

Conventions: money is integer céntimos of PEN, kilograms are ``Decimal`` (gram precision, as in
``ayni.domain.money``), distances are great-circle kilometres, weekdays are ``date.weekday()``
integers (0 = Monday … 6 = Sunday). Identifiers are the integers the storage layer assigns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ayni.domain.lifecycle import PartnerKind, ProducerKind
from ayni.domain.materials import accepts


@dataclass(frozen=True, slots=True)
class MaterialOffer:
    """What a partner pays for one material (a class such as ``plastic`` or a sub-material such as ``PET``)."""

    material: str
    price_cents_per_kg: int
    min_kg: Decimal
    weekly_capacity_kg: Decimal
    capacity_left_kg: Decimal

    @property
    def fill_rate(self) -> float:
        """Share of this week's capacity already reserved (0 = empty, 1 = full)."""
        if self.weekly_capacity_kg <= 0:
            return 1.0
        return float(1 - self.capacity_left_kg / self.weekly_capacity_kg)


@dataclass(frozen=True, slots=True)
class PartnerOffer:
    """A partner as the engine sees it: where it is, how far it goes, when it collects, what it pays."""

    partner_id: int
    kind: PartnerKind
    lat: float
    lon: float
    radius_km: float
    pickup_weekdays: frozenset[int]
    materials: tuple[MaterialOffer, ...]
    name: str = ""

    def offer_for(self, listing_material: str) -> MaterialOffer | None:
        """The offer covering ``listing_material``: an exact sub-material price wins over its class price."""
        best: MaterialOffer | None = None
        for offer in self.materials:
            if offer.material == listing_material:
                return offer
            if best is None and accepts(offer.material, listing_material):
                best = offer
        return best

    @property
    def fill_rate(self) -> float:
        """Capacity-weighted share of the week's capacity already reserved, over all materials."""
        total = sum((o.weekly_capacity_kg for o in self.materials), Decimal(0))
        left = sum((o.capacity_left_kg for o in self.materials), Decimal(0))
        return float(1 - left / total) if total > 0 else 1.0


@dataclass(frozen=True, slots=True)
class ListingInput:
    """An open listing: what, how much, where, and between which dates it can be collected."""

    listing_id: int
    producer_id: int
    material: str
    kg: Decimal
    lat: float
    lon: float
    available_from: date
    available_until: date
    created_at: datetime
    photo_confidence: float | None = None
    producer_kind: ProducerKind = ProducerKind.HOUSEHOLD


@dataclass(frozen=True, slots=True)
class Candidate:
    """A partner that can take a listing, with the facts the scorer needs."""

    listing_id: int
    partner_id: int
    offer_material: str
    distance_km: float
    price_cents_per_kg: int
    kg: Decimal
    gross_cents: int
    pickup_date: date
    capacity_left_kg: Decimal
    partner_kind: PartnerKind
    radius_km: float
    min_kg: Decimal
    offer_fill_rate: float


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a partner is recommended: structured fields for the UI plus one sentence in es and en."""

    reasons: tuple[str, ...]
    text_es: str
    text_en: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A scored candidate. ``expected_net_cents = round(p_accept × gross) − transport``."""

    rank: int
    candidate: Candidate
    p_accept: float
    p_source: str  # "model" (learnt) or "rule" (cold start)
    transport_cents: int
    expected_net_cents: int
    explanation: Explanation

    @property
    def partner_id(self) -> int:
        return self.candidate.partner_id

    @property
    def listing_id(self) -> int:
        return self.candidate.listing_id

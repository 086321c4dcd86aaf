"""Factories for the matching engine's inputs: sensible defaults, override what a test is about."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from ayni.domain.lifecycle import PartnerKind, ProducerKind
from ayni.matching.entities import ListingInput, MaterialOffer, PartnerOffer

LIMA = (-12.0464, -77.0428)
MONDAY = date(2026, 3, 2)


def offer(material: str = "PET", *, price: int = 120, min_kg: str = "1", capacity: str = "500",
          left: str | None = None) -> MaterialOffer:
    return MaterialOffer(material, price, Decimal(min_kg), Decimal(capacity), Decimal(left or capacity))


def partner(partner_id: int = 1, *, lat: float = LIMA[0], lon: float = LIMA[1], radius_km: float = 10.0,
            kind: PartnerKind = PartnerKind.RECYCLER, weekdays: frozenset[int] = frozenset(range(6)),
            offers: tuple[MaterialOffer, ...] | None = None) -> PartnerOffer:
    return PartnerOffer(partner_id, kind, lat, lon, radius_km, weekdays, offers or (offer(),))


def listing(listing_id: int = 1, *, material: str = "PET", kg: str = "10", lat: float = LIMA[0] + 0.01,
            lon: float = LIMA[1], start: date = MONDAY, end: date | None = None, producer_id: int = 1,
            confidence: float | None = 0.9, created: datetime | None = None) -> ListingInput:
    return ListingInput(listing_id, producer_id, material, Decimal(kg), lat, lon, start, end or start.replace(
        day=start.day + 6), created or datetime(2026, 3, 1, 9), confidence, ProducerKind.HOUSEHOLD)

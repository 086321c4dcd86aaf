"""Which partners can take a listing, and which listings a partner can take.

Five rules, each able to exclude a pair on its own: the partner buys the material (``accepts``: a
class price covers its sub-materials), has that much weekly capacity left, serves the place
(great-circle distance within its radius), the listing meets its minimum quantity, and one of its
pickup weekdays falls inside the listing's availability window (from ``not_before`` on, if given).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from ayni.domain.geo import Point, haversine_km
from ayni.domain.money import value_cents
from ayni.matching.entities import Candidate, ListingInput, MaterialOffer, PartnerOffer
from ayni.matching.index import ListingIndex, PartnerIndex


class Exclusion(StrEnum):
    MATERIAL = "material_not_accepted"
    CAPACITY = "capacity_exhausted"
    DISTANCE = "outside_service_area"
    MIN_QUANTITY = "below_minimum_quantity"
    PICKUP_DAY = "no_pickup_day_in_window"


@dataclass(frozen=True, slots=True)
class Eligibility:
    candidate: Candidate | None
    excluded_by: Exclusion | None


def first_pickup_date(*, window_start: date, window_end: date, weekdays: frozenset[int]) -> date | None:
    """The first date in [window_start, window_end] whose weekday the partner collects on."""
    if not weekdays or window_end < window_start:
        return None
    for offset in range(min(7, (window_end - window_start).days + 1)):
        day = window_start + timedelta(days=offset)
        if day.weekday() in weekdays:
            return day
    return None


def check_pair(
    listing: ListingInput,
    partner: PartnerOffer,
    *,
    distance_km: float | None = None,
    not_before: date | None = None,
) -> Eligibility:
    """Whether ``partner`` can take ``listing``, and if not, the first rule that excludes it."""
    offer = partner.offer_for(listing.material)
    if offer is None:
        return Eligibility(None, Exclusion.MATERIAL)
    if offer.capacity_left_kg < listing.kg:
        return Eligibility(None, Exclusion.CAPACITY)
    if distance_km is None:
        distance_km = haversine_km(Point(listing.lat, listing.lon), Point(partner.lat, partner.lon))
    if distance_km > partner.radius_km:
        return Eligibility(None, Exclusion.DISTANCE)
    if listing.kg < offer.min_kg:
        return Eligibility(None, Exclusion.MIN_QUANTITY)
    start = max(listing.available_from, not_before) if not_before else listing.available_from
    pickup = first_pickup_date(window_start=start, window_end=listing.available_until,
                               weekdays=partner.pickup_weekdays)
    if pickup is None:
        return Eligibility(None, Exclusion.PICKUP_DAY)
    return Eligibility(_candidate(listing, partner, offer, distance_km, pickup), None)


def _candidate(listing: ListingInput, partner: PartnerOffer, offer: MaterialOffer,
               distance_km: float, pickup: date) -> Candidate:
    return Candidate(
        listing_id=listing.listing_id,
        partner_id=partner.partner_id,
        offer_material=offer.material,
        distance_km=distance_km,
        price_cents_per_kg=offer.price_cents_per_kg,
        kg=listing.kg,
        gross_cents=value_cents(kg=listing.kg, cents_per_kg=offer.price_cents_per_kg),
        pickup_date=pickup,
        capacity_left_kg=offer.capacity_left_kg,
        partner_kind=partner.kind,
        radius_km=partner.radius_km,
        min_kg=offer.min_kg,
        offer_fill_rate=offer.fill_rate,
    )


def candidates_for_listing(
    listing: ListingInput, index: PartnerIndex, *, not_before: date | None = None
) -> list[Candidate]:
    """Every partner that can take ``listing`` (all five rules), nearest first.

    The spatial index yields the partners whose radius covers the listing; the other rules are array
    masks over that material's offer table (same semantics as ``check_pair``, which tests compare)."""
    table = index.offer_table(listing.material)
    if table is None:
        return []
    pos, dist = index.near_positions(lat=listing.lat, lon=listing.lon, material=listing.material)
    kg = float(listing.kg)
    start = max(listing.available_from, not_before) if not_before else listing.available_from
    window = 0
    for offset in range(min(7, max(0, (listing.available_until - start).days + 1))):
        window |= 1 << (start + timedelta(days=offset)).weekday()
    ok = (table.has_offer[pos] & (table.capacity_left_kg[pos] >= kg) & (table.min_kg[pos] <= kg)
          & ((table.weekday_mask[pos] & window) != 0))
    out: list[Candidate] = []
    for i, d in zip(pos[ok].tolist(), dist[ok].tolist(), strict=True):
        offer, partner = table.offers[i], table.partners[i]
        # exact Decimal re-check (the arrays are floats) and the concrete pickup date
        if offer is None or offer.capacity_left_kg < listing.kg or listing.kg < offer.min_kg:
            continue
        pickup = first_pickup_date(window_start=start, window_end=listing.available_until,
                                   weekdays=partner.pickup_weekdays)
        if pickup is not None:
            out.append(_candidate(listing, partner, offer, d, pickup))
    return out


def listings_for_partner(
    partner: PartnerOffer, index: ListingIndex, *, not_before: date | None = None
) -> list[tuple[ListingInput, Candidate]]:
    """Every open listing ``partner`` can take (its opportunities), nearest first."""
    out: list[tuple[ListingInput, Candidate]] = []
    for listing, dist in index.near(lat=partner.lat, lon=partner.lon, radius_km=partner.radius_km):
        result = check_pair(listing, partner, distance_km=dist, not_before=not_before)
        if result.candidate is not None:
            out.append((listing, result.candidate))
    return out

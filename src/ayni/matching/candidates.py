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

import numpy as np
from numpy.typing import NDArray

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
    first_offset = _first_offsets(start, listing.available_until)
    offset = first_offset[table.weekday_mask[pos]]
    ok = table.has_offer[pos] & (table.capacity_left_kg[pos] >= kg) & (table.min_kg[pos] <= kg) & (offset >= 0)
    grams = int(listing.kg * 1000)
    pickup = [start + timedelta(days=off) for off in range(7)]
    kg_dec, lid = listing.kg, listing.listing_id
    offers, partners, fill = table.offers, table.partners, table.fill_rate
    out: list[Candidate] = []
    for i, d, off in zip(pos[ok].tolist(), dist[ok].tolist(), offset[ok].tolist(), strict=True):
        offer, partner = offers[i], partners[i]
        # exact Decimal re-check: the arrays are floats
        if offer is None or offer.capacity_left_kg < kg_dec or kg_dec < offer.min_kg:
            continue
        price = offer.price_cents_per_kg
        out.append(Candidate(lid, partner.partner_id, offer.material, d, price, kg_dec, _gross_cents(grams, price),
                             pickup[off], offer.capacity_left_kg, partner.kind, partner.radius_km, offer.min_kg,
                             fill[i]))
    return out


def _first_offsets(start: date, end: date) -> NDArray[np.int64]:
    """For each of the 128 weekday masks, days from ``start`` to its first weekday in [start, end] (−1: none)."""
    masks = np.arange(128, dtype=np.int64)
    out = np.full(128, -1, dtype=np.int64)
    wd = start.weekday()
    for off in range(min(7, max(0, (end - start).days + 1))):
        hit = ((masks >> ((wd + off) % 7)) & 1).astype(bool) & (out < 0)
        out[hit] = off
    return out


def _gross_cents(grams: int, cents_per_kg: int) -> int:
    """``value_cents`` in integers: grams × céntimos/kg / 1000, rounded half-even."""
    q, r = divmod(grams * cents_per_kg, 1000)
    return q + (1 if r > 500 or (r == 500 and q % 2) else 0)


def listings_for_partner(
    partner: PartnerOffer, index: ListingIndex, *, not_before: date | None = None, limit: int | None = None
) -> list[tuple[ListingInput, Candidate]]:
    """Open listings ``partner`` can take (its opportunities): all of them nearest first, or with
    ``limit`` the ``limit`` largest (kg, then nearest) — a partner in a dense city may reach tens of
    thousands, and ``rank_opportunities`` ranks by expected kilograms.

    Array masks pre-filter (material, quantity, capacity, weekday); each survivor is confirmed with
    ``check_pair``, which also applies ``not_before``."""
    pos, dist = index.near_positions(lat=partner.lat, lon=partner.lon, radius_km=partner.radius_km)
    if len(pos) == 0:
        return []
    codes = index.material_code[pos]
    lo_by_code = np.full(len(index.material_names), np.inf)
    hi_by_code = np.full(len(index.material_names), -1.0)
    for k, material in enumerate(index.material_names):
        offer = partner.offer_for(material)
        if offer is not None:
            lo_by_code[k], hi_by_code[k] = float(offer.min_kg), float(offer.capacity_left_kg)
    lo, hi = lo_by_code[codes], hi_by_code[codes]
    kg = index.kg[pos]
    wmask = sum(1 << d for d in partner.pickup_weekdays)
    ok = (kg >= lo) & (kg <= hi) & ((index.window_mask[pos] & wmask) != 0)
    pos, dist = pos[ok], dist[ok]
    if limit is not None:
        order = np.lexsort((dist, -index.kg[pos]))
        pos, dist = pos[order], dist[order]
    out: list[tuple[ListingInput, Candidate]] = []
    for i, d in zip(pos.tolist(), dist.tolist(), strict=True):
        listing = index.listings[i]
        result = check_pair(listing, partner, distance_km=d, not_before=not_before)
        if result.candidate is not None:
            out.append((listing, result.candidate))
            if limit is not None and len(out) >= limit:
                break
    return out

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from ayni.domain.geo import Point, haversine_km
from ayni.matching.candidates import Exclusion, candidates_for_listing, check_pair, listings_for_partner
from ayni.matching.index import ListingIndex, PartnerIndex, SphereIndex

from ._factories import LIMA, MONDAY, listing, offer, partner


def test_pair_is_eligible_when_every_rule_holds() -> None:
    result = check_pair(listing(), partner())
    assert result.excluded_by is None and result.candidate is not None
    assert result.candidate.gross_cents == 1200


def test_class_price_covers_a_sub_material() -> None:
    result = check_pair(listing(material="PET"), partner(offers=(offer("plastic", price=50),)))
    assert result.candidate is not None and result.candidate.offer_material == "plastic"


def test_exact_sub_material_price_wins_over_class_price() -> None:
    p = partner(offers=(offer("plastic", price=50), offer("PET", price=130)))
    result = check_pair(listing(material="PET"), p)
    assert result.candidate is not None and result.candidate.price_cents_per_kg == 130


@pytest.mark.parametrize(
    ("the_listing", "the_partner", "rule"),
    [
        (listing(material="glass"), partner(), Exclusion.MATERIAL),
        (listing(kg="10"), partner(offers=(offer(left="9.999"),)), Exclusion.CAPACITY),
        (listing(lat=LIMA[0] + 0.2), partner(radius_km=10), Exclusion.DISTANCE),
        (listing(kg="4"), partner(offers=(offer(min_kg="5"),)), Exclusion.MIN_QUANTITY),
        (listing(start=MONDAY, end=MONDAY + timedelta(days=1)), partner(weekdays=frozenset({4})),
         Exclusion.PICKUP_DAY),
    ],
)
def test_each_rule_can_exclude_a_partner(the_listing, the_partner, rule) -> None:  # type: ignore[no-untyped-def]
    result = check_pair(the_listing, the_partner)
    assert result.candidate is None and result.excluded_by is rule


def test_pickup_date_is_first_partner_weekday_in_window() -> None:
    result = check_pair(listing(start=MONDAY), partner(weekdays=frozenset({2, 4})))
    assert result.candidate is not None and result.candidate.pickup_date == MONDAY + timedelta(days=2)


def test_not_before_moves_the_window_start() -> None:
    result = check_pair(listing(start=MONDAY, end=MONDAY + timedelta(days=2)), partner(weekdays=frozenset({0})),
                        not_before=MONDAY + timedelta(days=1))
    assert result.excluded_by is Exclusion.PICKUP_DAY


def _random_world(seed: int) -> tuple[list, list]:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    partners = []
    for i in range(60):
        mats = rng.choice(["PET", "plastic", "cardboard", "glass", "metal", "aluminium"], 2, replace=False)
        partners.append(partner(i + 1, lat=LIMA[0] + float(rng.normal(0, 0.1)),
                                lon=LIMA[1] + float(rng.normal(0, 0.1)), radius_km=float(rng.uniform(2, 15)),
                                weekdays=frozenset(int(d) for d in rng.choice(7, 2, replace=False)),
                                offers=tuple(offer(str(m), min_kg=str(int(rng.integers(1, 8))),
                                                   left=str(int(rng.integers(0, 40)))) for m in mats)))
    listings = [listing(j + 1, material=str(rng.choice(["PET", "HDPE", "cardboard", "aluminium", "glass"])),
                        kg=str(round(float(rng.uniform(1, 30)), 3)), lat=LIMA[0] + float(rng.normal(0, 0.1)),
                        lon=LIMA[1] + float(rng.normal(0, 0.1)),
                        start=MONDAY + timedelta(days=int(rng.integers(0, 5))),
                        end=MONDAY + timedelta(days=int(rng.integers(5, 9)))) for j in range(150)]
    return partners, listings


def test_indexed_candidates_equal_a_scan_of_every_partner() -> None:
    partners, listings = _random_world(0)
    index = PartnerIndex(partners)
    for x in listings:
        fast = {c.partner_id for c in candidates_for_listing(x, index)}
        scan = {p.partner_id for p in partners if check_pair(x, p).candidate is not None}
        assert fast == scan


def test_opportunities_equal_a_scan_of_every_listing() -> None:
    partners, listings = _random_world(1)
    index = ListingIndex(listings)
    for p in partners[:20]:
        fast = {x.listing_id for x, _ in listings_for_partner(p, index)}
        scan = {x.listing_id for x in listings if check_pair(x, p).candidate is not None}
        assert fast == scan


def test_sphere_index_returns_points_within_great_circle_radius_nearest_first() -> None:
    rng = np.random.default_rng(2)
    lats, lons = LIMA[0] + rng.normal(0, 0.2, 500), LIMA[1] + rng.normal(0, 0.2, 500)
    pos, dist = SphereIndex(lats, lons).within(lat=LIMA[0], lon=LIMA[1], radius_km=12.0)
    truth = {i for i in range(500) if haversine_km(Point(*LIMA), Point(lats[i], lons[i])) <= 12.0}
    assert set(pos.tolist()) == truth
    assert np.all(np.diff(dist) >= 0)


def test_opportunity_limit_keeps_the_largest_listings() -> None:
    partners, listings = _random_world(3)
    index = ListingIndex(listings)
    p = max(partners, key=lambda q: len(listings_for_partner(q, index)))
    every = listings_for_partner(p, index)
    top = listings_for_partner(p, index, limit=3)
    assert len(top) == min(3, len(every))
    assert sorted(x.kg for x, _ in top) == sorted(x.kg for x, _ in every)[::-1][: len(top)][::-1]

from __future__ import annotations

from decimal import Decimal

import pytest

from ayni.domain.geo import Point, haversine_km, validate_in_peru
from ayni.domain.lifecycle import (
    LISTING_TRANSITIONS,
    ListingStatus,
    MatchStatus,
    check_listing_transition,
    check_match_transition,
)
from ayni.domain.materials import CLASSES, MATERIALS, Verdict, accepts, get_material, sellable
from ayni.domain.money import format_soles, to_kg, value_cents
from ayni.errors import Conflict, InvalidInput


def test_every_sub_material_belongs_to_one_of_the_seven_classes() -> None:
    assert len(CLASSES) == 7
    subs = [m for m in MATERIALS.values() if not m.is_class]
    assert len(subs) == 33
    assert all(m.parent in CLASSES for m in subs)


def test_a_class_price_covers_its_sub_materials_but_not_others() -> None:
    assert accepts("plastic", "PET") and accepts("PET", "PET")
    assert not accepts("PET", "plastic") and not accepts("glass", "PET")


def test_verdicts_and_sellability() -> None:
    assert get_material("food_waste").verdict is Verdict.ORGANIC
    assert get_material("aluminium").verdict is Verdict.RECYCLABLE
    assert not sellable("sanitary") and sellable("tetrabrik") and sellable("organic")
    with pytest.raises(InvalidInput, match="Unknown material"):
        get_material("nope")


@pytest.mark.parametrize("value", ["-1", "0", "20000.001", "NaN", "abc", "Infinity"])
def test_to_kg_refuses_absurd_values(value: str) -> None:
    with pytest.raises(InvalidInput):
        to_kg(value)


def test_money_is_exact() -> None:
    assert to_kg("1.23456") == Decimal("1.235")
    assert value_cents(kg=Decimal("11.2"), cents_per_kg=80) == 896
    assert value_cents(kg=Decimal("0.125"), cents_per_kg=4) == 0  # 0.5 rounds half-even to 0
    assert format_soles(123456) == "S/ 1,234.56" and format_soles(-5) == "-S/ 0.05"


def test_peru_bounds_and_distance() -> None:
    validate_in_peru(-12.05, -77.03)
    for lat, lon in [(40.4, -3.7), (-12.0, -60.0), (float("nan"), -77.0)]:
        with pytest.raises(InvalidInput):
            validate_in_peru(lat, lon)
    lima, chiclayo = Point(-12.0464, -77.0428), Point(-6.7714, -79.8409)
    assert 640 < haversine_km(lima, chiclayo) < 680
    assert haversine_km(lima, lima) == 0


def test_every_listing_state_has_a_rule_and_final_states_are_final() -> None:
    assert set(LISTING_TRANSITIONS) == set(ListingStatus)
    for final in (ListingStatus.CLOSED, ListingStatus.CANCELLED, ListingStatus.EXPIRED):
        with pytest.raises(Conflict, match="final"):
            check_listing_transition(final.value, ListingStatus.OPEN)
    check_match_transition("proposed", MatchStatus.ACCEPTED)
    with pytest.raises(Conflict, match="cannot become 'collected'"):
        check_match_transition("proposed", MatchStatus.COLLECTED)

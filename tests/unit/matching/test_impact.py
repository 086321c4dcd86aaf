from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ayni.errors import InvalidInput
from ayni.matching.impact import co2e_avoided, load_emission_factors

CSV = """warm_material,pathway,kgco2e_per_kg
PET,recycling,-1.1418
PET,landfilling,0.0223
Food Waste,composting,-0.1274
Food Waste,landfilling,0.6
"""


@pytest.fixture
def factors(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "f.csv"
    path.write_text(CSV, encoding="utf-8")
    return load_emission_factors(path)


def test_avoided_is_landfill_minus_recycling_times_kg(factors) -> None:  # type: ignore[no-untyped-def]
    impact = co2e_avoided(material="PET", kg=Decimal("10"), factors=factors)
    assert impact is not None and impact.pathway == "recycling"
    assert impact.co2e_avoided_kg == pytest.approx((0.0223 + 1.1418) * 10)


def test_organics_use_composting(factors) -> None:  # type: ignore[no-untyped-def]
    impact = co2e_avoided(material="food_waste", kg=Decimal("2"), factors=factors)
    assert impact is not None and impact.pathway == "composting"
    assert impact.co2e_avoided_kg == pytest.approx((0.6 + 0.1274) * 2)


def test_material_without_a_warm_proxy_has_no_estimate(factors) -> None:  # type: ignore[no-untyped-def]
    assert co2e_avoided(material="tetrabrik", kg=Decimal("1"), factors=factors) is None
    assert co2e_avoided(material="glass", kg=Decimal("1"), factors=factors) is None  # not in this small table


def test_a_file_without_the_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InvalidInput):
        load_emission_factors(path)


@pytest.mark.data
def test_real_warm_factors_give_the_published_pet_saving(data_dir: Path) -> None:
    factors = load_emission_factors(data_dir / "peru" / "emission_factors_warm_v15.csv")
    impact = co2e_avoided(material="PET", kg=Decimal("1000"), factors=factors)
    assert impact is not None
    assert impact.pathway_kgco2e_per_kg == pytest.approx(-1.1418, abs=1e-4)
    assert impact.co2e_avoided_kg > 1000

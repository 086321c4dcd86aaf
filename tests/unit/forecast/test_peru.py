from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ayni.errors import InvalidInput, NotFound
from ayni.forecast import backtest_annual, fit_annual_model, forecast_district_material, peru_holidays
from ayni.forecast.peru import annual_panel, material_columns

YEARS = range(2014, 2024)


@pytest.fixture(scope="module")
def generation() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for d in range(40):
        pop, gpc = 5000 + 500 * d, 0.5 + 0.01 * (d % 7)
        growth = 1 + 0.01 * (d % 5)
        for y in YEARS:
            pop_y = pop * growth ** (y - 2014)
            rows.append({"ubigeo": f"14{d:04d}", "year": y, "region_natural": "COSTA", "pop_urban": pop_y,
                         "gpc_dom_kg_hab_day": gpc, "dom_t_year": gpc * pop_y * 365 / 1000 * rng.normal(1, 0.01)})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def composition() -> pd.DataFrame:
    return pd.DataFrame({"ubigeo": ["140000", "140000"], "year": [2022, 2023], "sum_materials_t": [100.0, 100.0],
                         "tereflato_polietileno_t": [1.0, 3.0], "polietileno_alta_densidad_t": [1.0, 2.0],
                         "alimentos_t": [50.0, 55.0]})


@pytest.fixture(scope="module")
def material_map() -> pd.DataFrame:
    return pd.DataFrame({"column": ["tereflato_polietileno_t", "polietileno_alta_densidad_t", "alimentos_t"],
                         "platform_material": ["PET", "HDPE", "food_waste"]})


@pytest.fixture(scope="module")
def model(generation: pd.DataFrame):  # type: ignore[no-untyped-def]
    return fit_annual_model(generation)


def test_annual_features_use_only_years_before_the_target(generation: pd.DataFrame) -> None:
    changed = generation.copy()
    changed.loc[changed["year"] == 2023, ["dom_t_year", "gpc_dom_kg_hab_day"]] *= 5
    cols = [c for c in annual_panel(generation, target_years=[2023]).columns if c != "target"]
    a = annual_panel(generation, target_years=[2023])[cols]
    b = annual_panel(changed, target_years=[2023])[cols]
    pd.testing.assert_frame_equal(a, b)


def test_growth_model_beats_last_value_when_districts_grow_steadily(generation: pd.DataFrame) -> None:
    result = backtest_annual(generation, test_year=2023)
    assert result.summary["model"]["mdape"] < result.summary["last_value"]["mdape"]
    assert 0 <= result.summary["model"]["coverage"] <= 1


def test_weekly_supply_scales_with_capture_rate_and_share(generation: pd.DataFrame, composition: pd.DataFrame,
                                                         material_map: pd.DataFrame, model: object) -> None:
    kw = {"generation": generation, "composition": composition, "material_map": material_map,
          "ubigeo": "140000", "horizon_weeks": 3, "model": model}
    pet = forecast_district_material(material="PET", capture_rate=0.1, **kw)  # type: ignore[arg-type]
    pet2 = forecast_district_material(material="PET", capture_rate=0.2, **kw)  # type: ignore[arg-type]
    plastic = forecast_district_material(material="plastic", capture_rate=0.1, **kw)  # type: ignore[arg-type]
    assert len(pet) == 3 and pet[0].week_start == date(2024, 1, 1) and pet[1].week_start == date(2024, 1, 8)
    assert pet2[0].kg == pytest.approx(2 * pet[0].kg)
    assert plastic[0].kg == pytest.approx(pet[0].kg * 5 / 3)  # PET + HDPE, latest year 2023
    assert pet[0].kg_low <= pet[0].kg <= pet[0].kg_high
    annual_t = generation.query("ubigeo == '140000' and year == 2023")["dom_t_year"].iloc[0]
    assert pet[0].kg == pytest.approx(annual_t * 1000 * 0.03 * 0.1 / (365.25 / 7), rel=0.05)


def test_weekly_supply_rejects_bad_inputs(generation: pd.DataFrame, composition: pd.DataFrame,
                                          material_map: pd.DataFrame, model: object) -> None:
    kw = {"generation": generation, "composition": composition, "material_map": material_map,
          "horizon_weeks": 2, "model": model, "capture_rate": 0.1}
    with pytest.raises(InvalidInput):
        forecast_district_material(ubigeo="140000", material="kryptonite", **kw)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        forecast_district_material(ubigeo="999999", material="PET", **kw)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        forecast_district_material(ubigeo="140000", material="PET", **{**kw, "capture_rate": 1.5})  # type: ignore[arg-type]


def test_material_columns_accept_a_class_a_sub_material_or_a_column(material_map: pd.DataFrame) -> None:
    assert material_columns("plastic", material_map) == ["tereflato_polietileno_t", "polietileno_alta_densidad_t"]
    assert material_columns("PET", material_map) == ["tereflato_polietileno_t"]
    assert material_columns("alimentos_t", material_map) == ["alimentos_t"]


def test_peru_holidays_include_fixed_dates_and_holy_week() -> None:
    days = peru_holidays([2024])
    assert {date(2024, 7, 28), date(2024, 12, 25), date(2024, 3, 28), date(2024, 3, 29)} <= days
    assert date(2024, 3, 30) not in days

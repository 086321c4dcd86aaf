"""Checks on the shared reference data; skipped when AYNI_DATA_DIR has no such files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ayni.settings import get_settings

pytestmark = pytest.mark.data


def _data_dir() -> Path:
    root = get_settings().data_dir
    if not (root / "peru" / "chiclayo_collection_daily.csv").exists():
        pytest.skip(f"shared data not found under {root} (set AYNI_DATA_DIR)")
    return root


def test_tetouan_loader_parses_month_first_and_reproduces_the_naive_anchor() -> None:
    from ayni.forecast.features import seasonal_naive
    from ayni.forecast.tetouan import STEPS_PER_DAY, day_ahead_origins, load_tetouan

    path = _data_dir() / "tetouan" / "tetuan_city_power_consumption.csv"
    if not path.exists():
        pytest.skip("Tetouan file not found")
    df = load_tetouan(path)
    assert len(df) == 52_416 and str(df.index[-1]) == "2017-12-30 23:50:00"
    _, origins = day_ahead_origins(df)
    y = df["zone1"].to_numpy()
    truth = y[(origins[:, None] + np.arange(STEPS_PER_DAY)).ravel()]
    week = seasonal_naive(y, origins, horizon=STEPS_PER_DAY, season=7 * STEPS_PER_DAY).ravel()
    assert np.mean(np.abs(truth - week)) == pytest.approx(891.2, abs=0.1)  # issue 9's figure


def test_minam_2023_growth_model_is_not_worse_than_last_value() -> None:
    from ayni.forecast import backtest_annual, load_generation

    gen = load_generation(_data_dir() / "peru" / "waste_generation_district_year.csv")
    result = backtest_annual(gen, test_year=2023)
    assert result.summary["model"]["mdape"] <= result.summary["last_value"]["mdape"]
    assert len(result.table) > 1800


def test_chiclayo_series_is_daily_without_gaps() -> None:
    from ayni.forecast import load_chiclayo

    s = load_chiclayo(_data_dir() / "peru" / "chiclayo_collection_daily.csv")
    assert len(s) == 670 and s.index.freqstr == "D" and s.notna().all()

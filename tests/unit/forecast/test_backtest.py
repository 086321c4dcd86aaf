from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ayni.forecast.backtest import (
    coverage,
    mae,
    mape,
    mase,
    mdape,
    naive_scale,
    r2,
    rmse,
    rolling_origin_backtest,
)

from ._synthetic import FAST_PARAMS, weekly_series


def test_metrics_on_known_values() -> None:
    y, p = [100.0, 200.0, 0.0], [110.0, 180.0, 5.0]
    assert mae(y, p) == pytest.approx(35 / 3)
    assert rmse(y, p) == pytest.approx(np.sqrt((100 + 400 + 25) / 3))
    assert mape(y, p) == pytest.approx(10.0)  # the zero truth is skipped
    assert mdape(y, p) == pytest.approx(10.0)
    assert r2([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0
    assert coverage([1, 2, 3, 4], [0, 0, 0, 5], [2, 2, 2, 6]) == 0.5


def test_mase_is_one_for_the_seasonal_naive_in_sample() -> None:
    y = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    scale = naive_scale(y, season=1)
    assert mase(y[1:], y[:-1], scale=scale) == pytest.approx(1.0)


def test_missing_values_are_ignored() -> None:
    assert mae([1.0, np.nan, 3.0], [2.0, 2.0, np.nan]) == 1.0


def test_rolling_origin_forecasts_do_not_depend_on_the_future() -> None:
    from ayni.forecast import ZoneForecaster

    s = weekly_series(220)

    def make() -> ZoneForecaster:
        return ZoneForecaster(horizon=7, seasons=(7,), windows=(7, 28), n_splits=2,
                              candidates=("seasonal_naive", "linear"), model_params=FAST_PARAMS)

    first = rolling_origin_backtest(make, s, first_origin=180, refit_every=14)
    changed = s.copy()
    changed.iloc[200:] += 1000  # a forecast issued at origin <= 200 must not see this
    second = rolling_origin_backtest(make, changed, first_origin=180, refit_every=14)
    mask = first.forecasts["origin"] <= 200
    assert mask.sum() > 100
    assert np.allclose(first.forecasts.loc[mask, "mean"], second.forecasts.loc[mask, "mean"])
    assert not np.allclose(first.forecasts["mean"], second.forecasts["mean"])
    assert isinstance(first.forecasts, pd.DataFrame)


def test_backtest_beats_naive_on_a_clean_seasonal_series_with_trend() -> None:
    from ayni.forecast import ZoneForecaster

    s = weekly_series(260, noise=2.0)

    def make() -> ZoneForecaster:
        return ZoneForecaster(horizon=7, seasons=(7,), windows=(7, 28), n_splits=2,
                              candidates=("seasonal_naive", "linear"), model_params=FAST_PARAMS)

    summary = rolling_origin_backtest(make, s, first_origin=200, refit_every=30).summary()
    assert summary["mae"] <= summary["naive_mae"] * 1.05

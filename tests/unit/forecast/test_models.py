from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ayni.errors import InvalidInput, ModelUnavailable
from ayni.forecast import PerZoneForecaster, ZoneForecaster

from ._synthetic import FAST_PARAMS, weekly_series

Make = Callable[..., ZoneForecaster]


def test_init_only_stores_its_keyword_hyperparameters() -> None:
    params = inspect.signature(ZoneForecaster).parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    est = ZoneForecaster(horizon=5, seasons=(7, 14))
    assert {k: getattr(est, k) for k in params} == {k: p.default if k not in ("horizon", "seasons") else
                                                    {"horizon": 5, "seasons": (7, 14)}[k]
                                                    for k, p in params.items()}
    assert not [a for a in vars(est) if a.endswith("_")]


def test_fit_returns_self_and_sets_learned_attributes(make_forecaster: Make, series: pd.Series) -> None:
    est = make_forecaster()
    assert est.fit(series) is est
    for attr in ("chosen_", "cv_scores_", "interval_", "feature_names_", "n_train_"):
        assert hasattr(est, attr)
    assert est.chosen_ in est.cv_scores_


def test_predict_before_fit_raises_model_unavailable(make_forecaster: Make, series: pd.Series) -> None:
    with pytest.raises(ModelUnavailable):
        make_forecaster().predict(series)


def test_fit_rejects_unknown_candidates_and_short_series(make_forecaster: Make, series: pd.Series) -> None:
    with pytest.raises(InvalidInput):
        make_forecaster(candidates=("prophet",)).fit(series)
    with pytest.raises(InvalidInput):
        make_forecaster().fit(series.iloc[:40])


def test_same_random_state_gives_the_same_forecast(make_forecaster: Make, series: pd.Series) -> None:
    a = make_forecaster(candidates=("random_forest",)).fit(series).predict(series)
    b = make_forecaster(candidates=("random_forest",)).fit(series).predict(series)
    pd.testing.assert_frame_equal(a, b)


def test_predict_gives_horizon_future_steps_with_ordered_bounds(make_forecaster: Make, series: pd.Series) -> None:
    out = make_forecaster().fit(series).predict(series)
    assert len(out) == 7 and out.index[0] == series.index[-1] + pd.Timedelta(days=1)
    assert (out["lower"] <= out["mean"]).all() and (out["mean"] <= out["upper"]).all()


def test_learned_models_beat_seasonal_naive_when_there_is_a_trend_to_learn(make_forecaster: Make) -> None:
    s = weekly_series(300, noise=1.0)
    s = s + np.linspace(0, 150, len(s))  # strong trend: last week's value lags behind
    est = make_forecaster(candidates=("seasonal_naive", "linear")).fit(s)
    assert est.chosen_ == "linear"
    assert est.cv_scores_["linear"] < est.cv_scores_["seasonal_naive:7"]


def test_pure_seasonal_series_is_forecast_almost_exactly(make_forecaster: Make) -> None:
    s = weekly_series(200, noise=0.0) * 0 + np.tile([5.0, 9.0, 7.0, 3.0, 8.0, 1.0, 2.0], 200)[:200]
    est = make_forecaster(candidates=("seasonal_naive",)).fit(s)
    truth = np.tile([5.0, 9.0, 7.0, 3.0, 8.0, 1.0, 2.0], 30)[200:207]
    assert np.allclose(est.predict(s)["mean"].to_numpy(), truth)


def test_interval_coverage_is_near_nominal_on_a_noisy_series(make_forecaster: Make) -> None:
    s = weekly_series(500, noise=10.0, seed=3)
    est = make_forecaster(candidates=("linear",), coverage=0.8).fit(s.iloc[:350])
    origins = np.arange(350, 493)
    out = est.predict_origins(s.to_numpy(), pd.DatetimeIndex(s.index), origins)
    truth = s.to_numpy()[out["position"]]
    covered = np.mean((truth >= out["lower"]) & (truth <= out["upper"]))
    assert 0.7 <= covered <= 0.92


def test_wider_nominal_coverage_gives_wider_intervals(make_forecaster: Make, series: pd.Series) -> None:
    narrow = make_forecaster(candidates=("linear",), coverage=0.5).fit(series).predict(series)
    wide = make_forecaster(candidates=("linear",), coverage=0.95).fit(series).predict(series)
    assert ((wide["upper"] - wide["lower"]) > (narrow["upper"] - narrow["lower"])).all()


@pytest.mark.parametrize("candidate", ["seasonal_naive", "linear", "random_forest", "hist_gbm"])
def test_save_and_load_round_trip_without_pickle(make_forecaster: Make, series: pd.Series, tmp_path: Path,
                                                 candidate: str) -> None:
    est = make_forecaster(candidates=(candidate,), holidays={pd.Timestamp("2023-07-28").date()}).fit(series)
    path = est.save(tmp_path / "model")
    with np.load(path, allow_pickle=False) as data:  # loads without pickle
        assert all(data[k].dtype != object for k in data.files)
    again = ZoneForecaster.load(path)
    pd.testing.assert_frame_equal(again.predict(series), est.predict(series))
    assert path.stat().st_size < 200_000


def test_loading_a_file_of_another_format_fails_clearly(make_forecaster: Make, series: pd.Series,
                                                        tmp_path: Path) -> None:
    path = make_forecaster(candidates=("linear",)).fit(series).save(tmp_path / "m")
    with pytest.raises(InvalidInput):
        PerZoneForecaster.load(path)


def test_per_zone_forecaster_chooses_per_zone_and_round_trips(tmp_path: Path) -> None:
    a, b = weekly_series(260, seed=1), weekly_series(260, seed=2) * 3
    data = pd.DataFrame({"a": a, "b": b})
    zone_params = {"horizon": 7, "seasons": (7,), "windows": (7, 28), "n_splits": 2,
                   "candidates": ("seasonal_naive", "linear"), "model_params": FAST_PARAMS}
    est = PerZoneForecaster(zone_params=zone_params).fit(data, zones=["a", "b"])
    again = PerZoneForecaster.load(est.save(tmp_path / "zones"))
    for zone, out in est.predict(data).items():
        pd.testing.assert_frame_equal(out, again.predict(data)[zone])
    assert out["mean"].mean() > 200  # zone b is three times larger


def test_exog_optional_lets_cv_drop_useless_exogenous_inputs(make_forecaster: Make, tmp_path: Path) -> None:
    s = weekly_series(260, noise=3.0)
    noise = pd.DataFrame({"junk": np.random.default_rng(5).normal(size=len(s))}, index=s.index)
    est = make_forecaster(candidates=("linear",), exog_mode="same_time", exog_optional=True).fit(s, noise)
    assert set(est.cv_scores_) == {"linear", "linear-no_exog"}
    future = pd.date_range(s.index[-1], periods=8, freq="D")[1:]
    exog = pd.DataFrame({"junk": 0.0}, index=s.index.append(future))
    again = ZoneForecaster.load(est.save(tmp_path / "m"))
    pd.testing.assert_frame_equal(again.predict(s, exog), est.predict(s, exog))

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ayni.errors import InvalidInput
from ayni.forecast import TabularForecaster


def _panel(n_per_year: int = 200) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    years = np.repeat(np.arange(2015, 2023), n_per_year)
    x = rng.normal(size=len(years))
    X = pd.DataFrame({"x": x, "zero": 0.0, "noise": rng.normal(size=len(years))})
    return X, 0.5 * x + rng.normal(0, 0.05, len(years)), years


def test_time_cv_prefers_a_model_that_uses_the_signal() -> None:
    X, y, years = _panel()
    est = TabularForecaster(candidates=("column:zero", "linear")).fit(X, y, time=years)
    assert est.chosen_ == "linear" and est.cv_scores_["linear"] < est.cv_scores_["column:zero"]


def test_column_candidate_wins_when_there_is_nothing_to_learn() -> None:
    X, _, years = _panel()
    y = np.random.default_rng(1).normal(0, 0.01, len(X))
    est = TabularForecaster(candidates=("column:zero", "hist_gbm"),
                            model_params={"hist_gbm": {"max_iter": 20}}).fit(X, y, time=years)
    assert est.chosen_ == "column:zero"


def test_holdout_mode_and_exactly_one_of_time_or_validation() -> None:
    X, y, years = _panel()
    est = TabularForecaster(candidates=("linear",)).fit(X.iloc[:800], y[:800], validation=(X.iloc[800:], y[800:]))
    assert est.interval_[0] < 0 < est.interval_[1]
    with pytest.raises(InvalidInput):
        TabularForecaster().fit(X, y)
    with pytest.raises(InvalidInput):
        TabularForecaster(candidates=("column:missing",)).fit(X, y, time=years)


def test_round_trip(tmp_path: Path) -> None:
    X, y, years = _panel()
    est = TabularForecaster(candidates=("hist_gbm",), model_params={"hist_gbm": {"max_iter": 20}}).fit(X, y, time=years)
    again = TabularForecaster.load(est.save(tmp_path / "tab"))
    pd.testing.assert_frame_equal(again.predict_interval(X), est.predict_interval(X))

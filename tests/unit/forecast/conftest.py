"""Fixtures for the forecasting tests (small synthetic data; no shared data needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from ayni.forecast import ZoneForecaster

from ._synthetic import FAST_PARAMS, weekly_series


@pytest.fixture
def series() -> pd.Series:
    return weekly_series()


@pytest.fixture
def make_forecaster() -> Callable[..., ZoneForecaster]:
    def make(**kw: Any) -> ZoneForecaster:
        params: dict[str, Any] = {"horizon": 7, "seasons": (7,), "windows": (7, 28), "n_splits": 2,
                                  "model_params": FAST_PARAMS, "random_state": 0}
        params.update(kw)
        return ZoneForecaster(**params)

    return make

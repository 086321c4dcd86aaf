"""Synthetic series and fast hyperparameters shared by the forecasting tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

FAST_PARAMS = {"random_forest": {"n_estimators": 8, "max_depth": 6},
               "hist_gbm": {"max_iter": 30, "learning_rate": 0.2}}


def weekly_series(n: int = 300, *, noise: float = 5.0, seed: int = 0, start: str = "2023-01-01") -> pd.Series:
    """Daily series: level 100, weekly pattern ±30, slow trend, Gaussian noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    pattern = np.array([0, 10, 20, 30, 10, -30, -40], dtype=float)
    values = 100 + 0.05 * t + pattern[t % 7] + rng.normal(0, noise, n)
    return pd.Series(values, index=pd.date_range(start, periods=n, freq="D"), name="y")

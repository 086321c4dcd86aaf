"""Seed 003-style robustness study: the same model scored with and without shifted inputs.

A *shift* is a named transformation of the input table (e.g. +3 °C on temperature). The study reports
MAE and RMSE on the clean inputs, then on each shifted copy, with the relative change in percent.
The distribution-level drift statistics (PSI, KS) live in ``ayni.mlops``; this module only measures what
a shift does to the forecast error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ayni.forecast.backtest import mae, rmse

Shift = Callable[[pd.DataFrame], pd.DataFrame]


def add(column: str, amount: float, *, lower: float | None = None, upper: float | None = None) -> Shift:
    """A shift adding ``amount`` to ``column`` (clipped to [lower, upper] when given)."""
    def shift(df: pd.DataFrame) -> pd.DataFrame:
        out = df.copy()
        out[column] = (out[column] + amount).clip(lower=lower, upper=upper)
        return out
    return shift


def scale(column: str, factor: float) -> Shift:
    """A shift multiplying ``column`` by ``factor``."""
    def shift(df: pd.DataFrame) -> pd.DataFrame:
        out = df.copy()
        out[column] = out[column] * factor
        return out
    return shift


def combine(*shifts: Shift) -> Shift:
    """Apply several shifts in order."""
    def shift(df: pd.DataFrame) -> pd.DataFrame:
        for s in shifts:
            df = s(df)
        return df
    return shift


def shifted_input_study(predict: Callable[[pd.DataFrame], NDArray[np.float64]], inputs: pd.DataFrame,
                        truth: ArrayLike, shifts: Mapping[str, Shift]) -> pd.DataFrame:
    """Error of ``predict`` on ``inputs`` and on each shifted copy; one row per scenario."""
    base = predict(inputs)
    rows = [{"scenario": "none", "mae": mae(truth, base), "rmse": rmse(truth, base)}]
    for name, shift in shifts.items():
        pred = predict(shift(inputs))
        rows.append({"scenario": name, "mae": mae(truth, pred), "rmse": rmse(truth, pred)})
    out = pd.DataFrame(rows)
    base_mae, base_rmse = float(out["mae"].iloc[0]), float(out["rmse"].iloc[0])
    out["mae_change_pct"] = (out["mae"] / base_mae - 1) * 100
    out["rmse_change_pct"] = (out["rmse"] / base_rmse - 1) * 100
    return out


def weather_shifts(*, temperature: str = "temperature", humidity: str = "humidity",
                   radiation: tuple[str, ...] = ("general_diffuse", "diffuse")) -> dict[str, Shift]:
    """Default weather scenarios: warmer, drier, brighter, and all three together."""
    bright = combine(*(scale(c, 1.2) for c in radiation))
    return {
        "temperature +3 °C": add(temperature, 3.0),
        "humidity -10 points": add(humidity, -10.0, lower=0.0, upper=100.0),
        "radiation x1.2": bright,
        "all three": combine(add(temperature, 3.0), add(humidity, -10.0, lower=0.0, upper=100.0), bright),
    }

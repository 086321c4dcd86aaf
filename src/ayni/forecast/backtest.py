"""Error metrics and rolling-origin backtests.

Every metric ignores pairs where the truth or the forecast is missing. Percentage errors skip zero truths.
MASE divides the MAE by a scale measured on the training part only (usually the in-sample MAE of the
one-season-ahead seasonal naive forecast), so it never looks at the evaluation period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ayni.forecast.models import ZoneForecaster


def _pair(y: ArrayLike, p: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    a, b = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    return a[ok], b[ok]


def mae(y: ArrayLike, pred: ArrayLike) -> float:
    a, b = _pair(y, pred)
    return float(np.mean(np.abs(a - b)))


def rmse(y: ArrayLike, pred: ArrayLike) -> float:
    a, b = _pair(y, pred)
    return float(np.sqrt(np.mean((a - b) ** 2)))


def r2(y: ArrayLike, pred: ArrayLike) -> float:
    a, b = _pair(y, pred)
    return float(1 - np.sum((a - b) ** 2) / np.sum((a - a.mean()) ** 2))


def _ape(y: ArrayLike, pred: ArrayLike) -> NDArray[np.float64]:
    a, b = _pair(y, pred)
    nz = a != 0
    return np.abs(a[nz] - b[nz]) / np.abs(a[nz]) * 100


def mape(y: ArrayLike, pred: ArrayLike) -> float:
    """Mean absolute percentage error, in percent (zero truths skipped)."""
    return float(np.mean(_ape(y, pred)))


def mdape(y: ArrayLike, pred: ArrayLike) -> float:
    """Median absolute percentage error, in percent (zero truths skipped)."""
    return float(np.median(_ape(y, pred)))


def mase(y: ArrayLike, pred: ArrayLike, *, scale: float) -> float:
    """MAE divided by ``scale`` (see :func:`naive_scale`)."""
    return mae(y, pred) / scale


def naive_scale(train: ArrayLike, *, season: int = 1) -> float:
    """In-sample MAE of the seasonal naive forecast on the training series (MASE's denominator)."""
    t = np.asarray(train, dtype=np.float64)
    return mae(t[season:], t[:-season])


def coverage(y: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Share of truths inside [lower, upper]."""
    a = np.asarray(y, dtype=np.float64)
    lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(lo) & np.isfinite(hi)
    return float(np.mean((a[ok] >= lo[ok]) & (a[ok] <= hi[ok])))


@dataclass(frozen=True)
class BacktestResult:
    """Forecasts of every evaluated (origin, step), with truth and the seasonal-naive benchmark."""

    forecasts: pd.DataFrame  # origin, position, step, timestamp, mean, lower, upper, truth, naive
    scale: float
    models: list[str]

    def summary(self) -> dict[str, float]:
        f = self.forecasts
        return {
            "mae": mae(f["truth"], f["mean"]), "naive_mae": mae(f["truth"], f["naive"]),
            "mase": mase(f["truth"], f["mean"], scale=self.scale),
            "naive_mase": mase(f["truth"], f["naive"], scale=self.scale),
            "rmse": rmse(f["truth"], f["mean"]), "mape": mape(f["truth"], f["mean"]),
            "coverage": coverage(f["truth"], f["lower"], f["upper"]), "n": float(len(f)),
        }


def rolling_origin_backtest(
    make_model: Callable[[], ZoneForecaster],
    y: pd.Series,
    *,
    first_origin: int,
    step: int = 1,
    refit_every: int = 28,
    naive_season: int = 7,
    exog: pd.DataFrame | None = None,
) -> BacktestResult:
    """Rolling origin: origins ``first_origin, +step, …``; the model is refitted on ``y[:o]`` every
    ``refit_every`` positions and each forecast reads ``y`` only before its origin.

    Only origins whose whole horizon is observed are scored. The MASE scale is the in-sample
    seasonal-naive MAE of ``y[:first_origin]``.
    """
    values = y.to_numpy(dtype=np.float64)
    index = pd.DatetimeIndex(y.index)
    horizon = make_model().horizon
    origins = np.arange(first_origin, len(values) - horizon + 1, step)
    parts, models = [], []
    for block_start in range(first_origin, int(origins[-1]) + 1, refit_every):
        block = origins[(origins >= block_start) & (origins < block_start + refit_every)]
        if not len(block):
            continue
        model = make_model().fit(y.iloc[:block_start], None if exog is None else exog.iloc[:block_start])
        models.append(model.chosen_)
        parts.append(model.predict_origins(values, index, block, exog))
    out = pd.concat(parts, ignore_index=True)
    out["truth"] = values[out["position"].to_numpy()]
    k = out["step"].to_numpy() - 1
    back = out["position"].to_numpy() - naive_season * ((k + naive_season) // naive_season)
    out["naive"] = np.where(back >= 0, values[np.clip(back, 0, None)], np.nan)
    return BacktestResult(out, naive_scale(values[:first_origin], season=naive_season), models)

"""Features for direct multi-step forecasts issued at a forecast *origin*.

A forecast is issued at origin position ``o`` (the first step not yet observed) for steps
``o, o+1, …, o+horizon-1``. Every feature of a row built for origin ``o`` reads the target series only at
positions ``< o``: seasonal-naive values (the most recent value at the same phase of each season that is
already known), the last value and means of the last ``w`` values before the origin. Calendar features are
computed from the target's timestamp (known in advance). Exogenous inputs are used in one of three modes:

* ``"none"`` — no exogenous inputs;
* ``"past"`` — only their values before the origin (last value and mean over the shortest season);
* ``"same_time"`` — their value at the target's own timestamp. This is *not* a real forecast unless those
  inputs are themselves forecasts; results with it must be labelled as such.

``profile_periods=(m, …)`` adds the mean of the last ``m`` known values at the same phase of the
shortest season (e.g. the average daily profile of the last week).

With ``relative=True`` the target and the level-like features are divided by the *level* (mean of the
last ``level_window`` values before the origin), so tree models generalise across level shifts.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from numpy.typing import NDArray

EXOG_MODES = ("none", "past", "same_time")


@dataclass(frozen=True)
class OriginFrame:
    """Rows (origin, step) with their features; ``target`` is NaN where not (yet) observed."""

    X: pd.DataFrame
    target: NDArray[np.float64]
    level: NDArray[np.float64]
    position: NDArray[np.int64]
    origin: NDArray[np.int64]
    step: NDArray[np.int64]


def calendar_features(index: pd.DatetimeIndex, *, holidays: Collection[date] | None = None,
                      annual: bool = True) -> pd.DataFrame:
    """Cyclic and plain calendar features of each timestamp (no data involved).

    ``annual=False`` leaves out day-of-year, month and day-of-month: with about one year of history a
    model cannot learn the annual cycle, and trees/linear models extrapolate it badly.
    """
    minutes = (index.hour * 60 + index.minute).to_numpy(dtype=np.float64)
    dow = index.day_of_week.to_numpy(dtype=np.float64)
    doy = index.day_of_year.to_numpy(dtype=np.float64)
    out = {
        "dow": dow,
        "dow_sin": np.sin(2 * np.pi * dow / 7),
        "dow_cos": np.cos(2 * np.pi * dow / 7),
        "is_weekend": (dow >= 5).astype(np.float64),
    }
    if annual:
        out |= {
        "doy_sin": np.sin(2 * np.pi * doy / 365.25),
        "doy_cos": np.cos(2 * np.pi * doy / 365.25),
        "month": index.month.to_numpy(dtype=np.float64),
        "day_of_month": index.day.to_numpy(dtype=np.float64),
        }
    if np.any(minutes):
        out |= {"minute_of_day": minutes, "tod_sin": np.sin(2 * np.pi * minutes / 1440),
                "tod_cos": np.cos(2 * np.pi * minutes / 1440)}
    if holidays is not None:
        days = set(holidays)
        out["holiday"] = np.array([d in days for d in index.date], dtype=np.float64)
    return pd.DataFrame(out, index=index)


def _window_mean(cum: NDArray[np.float64], cnt: NDArray[np.float64], end: NDArray[np.int64],
                 w: int) -> NDArray[np.float64]:
    """Mean of values at positions [end-w, end) from prefix sums (NaN-aware)."""
    start = np.maximum(end - w, 0)
    n = cnt[end] - cnt[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (cum[end] - cum[start]) / n, np.nan)


def _prefix(values: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    ok = np.isfinite(values)
    cum = np.concatenate([[0.0], np.cumsum(np.where(ok, values, 0.0))])
    cnt = np.concatenate([[0.0], np.cumsum(ok.astype(np.float64))])
    return cum, cnt


def origin_features(
    y: NDArray[np.float64] | pd.Series,
    index: pd.DatetimeIndex,
    origins: Sequence[int] | NDArray[np.int64],
    *,
    horizon: int,
    seasons: Sequence[int],
    windows: Sequence[int],
    level_window: int | None = None,
    exog: pd.DataFrame | None = None,
    exog_mode: str = "none",
    relative: bool = True,
    holidays: Collection[date] | None = None,
    annual: bool = True,
    profile_periods: Sequence[int] = (),
) -> OriginFrame:
    """Build the (origin, step) rows for ``origins``; see the module docstring for the rules.

    ``y`` holds the observed series (positions ``0..len(y)-1``); ``index`` gives the timestamps and may
    extend beyond ``y`` (future steps). ``exog`` must be aligned with ``index``.
    """
    if exog_mode not in EXOG_MODES:
        raise ValueError(f"exog_mode must be one of {EXOG_MODES}, not {exog_mode!r}")
    values = np.asarray(y, dtype=np.float64)
    orig = np.asarray(origins, dtype=np.int64)
    if orig.size and (orig.min() < 1 or orig.max() > len(values)):
        raise ValueError("each origin must satisfy 1 <= origin <= len(y)")
    steps = np.arange(horizon, dtype=np.int64)
    pos = (orig[:, None] + steps[None, :]).ravel()
    o = np.repeat(orig, horizon)
    k = np.tile(steps, len(orig))
    if pos.size and pos.max() >= len(index):
        raise ValueError("index is too short for the requested origins and horizon")
    cum, cnt = _prefix(values)
    lw = level_window or max(seasons)
    level = _window_mean(cum, cnt, o, lw)
    denom = np.where(relative & np.isfinite(level) & (level != 0), level, 1.0) if relative else np.ones_like(level)
    cols: dict[str, NDArray[np.float64]] = {"step": (k + 1).astype(np.float64)}
    for s in seasons:
        back = s * ((k + s) // s)  # smallest multiple of s that reaches before the origin
        for c in (0, 1):
            p = pos - back - c * s
            v = np.where(p >= 0, values[np.clip(p, 0, None)], np.nan)
            cols[f"snaive_{s}" + ("" if c == 0 else f"_{c + 1}")] = v / denom
    s0 = min(seasons)
    back0 = s0 * ((k + s0) // s0)
    for m in profile_periods:
        acc, n = np.zeros(len(pos)), np.zeros(len(pos))
        for c in range(m):
            p = pos - back0 - c * s0
            v = np.where(p >= 0, values[np.clip(p, 0, None)], np.nan)
            acc += np.nan_to_num(v)
            n += np.isfinite(v)
        with np.errstate(invalid="ignore", divide="ignore"):
            cols[f"profile_{s0}x{m}"] = np.where(n > 0, acc / n, np.nan) / denom
    cols["last"] = values[o - 1] / denom
    for w in windows:
        cols[f"mean_{w}"] = _window_mean(cum, cnt, o, w) / denom
    if relative:
        cols["log_level"] = np.log(np.where(level > 0, level, np.nan))
    X = pd.DataFrame(cols)
    cal = calendar_features(index[pos], holidays=holidays, annual=annual).reset_index(drop=True)
    X = pd.concat([X, cal], axis=1)
    if exog is not None and exog_mode != "none":
        X = pd.concat([X, _exog_features(exog, pos, o, exog_mode, s0, back0)], axis=1)
    target = np.where(pos < len(values), values[np.clip(pos, 0, len(values) - 1)], np.nan) / denom
    return OriginFrame(X=X, target=target, level=denom, position=pos, origin=o, step=k + 1)


def _exog_features(exog: pd.DataFrame, pos: NDArray[np.int64], o: NDArray[np.int64], mode: str,
                   window: int, back: NDArray[np.int64]) -> pd.DataFrame:
    """``same_time``: value at the target and its change since the seasonal-naive time (``pos - back``)."""
    out: dict[str, NDArray[np.float64]] = {}
    for col in exog.columns:
        v = exog[col].to_numpy(dtype=np.float64)
        if mode == "same_time":
            out[f"x_{col}"] = v[pos]
            p = pos - back
            out[f"x_{col}_delta"] = v[pos] - np.where(p >= 0, v[np.clip(p, 0, None)], np.nan)
        else:
            cum, cnt = _prefix(v)
            out[f"x_{col}_last"] = v[o - 1]
            out[f"x_{col}_mean"] = _window_mean(cum, cnt, o, window)
    return pd.DataFrame(out)


def seasonal_naive(y: NDArray[np.float64], origins: NDArray[np.int64], *, horizon: int,
                   season: int) -> NDArray[np.float64]:
    """Seasonal-naive forecasts (origins × horizon): the last known value at the same phase."""
    values = np.asarray(y, dtype=np.float64)
    k = np.arange(horizon)
    pos = np.asarray(origins)[:, None] + k[None, :]
    p = pos - season * ((k + season) // season)[None, :]
    return np.where(p >= 0, values[np.clip(p, 0, None)], np.nan)

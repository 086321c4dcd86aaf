"""Seed 003's task on the UCI Tetouan power data: its own protocol, and an honest day-ahead forecast.

* :func:`run_seed003_protocol` reproduces seed 003's evaluation protocol — targets clipped at each zone's
  99th percentile (computed on all rows, as it does), a *shuffled* 60/20/20 split with seed 42, model chosen
  on the validation split — but parses dates month-first (the file's real format; seed 003 parses them
  day-first) and adds two time features. A shuffled split lets a model interpolate between neighbouring
  10-minute readings, so these figures do not measure forecasting skill.
* :func:`run_day_ahead` is the honest counterpart: train on 2017-01-01…10-31, then every midnight from
  11-01 forecast the next 144 steps from the past only, scored on raw (unclipped) targets against the
  naive "one day earlier" and "one week earlier" forecasts. ``exog_mode="same_time"`` is the labelled
  variant allowed to see that day's observed weather.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split

from ayni.forecast.backtest import coverage, mae, r2, rmse
from ayni.forecast.features import seasonal_naive
from ayni.forecast.models import ZoneForecaster
from ayni.forecast.tabular import TabularForecaster

log = logging.getLogger(__name__)

ZONES = ("zone1", "zone2", "zone3")
WEATHER = ("temperature", "humidity", "wind_speed", "general_diffuse", "diffuse")
STEPS_PER_DAY = 144
_COLUMNS = {
    "Temperature": "temperature", "Humidity": "humidity", "Wind Speed": "wind_speed",
    "general diffuse flows": "general_diffuse", "diffuse flows": "diffuse",
    "Zone 1 Power Consumption": "zone1", "Zone 2  Power Consumption": "zone2",
    "Zone 3  Power Consumption": "zone3",
}
#: Seed 003's published README figures (validation split, its modified input file).
SEED003_README_MAE = {"zone1": 973.33, "zone2": 704.43, "zone3": 841.54}
#: Seed 003's own code re-run on the UCI file (issue 9): validation / test MAE and R², training time.
SEED003_ANCHOR: dict[str, Any] = {
    "val_mae": {"zone1": 784.6, "zone2": 547.3, "zone3": 538.8},
    "val_r2": {"zone1": 0.972, "zone2": 0.974, "zone3": 0.981},
    "test_mae": {"zone1": 768.8, "zone2": 543.0, "zone3": 536.9},
    "test_r2": {"zone1": 0.974, "zone2": 0.974, "zone3": 0.981},
    "train_seconds": 2386.0,
    "model_bytes_each": 565e6,
    "time_ordered_rf_mae": {"zone1": 1539.7, "zone2": 1309.5, "zone3": 1365.0},
    "week_earlier_mae": {"zone1": 891.2, "zone2": 985.3, "zone3": 1282.0},
    "day_earlier_mae": {"zone1": 977.3, "zone2": 1132.9, "zone3": 696.9},
}


def load_tetouan(path: str | Path) -> pd.DataFrame:
    """The UCI file with short column names and a 10-minute ``DatetimeIndex`` (parsed month-first)."""
    raw = pd.read_csv(path)
    index = pd.DatetimeIndex(pd.to_datetime(raw.pop("DateTime"), format="%m/%d/%Y %H:%M"), freq="infer")
    return raw.rename(columns=_COLUMNS).set_index(index)


# -- seed 003's protocol ------------------------------------------------------------------------------
def seed003_split(n: int, *, random_state: int = 42) -> tuple[NDArray[np.int64], ...]:
    """Row positions of seed 003's train/val/test split (20 % test, then 25 % of the rest)."""
    rest, test = train_test_split(np.arange(n), test_size=0.2, random_state=random_state)
    train, val = train_test_split(rest, test_size=0.25, random_state=random_state)
    return np.asarray(train), np.asarray(val), np.asarray(test)


def seed003_features(df: pd.DataFrame, *, extra: bool = True) -> pd.DataFrame:
    """Seed 003's 14 features (dates parsed correctly); ``extra`` adds minute-of-day and days-since-start."""
    idx = pd.DatetimeIndex(df.index)
    hour = idx.hour.to_numpy(dtype=np.float64)
    out = df[list(WEATHER)].copy()
    out["hour"] = hour
    out["hour_sin"], out["hour_cos"] = np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24)
    out["temp_x_hum"] = df["temperature"] * df["humidity"]
    out["radiation_total"] = df["general_diffuse"] + df["diffuse"]
    out["day_of_week"] = idx.day_of_week
    out["day_of_year"] = idx.day_of_year
    out["is_weekend"] = (idx.day_of_week >= 5).astype(int)
    out["month"] = idx.month
    if extra:
        out["minute_of_day"] = hour * 60 + idx.minute
        out["days_since_start"] = (idx - idx[0]).total_seconds() / 86400.0
    return out.astype(np.float64)


def clip_at_99th(df: pd.DataFrame, zones: tuple[str, ...] = ZONES) -> pd.DataFrame:
    """Seed 003's winsorisation: each zone clipped at its 99th percentile over *all* rows."""
    out = df.copy()
    for z in zones:
        out[z] = out[z].clip(upper=float(out[z].quantile(0.99)))
    return out


@dataclass
class ZoneScore:
    zone: str
    metrics: dict[str, float]
    model: str
    fit_seconds: float
    saved_bytes: int
    extra: dict[str, Any] = field(default_factory=dict)
    estimator: Any = None


def _saved_size(model: Any) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        return model.save(Path(tmp) / "model").stat().st_size  # type: ignore[no-any-return]


def run_seed003_protocol(df: pd.DataFrame, *, candidates: tuple[str, ...] = ("linear", "hist_gbm"),
                         model_params: dict[str, dict[str, Any]] | None = None, extra_features: bool = True,
                         random_state: int = 42) -> list[ZoneScore]:
    """Seed 003's shuffled 60/20/20 protocol on clipped targets; validation and test metrics per zone."""
    data = clip_at_99th(df)
    X = seed003_features(data, extra=extra_features)
    train, val, test = seed003_split(len(data), random_state=42)
    scores = []
    for zone in ZONES:
        y = data[zone].to_numpy(dtype=np.float64)
        start = time.perf_counter()
        model = TabularForecaster(candidates=candidates, refit=False, model_params=model_params,
                                  random_state=random_state)
        model.fit(X.iloc[train], y[train], validation=(X.iloc[val], y[val]))
        seconds = time.perf_counter() - start
        m: dict[str, float] = {}
        for name, rows in (("val", val), ("test", test)):
            pred = model.predict_interval(X.iloc[rows])
            m |= {f"{name}_mae": mae(y[rows], pred["mean"]), f"{name}_rmse": rmse(y[rows], pred["mean"]),
                  f"{name}_r2": r2(y[rows], pred["mean"])}
        m["test_coverage"] = coverage(y[test], pred["lower"], pred["upper"])
        scores.append(ZoneScore(zone, m, model.chosen_, seconds, _saved_size(model), estimator=model))
        log.info("seed003 protocol %s: %s", zone, m)
    return scores


# -- honest day-ahead ---------------------------------------------------------------------------------
def day_ahead_forecaster(*, exog_mode: str = "none", random_state: int = 0,
                         candidates: tuple[str, ...] = ("seasonal_naive", "linear", "random_forest", "hist_gbm"),
                         ) -> ZoneForecaster:
    """The day-ahead configuration: midnight origins, 144 steps, daily and weekly seasons."""
    return ZoneForecaster(
        horizon=STEPS_PER_DAY, seasons=(STEPS_PER_DAY, 7 * STEPS_PER_DAY), windows=(6, 36, 144, 1008),
        level_window=STEPS_PER_DAY, origin_every=STEPS_PER_DAY, exog_mode=exog_mode, candidates=candidates,
        n_splits=3, n_interval_buckets=4, annual_features=False,
        profile_periods=(3, 7), exog_optional=True, random_state=random_state,
        model_params={"random_forest": {"n_estimators": 40, "max_samples": 0.3, "max_depth": 14},
                      "hist_gbm": {"max_iter": 300, "learning_rate": 0.05}},
    )


def day_ahead_origins(df: pd.DataFrame, *, train_end: str = "2017-10-31") -> tuple[int, NDArray[np.int64]]:
    """Number of training rows and the midnight origins after ``train_end`` whose whole day is observed."""
    index = pd.DatetimeIndex(df.index)
    n_train = int((index < pd.Timestamp(train_end) + pd.Timedelta(days=1)).sum())
    return n_train, np.arange(n_train, len(df) - STEPS_PER_DAY + 1, STEPS_PER_DAY, dtype=np.int64)


def run_day_ahead(df: pd.DataFrame, *, exog_mode: str = "none", train_end: str = "2017-10-31",
                  candidates: tuple[str, ...] = ("seasonal_naive", "linear", "random_forest", "hist_gbm"),
                  random_state: int = 0) -> list[ZoneScore]:
    """Train through ``train_end``; forecast each later day at midnight; MAE vs naive baselines."""
    index = pd.DatetimeIndex(df.index)
    n_train, origins = day_ahead_origins(df, train_end=train_end)
    exog = df[list(WEATHER)] if exog_mode != "none" else None
    scores = []
    for zone in ZONES:
        y = df[zone].to_numpy(dtype=np.float64)
        start = time.perf_counter()
        model = day_ahead_forecaster(exog_mode=exog_mode, random_state=random_state, candidates=candidates)
        model.fit(df[zone].iloc[:n_train], None if exog is None else exog.iloc[:n_train])
        seconds = time.perf_counter() - start
        pred = model.predict_origins(y, index, origins, exog)
        truth = y[pred["position"].to_numpy()]
        day = seasonal_naive(y, origins, horizon=STEPS_PER_DAY, season=STEPS_PER_DAY).ravel()
        week = seasonal_naive(y, origins, horizon=STEPS_PER_DAY, season=7 * STEPS_PER_DAY).ravel()
        m = {"mae": mae(truth, pred["mean"]), "rmse": rmse(truth, pred["mean"]),
             "day_earlier_mae": mae(truth, day), "week_earlier_mae": mae(truth, week),
             "coverage": coverage(truth, pred["lower"], pred["upper"])}
        scores.append(ZoneScore(zone, m, model.chosen_, seconds, _saved_size(model),
                                extra={"cv_scores": model.cv_scores_}, estimator=model))
        log.info("day-ahead (%s) %s: %s", exog_mode, zone, m)
    return scores

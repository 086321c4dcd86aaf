"""Estimators: a per-zone direct multi-step forecaster, a per-zone wrapper, and a tabular regressor.

All follow scikit-learn's conventions: ``__init__`` only stores keyword hyperparameters, ``fit``
validates its input, sets the learned ``*_`` attributes and returns ``self``, prediction starts with a
fitted check, and ``random_state`` seeds every random choice. Fitted state is numpy arrays plus JSON, so
``save``/``load`` never use pickle (see ``_persist``).

Model choice: the candidates (seasonal naive, ridge linear, random forest, histogram gradient boosting)
are scored by expanding-window time-series cross-validation on forecast origins; the one with the lowest
MAE is refitted on all origins. Prediction intervals are split-conformal: quantiles of the chosen model's
out-of-fold residuals, per block of forecast steps. With ``exog_optional=True`` each learned candidate
also competes without the exogenous inputs (``linear-no_exog`` …), so CV can decide that they do not help.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ayni.errors import InvalidInput, ModelUnavailable
from ayni.forecast._persist import read_npz, write_npz
from ayni.forecast._regressors import LEARNED_KINDS, CompiledRegressor, fit_regressor
from ayni.forecast.features import OriginFrame, origin_features

CANDIDATES = ("seasonal_naive", *LEARNED_KINDS)
_NO_EXOG = "-no_exog"


def _check_fitted(est: Any, attr: str) -> None:
    if not hasattr(est, attr):
        raise ModelUnavailable(f"{type(est).__name__} is not fitted yet; call fit() first")


def _interval_quantiles(residuals: NDArray[np.float64], buckets: NDArray[np.int64], n_buckets: int,
                        coverage: float) -> NDArray[np.float64]:
    """Lower/upper residual quantiles per bucket (falls back to all residuals for an empty bucket)."""
    lo, hi = (1 - coverage) / 2, (1 + coverage) / 2
    out = np.zeros((n_buckets, 2))
    for b in range(n_buckets):
        r = residuals[buckets == b]
        r = r if r.size >= 20 else residuals
        out[b] = np.quantile(r, [lo, hi]) if r.size else (0.0, 0.0)
    return out


class ZoneForecaster:
    """Direct multi-step forecaster for one regular time series (one zone).

    ``fit(y, exog)`` takes a ``pd.Series`` with a regular ``DatetimeIndex``; ``predict(y, exog)`` forecasts
    the ``horizon`` steps after the end of ``y``; ``predict_origins`` does many origins at once for
    backtests. With ``exog_mode="same_time"`` the caller must supply exogenous values for the forecast
    steps (observed weather, say): label such results as not being a real forecast.
    """

    def __init__(
        self,
        *,
        horizon: int = 7,
        seasons: Sequence[int] = (7,),
        windows: Sequence[int] = (7, 28),
        level_window: int | None = None,
        candidates: Sequence[str] = CANDIDATES,
        n_splits: int = 3,
        origin_every: int = 1,
        min_history: int | None = None,
        exog_mode: str = "none",
        relative: bool = True,
        coverage: float = 0.8,
        n_interval_buckets: int = 4,
        holidays: Collection[date] | None = None,
        annual_features: bool = False,
        profile_periods: Sequence[int] = (),
        exog_optional: bool = False,
        model_params: dict[str, dict[str, Any]] | None = None,
        random_state: int | None = 0,
    ) -> None:
        self.horizon = horizon
        self.seasons = seasons
        self.windows = windows
        self.level_window = level_window
        self.candidates = candidates
        self.n_splits = n_splits
        self.origin_every = origin_every
        self.min_history = min_history
        self.exog_mode = exog_mode
        self.relative = relative
        self.coverage = coverage
        self.n_interval_buckets = n_interval_buckets
        self.holidays = holidays
        self.annual_features = annual_features
        self.profile_periods = profile_periods
        self.exog_optional = exog_optional
        self.model_params = model_params
        self.random_state = random_state

    # -- fitting -------------------------------------------------------------------------------
    def _frame(self, y: NDArray[np.float64], index: pd.DatetimeIndex, origins: NDArray[np.int64],
               exog: pd.DataFrame | None) -> OriginFrame:
        return origin_features(
            y, index, origins, horizon=self.horizon, seasons=self.seasons, windows=self.windows,
            level_window=self.level_window, exog=exog, exog_mode=self.exog_mode, relative=self.relative,
            holidays=self.holidays, annual=self.annual_features, profile_periods=self.profile_periods,
        )

    def _validate(self, y: pd.Series) -> None:
        if not isinstance(y.index, pd.DatetimeIndex) or y.index.freq is None and pd.infer_freq(y.index) is None:
            raise InvalidInput("y must be a pd.Series with a regular DatetimeIndex")
        bad = [c for c in self.candidates if c not in CANDIDATES]
        if bad or not self.candidates:
            raise InvalidInput(f"unknown candidates {bad}; choose from {CANDIDATES}")
        if self.horizon < 1 or not 0 < self.coverage < 1:
            raise InvalidInput("horizon must be >= 1 and coverage in (0, 1)")

    def fit(self, y: pd.Series, exog: pd.DataFrame | None = None) -> ZoneForecaster:
        """Choose a candidate by expanding-window CV, refit it on all origins, calibrate intervals."""
        self._validate(y)
        values = y.to_numpy(dtype=np.float64)
        index = pd.DatetimeIndex(y.index)
        start = self.min_history or max(2 * max(self.seasons), max(self.windows), self.level_window or 0)
        origins = np.arange(start, len(values) - self.horizon + 1, self.origin_every, dtype=np.int64)
        if len(origins) < 5 * (self.n_splits + 2):
            raise InvalidInput(f"series too short: {len(values)} points give only {len(origins)} origins")
        frame = self._frame(values, index, origins, exog)
        scores, oof = self._cross_validate(frame, origins)
        self.cv_scores_ = scores
        self.chosen_ = min(scores, key=lambda c: scores[c])
        self.regressor_ = self._fit_candidate(self.chosen_, frame)
        buckets = self._bucket(oof[self.chosen_][1])
        self.interval_ = _interval_quantiles(oof[self.chosen_][0], buckets, self._n_buckets, self.coverage)
        self.feature_names_ = list(frame.X.columns)
        self.freq_ = str(pd.tseries.frequencies.to_offset(index.freq or pd.infer_freq(index)).freqstr)  # type: ignore[union-attr]
        self.n_train_ = len(values)
        return self

    @property
    def _n_buckets(self) -> int:
        return max(1, min(self.n_interval_buckets, self.horizon))

    def _bucket(self, step: NDArray[np.int64]) -> NDArray[np.int64]:
        return ((step - 1) * self._n_buckets // self.horizon).astype(np.int64)

    def _candidate_names(self) -> list[str]:
        names = []
        for c in self.candidates:
            names += [f"seasonal_naive:{s}" for s in self.seasons] if c == "seasonal_naive" else [c]
        if self.exog_optional and self.exog_mode != "none":
            names += [f"{c}{_NO_EXOG}" for c in self.candidates if c in LEARNED_KINDS]
        return names

    @staticmethod
    def _matrix(name: str, frame: OriginFrame) -> NDArray[np.float64]:
        """Feature matrix for candidate ``name`` (``…-no_exog`` drops the exogenous ``x_*`` columns)."""
        X = frame.X
        if name.endswith(_NO_EXOG):
            X = X[[c for c in X.columns if not c.startswith("x_")]]
        return X.to_numpy(dtype=np.float64)

    @staticmethod
    def _snaive(frame: OriginFrame, season: int) -> NDArray[np.float64]:
        pred = frame.X[f"snaive_{season}"].to_numpy(dtype=np.float64)
        return np.where(np.isfinite(pred), pred, frame.X["last"].to_numpy(dtype=np.float64))

    def _fit_candidate(self, name: str, frame: OriginFrame) -> CompiledRegressor | None:
        if name.startswith("seasonal_naive"):
            return None
        kind = name.removesuffix(_NO_EXOG)
        params = (self.model_params or {}).get(kind)
        return fit_regressor(kind, self._matrix(name, frame), frame.target, params=params,
                             random_state=self.random_state)

    def _predict_frame(self, name: str, regressor: CompiledRegressor | None, frame: OriginFrame) -> NDArray[np.float64]:
        if name.startswith("seasonal_naive"):
            return self._snaive(frame, int(name.split(":")[1]))
        assert regressor is not None
        return regressor.predict(self._matrix(name, frame))

    def _cross_validate(self, frame: OriginFrame, origins: NDArray[np.int64]
                        ) -> tuple[dict[str, float], dict[str, tuple[NDArray[np.float64], NDArray[np.int64]]]]:
        block = max(len(origins) // (self.n_splits + 2), 1)
        names = self._candidate_names()
        errors: dict[str, list[NDArray[np.float64]]] = {n: [] for n in names}
        resid: dict[str, list[NDArray[np.float64]]] = {n: [] for n in names}
        steps: list[NDArray[np.int64]] = []
        for i in range(self.n_splits):
            val_origins = origins[len(origins) - (self.n_splits - i) * block:][:block]
            first = val_origins[0]
            train = frame.origin + self.horizon <= first
            val = np.isin(frame.origin, val_origins)
            tr, va = _subset(frame, train), _subset(frame, val)
            steps.append(va.step)
            for name in names:
                pred = self._predict_frame(name, self._fit_candidate(name, tr), va)
                r = va.target - pred
                resid[name].append(r)
                errors[name].append(np.abs(r * va.level))
        scores = {n: float(np.nanmean(np.concatenate(errors[n]))) for n in names}
        step_all = np.concatenate(steps)
        oof = {n: (np.nan_to_num(np.concatenate(resid[n])), step_all) for n in names}
        return scores, oof

    # -- prediction ----------------------------------------------------------------------------
    def predict_origins(self, y: NDArray[np.float64] | pd.Series, index: pd.DatetimeIndex,
                        origins: Sequence[int] | NDArray[np.int64],
                        exog: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecasts for each origin (features read ``y`` only before that origin)."""
        _check_fitted(self, "chosen_")
        frame = self._frame(np.asarray(y, dtype=np.float64), index, np.asarray(origins, dtype=np.int64), exog)
        pred = self._predict_frame(self.chosen_, self.regressor_, frame)
        q = self.interval_[self._bucket(frame.step)]
        return pd.DataFrame({
            "origin": frame.origin, "position": frame.position, "step": frame.step,
            "timestamp": index[frame.position], "mean": pred * frame.level,
            "lower": (pred + q[:, 0]) * frame.level, "upper": (pred + q[:, 1]) * frame.level,
        })

    def predict(self, y: pd.Series, exog: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast the ``horizon`` steps after the end of ``y``; columns ``mean, lower, upper``.

        ``exog`` (when used) must cover ``y``'s index and, for ``same_time``, the forecast steps.
        """
        _check_fitted(self, "chosen_")
        future = pd.date_range(y.index[-1], periods=self.horizon + 1, freq=self.freq_)[1:]
        index = pd.DatetimeIndex(pd.DatetimeIndex(y.index).append(future))
        if exog is not None:
            exog = exog.reindex(index)
        out = self.predict_origins(y.to_numpy(dtype=np.float64), index, [len(y)], exog)
        return out.set_index("timestamp")[["mean", "lower", "upper"]]

    # -- persistence ---------------------------------------------------------------------------
    def _state(self, prefix: str) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        _check_fitted(self, "chosen_")
        params = {k: getattr(self, k) for k in _ZONE_PARAMS}
        params["holidays"] = sorted(d.isoformat() for d in self.holidays) if self.holidays is not None else None
        params = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
        meta = {"params": params, "chosen": self.chosen_, "cv_scores": self.cv_scores_,
                "feature_names": self.feature_names_, "freq": self.freq_, "n_train": self.n_train_}
        arrays = {f"{prefix}interval": self.interval_}
        if self.regressor_ is not None:
            arrays.update(self.regressor_.to_arrays(prefix))
        return meta, arrays

    @classmethod
    def _from_state(cls, meta: dict[str, Any], arrays: dict[str, NDArray[Any]], prefix: str) -> ZoneForecaster:
        params = dict(meta["params"])
        if params.get("holidays") is not None:
            params["holidays"] = {date.fromisoformat(d) for d in params["holidays"]}
        est = cls(**params)
        est.chosen_ = meta["chosen"]
        est.cv_scores_ = meta["cv_scores"]
        est.feature_names_ = meta["feature_names"]
        est.freq_ = meta["freq"]
        est.n_train_ = meta["n_train"]
        est.interval_ = arrays[f"{prefix}interval"]
        kind = est.chosen_.removesuffix(_NO_EXOG)
        est.regressor_ = None if kind.startswith("seasonal_naive") else CompiledRegressor.from_arrays(kind, arrays, prefix)
        return est

    def save(self, path: str | Path) -> Path:
        """Write the fitted model to ``path`` (``.npz``, no pickle)."""
        meta, arrays = self._state("m_")
        return write_npz(path, {"format": "ZoneForecaster", **meta}, arrays)

    @classmethod
    def load(cls, path: str | Path) -> ZoneForecaster:
        meta, arrays = read_npz(path, expected_format="ZoneForecaster")
        return cls._from_state(meta, arrays, "m_")


_ZONE_PARAMS = ("horizon", "seasons", "windows", "level_window", "candidates", "n_splits", "origin_every",
                "min_history", "exog_mode", "relative", "coverage", "n_interval_buckets", "holidays",
                "annual_features", "profile_periods", "exog_optional",
                "model_params", "random_state")


def _subset(frame: OriginFrame, mask: NDArray[np.bool_]) -> OriginFrame:
    return OriginFrame(X=frame.X.loc[mask].reset_index(drop=True), target=frame.target[mask],
                       level=frame.level[mask], position=frame.position[mask], origin=frame.origin[mask],
                       step=frame.step[mask])


class PerZoneForecaster:
    """One :class:`ZoneForecaster` per zone column, each choosing its own model; one file for all."""

    def __init__(self, *, zone_params: dict[str, Any] | None = None) -> None:
        self.zone_params = zone_params

    def fit(self, data: pd.DataFrame, *, zones: Sequence[str], exog: pd.DataFrame | None = None) -> PerZoneForecaster:
        """Fit one forecaster per column in ``zones`` of ``data`` (regular ``DatetimeIndex``)."""
        missing = [z for z in zones if z not in data.columns]
        if missing:
            raise InvalidInput(f"zones not in data: {missing}")
        self.forecasters_ = {z: ZoneForecaster(**(self.zone_params or {})).fit(data[z], exog) for z in zones}
        return self

    def predict(self, data: pd.DataFrame, exog: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
        _check_fitted(self, "forecasters_")
        return {z: f.predict(data[z], exog) for z, f in self.forecasters_.items()}

    def save(self, path: str | Path) -> Path:
        _check_fitted(self, "forecasters_")
        metas, arrays = {}, {}
        for i, (zone, f) in enumerate(self.forecasters_.items()):
            meta, arr = f._state(f"z{i}_")
            metas[zone] = meta
            arrays.update(arr)
        return write_npz(path, {"format": "PerZoneForecaster", "zones": metas}, arrays)

    @classmethod
    def load(cls, path: str | Path) -> PerZoneForecaster:
        meta, arrays = read_npz(path, expected_format="PerZoneForecaster")
        est = cls()
        est.forecasters_ = {zone: ZoneForecaster._from_state(m, arrays, f"z{i}_")
                            for i, (zone, m) in enumerate(meta["zones"].items())}
        return est

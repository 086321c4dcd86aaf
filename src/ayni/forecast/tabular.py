"""A tabular regressor that picks its model among candidates and gives conformal intervals.

Used where rows are not one regular series: MINAM's district × year panel (candidates scored by
expanding-window CV over years) and seed 003's shuffled protocol (candidates scored on its validation
split). A candidate is a learned kind (``linear``, ``random_forest``, ``hist_gbm``) or ``column:<name>``,
meaning "predict the feature ``<name>`` as it is" (a baseline such as last value or linear trend).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ayni.errors import InvalidInput
from ayni.forecast._persist import read_npz, write_npz
from ayni.forecast._regressors import LEARNED_KINDS, CompiledRegressor, fit_regressor
from ayni.forecast.models import _check_fitted


class TabularForecaster:
    """Choose a candidate by validation MAE (holdout or expanding-window CV), refit, calibrate intervals."""

    def __init__(self, *, candidates: Sequence[str] = ("linear", "hist_gbm"), n_splits: int = 2,
                 coverage: float = 0.8, refit: bool = True,
                 model_params: dict[str, dict[str, Any]] | None = None, random_state: int | None = 0) -> None:
        self.candidates = candidates
        self.n_splits = n_splits
        self.coverage = coverage
        self.refit = refit
        self.model_params = model_params
        self.random_state = random_state

    def _fit_one(self, name: str, X: pd.DataFrame, y: NDArray[np.float64]) -> CompiledRegressor | None:
        if name.startswith("column:"):
            return None
        params = (self.model_params or {}).get(name)
        return fit_regressor(name, X.to_numpy(dtype=np.float64), y, params=params, random_state=self.random_state)

    @staticmethod
    def _predict_one(name: str, reg: CompiledRegressor | None, X: pd.DataFrame) -> NDArray[np.float64]:
        if name.startswith("column:"):  # a missing baseline value falls back to 0 (no change)
            return np.nan_to_num(X[name.split(":", 1)[1]].to_numpy(dtype=np.float64), posinf=0.0, neginf=0.0)
        assert reg is not None
        return reg.predict(X.to_numpy(dtype=np.float64))

    def fit(self, X: pd.DataFrame, y: Sequence[float] | NDArray[np.float64], *,
            time: Sequence[Any] | NDArray[Any] | None = None,
            validation: tuple[pd.DataFrame, Sequence[float] | NDArray[np.float64]] | None = None,
            ) -> TabularForecaster:
        """Fit. Exactly one of ``time`` (expanding-window CV by time value) or ``validation`` (holdout)."""
        target = np.asarray(y, dtype=np.float64)
        if (time is None) == (validation is None):
            raise InvalidInput("give exactly one of time= (time-series CV) or validation= (holdout)")
        for c in self.candidates:
            if c not in LEARNED_KINDS and not (c.startswith("column:") and c.split(":", 1)[1] in X.columns):
                raise InvalidInput(f"unknown candidate {c!r}")
        folds = self._folds(X, target, time, validation)
        resid: dict[str, list[NDArray[np.float64]]] = {c: [] for c in self.candidates}
        fitted: dict[str, CompiledRegressor | None] = {}
        for Xtr, ytr, Xva, yva in folds:
            for c in self.candidates:
                fitted[c] = self._fit_one(c, Xtr, ytr)
                resid[c].append(yva - self._predict_one(c, fitted[c], Xva))
        self.cv_scores_ = {c: float(np.mean(np.abs(np.concatenate(r)))) for c, r in resid.items()}
        self.chosen_ = min(self.cv_scores_, key=lambda c: self.cv_scores_[c])
        refit = self.refit or validation is None
        self.regressor_ = self._fit_one(self.chosen_, X, target) if refit else fitted[self.chosen_]
        r = np.concatenate(resid[self.chosen_])
        self.interval_ = np.quantile(r, [(1 - self.coverage) / 2, (1 + self.coverage) / 2])
        self.feature_names_ = list(X.columns)
        return self

    def _folds(self, X: pd.DataFrame, y: NDArray[np.float64], time: Any, validation: Any
               ) -> list[tuple[pd.DataFrame, NDArray[np.float64], pd.DataFrame, NDArray[np.float64]]]:
        if validation is not None:
            return [(X, y, validation[0], np.asarray(validation[1], dtype=np.float64))]
        t = np.asarray(time)
        values = np.unique(t)
        if len(values) <= self.n_splits:
            raise InvalidInput(f"need more than {self.n_splits} distinct time values for CV")
        out = []
        for v in values[-self.n_splits:]:
            tr, va = t < v, t == v
            out.append((X.loc[tr], y[tr], X.loc[va], y[va]))
        return out

    def predict(self, X: pd.DataFrame) -> NDArray[np.float64]:
        _check_fitted(self, "chosen_")
        return self._predict_one(self.chosen_, self.regressor_, X[self.feature_names_])

    def predict_interval(self, X: pd.DataFrame) -> pd.DataFrame:
        """Columns ``mean, lower, upper`` (split-conformal, nominal ``coverage``)."""
        mean = self.predict(X)
        return pd.DataFrame({"mean": mean, "lower": mean + self.interval_[0], "upper": mean + self.interval_[1]},
                            index=X.index)

    def save(self, path: str | Path) -> Path:
        _check_fitted(self, "chosen_")
        params = {"candidates": list(self.candidates), "n_splits": self.n_splits, "coverage": self.coverage,
                  "refit": self.refit, "model_params": self.model_params, "random_state": self.random_state}
        meta = {"format": "TabularForecaster", "params": params, "chosen": self.chosen_,
                "cv_scores": self.cv_scores_, "feature_names": self.feature_names_}
        arrays = {"interval": self.interval_}
        if self.regressor_ is not None:
            arrays.update(self.regressor_.to_arrays("m_"))
        return write_npz(path, meta, arrays)

    @classmethod
    def load(cls, path: str | Path) -> TabularForecaster:
        meta, arrays = read_npz(path, expected_format="TabularForecaster")
        est = cls(**meta["params"])
        est.chosen_, est.cv_scores_ = meta["chosen"], meta["cv_scores"]
        est.feature_names_, est.interval_ = meta["feature_names"], arrays["interval"]
        c = est.chosen_
        est.regressor_ = None if c.startswith("column:") else CompiledRegressor.from_arrays(c, arrays, "m_")
        return est

"""Candidate regressors, fitted with scikit-learn and kept in a compiled, pickle-free form.

``fit_regressor`` trains one candidate and returns a :class:`CompiledRegressor` whose state is plain
numpy arrays: a linear model is its coefficients, a tree model a :class:`TreeEnsemble`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import Ridge
from threadpoolctl import threadpool_limits

from ayni.forecast._trees import TreeEnsemble, compile_forest, compile_hist_gbm

LEARNED_KINDS = ("linear", "random_forest", "hist_gbm")

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "linear": {"alpha": 1.0},
    "random_forest": {"n_estimators": 60, "max_depth": 12, "min_samples_leaf": 5, "max_samples": 0.5,
                      "max_features": 0.5, "n_jobs": 1},
    "hist_gbm": {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 31, "min_samples_leaf": 40,
                 "l2_regularization": 1.0},
}


@dataclass
class CompiledRegressor:
    """A fitted candidate: ``linear`` (coef/intercept on raw features, NaN → train mean) or trees."""

    kind: str
    fill: NDArray[np.float64]
    coef: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    intercept: float = 0.0
    trees: TreeEnsemble | None = None

    def predict(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        data = np.asarray(X, dtype=np.float64)
        data = np.where(np.isfinite(data), data, np.nan)
        if self.kind == "linear":
            data = np.where(np.isnan(data), self.fill, data)
            return np.asarray(data @ self.coef + self.intercept, dtype=np.float64)
        assert self.trees is not None
        return self.trees.predict(data)

    @property
    def size(self) -> int:
        """Number of stored numbers (a rough size measure)."""
        return int(self.coef.size + (self.trees.n_nodes * 6 if self.trees else 0))

    def to_arrays(self, prefix: str) -> dict[str, NDArray[Any]]:
        out: dict[str, NDArray[Any]] = {f"{prefix}fill": self.fill}
        if self.kind == "linear":
            out[f"{prefix}coef"] = self.coef
            out[f"{prefix}intercept"] = np.array([self.intercept])
        else:
            assert self.trees is not None
            out.update(self.trees.to_arrays(prefix))
        return out

    @classmethod
    def from_arrays(cls, kind: str, arrays: dict[str, NDArray[Any]], prefix: str) -> CompiledRegressor:
        fill = arrays[f"{prefix}fill"]
        if kind == "linear":
            return cls(kind, fill, coef=arrays[f"{prefix}coef"], intercept=float(arrays[f"{prefix}intercept"][0]))
        return cls(kind, fill, trees=TreeEnsemble.from_arrays(arrays, prefix))


def fit_regressor(
    kind: str,
    X: NDArray[np.float64],
    y: NDArray[np.float64],
    *,
    params: dict[str, Any] | None = None,
    random_state: int | None = 0,
    n_threads: int = 1,
) -> CompiledRegressor:
    """Fit candidate ``kind`` on ``X, y`` and compile it.

    ``n_threads`` caps OpenMP/BLAS threads during the fit: on a small shared machine one thread is
    several times faster than oversubscribed cores.
    """
    with threadpool_limits(limits=n_threads):
        return _fit(kind, X, y, params=params, random_state=random_state)


def _fit(kind: str, X: NDArray[np.float64], y: NDArray[np.float64], *, params: dict[str, Any] | None,
         random_state: int | None) -> CompiledRegressor:
    if kind not in LEARNED_KINDS:
        raise ValueError(f"unknown regressor kind {kind!r}; expected one of {LEARNED_KINDS}")
    hp = {**DEFAULT_PARAMS[kind], **(params or {})}
    X = np.asarray(X, dtype=np.float64)
    X = np.where(np.isfinite(X), X, np.nan)
    with np.errstate(all="ignore"):
        fill = np.nan_to_num(np.nanmean(X, axis=0)) if len(X) else np.zeros(X.shape[1])
    if kind == "linear":
        return _fit_linear(X, y, fill, alpha=float(hp["alpha"]))
    if kind == "random_forest":
        Xf = np.where(np.isnan(X), fill, X)
        forest = RandomForestRegressor(random_state=random_state, **hp).fit(Xf, y)
        return CompiledRegressor(kind, fill, trees=compile_forest(forest))
    gbm = HistGradientBoostingRegressor(random_state=random_state, early_stopping=False, **hp).fit(X, y)
    return CompiledRegressor(kind, fill, trees=compile_hist_gbm(gbm))


def _fit_linear(X: NDArray[np.float64], y: NDArray[np.float64], fill: NDArray[np.float64], *,
                alpha: float) -> CompiledRegressor:
    data = np.where(np.isnan(X), fill, X)
    mean, std = data.mean(axis=0), data.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    ridge = Ridge(alpha=alpha).fit((data - mean) / std, y)
    coef = ridge.coef_ / std
    intercept = float(ridge.intercept_ - np.dot(mean, coef))
    return CompiledRegressor("linear", fill, coef=np.asarray(coef, dtype=np.float64), intercept=intercept)

"""A small, pickle-free representation of fitted tree ensembles.

Random forests and histogram gradient boosting from scikit-learn are *compiled* into flat numpy arrays
(one row per node, all trees concatenated) right after fitting. Prediction walks those arrays with
vectorised numpy, so a saved model is a handful of arrays in an ``.npz`` file that loads with
``allow_pickle=False`` and does not depend on scikit-learn's private classes or version.

Decision rule (both scikit-learn families): go left when ``x <= threshold``; a missing value goes
left when ``missing_left`` is set.  Random forests compare in float32 as scikit-learn does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

_FIELDS = ("feature", "threshold", "left", "right", "value", "missing_left", "roots")


@dataclass(frozen=True)
class TreeEnsemble:
    """Nodes of all trees; ``left``/``right`` are absolute node indices, -1 marks a leaf."""

    feature: NDArray[np.int32]
    threshold: NDArray[np.float64]
    left: NDArray[np.int32]
    right: NDArray[np.int32]
    value: NDArray[np.float64]
    missing_left: NDArray[np.bool_]
    roots: NDArray[np.int32]
    base: float
    scale: float
    float32: bool

    @property
    def n_nodes(self) -> int:
        return int(self.feature.shape[0])

    def predict(self, X: NDArray[np.float64]) -> NDArray[np.float64]:
        """Sum of leaf values over trees, times ``scale``, plus ``base``."""
        data = np.asarray(X, dtype=np.float32 if self.float32 else np.float64)
        rows = np.arange(data.shape[0])
        total = np.zeros(data.shape[0], dtype=np.float64)
        for root in self.roots:
            node = np.full(data.shape[0], root, dtype=np.int64)
            active = self.left[node] >= 0
            while active.any():
                idx = node[active]
                x = data[rows[active], self.feature[idx]]
                go_left = np.where(np.isnan(x), self.missing_left[idx], np.less_equal(x, self.threshold[idx]))
                node[active] = np.where(go_left, self.left[idx], self.right[idx])
                active = self.left[node] >= 0
            total += self.value[node]
        return self.base + self.scale * total

    def to_arrays(self, prefix: str) -> dict[str, NDArray[Any]]:
        out: dict[str, NDArray[Any]] = {f"{prefix}{name}": getattr(self, name) for name in _FIELDS}
        out[f"{prefix}meta"] = np.array([self.base, self.scale, float(self.float32)])
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, NDArray[Any]], prefix: str) -> TreeEnsemble:
        base, scale, f32 = (float(v) for v in arrays[f"{prefix}meta"])
        parts = {name: arrays[f"{prefix}{name}"] for name in _FIELDS}
        return cls(**parts, base=base, scale=scale, float32=bool(f32))  # type: ignore[arg-type]


def _concat(trees: list[dict[str, NDArray[Any]]], *, base: float, scale: float, float32: bool) -> TreeEnsemble:
    roots, offset = [], 0
    shifted: list[dict[str, NDArray[Any]]] = []
    for tree in trees:
        roots.append(offset)
        t = dict(tree)
        for key in ("left", "right"):
            t[key] = np.where(t[key] >= 0, t[key] + offset, -1)
        shifted.append(t)
        offset += len(t["feature"])
    cat = {k: np.concatenate([t[k] for t in shifted]) for k in ("feature", "threshold", "left", "right",
                                                                   "value", "missing_left")}
    return TreeEnsemble(
        feature=cat["feature"].astype(np.int32), threshold=cat["threshold"].astype(np.float64),
        left=cat["left"].astype(np.int32), right=cat["right"].astype(np.int32),
        value=cat["value"].astype(np.float64), missing_left=cat["missing_left"].astype(bool),
        roots=np.asarray(roots, dtype=np.int32), base=base, scale=scale, float32=float32,
    )


def compile_forest(model: Any) -> TreeEnsemble:
    """Compile a fitted ``RandomForestRegressor`` / ``ExtraTreesRegressor`` (single output)."""
    trees = []
    for est in model.estimators_:
        t = est.tree_
        leaf = t.children_left < 0
        missing = getattr(t, "missing_go_to_left", np.zeros(t.node_count, dtype=np.uint8))
        trees.append({
            "feature": np.where(leaf, 0, t.feature), "threshold": t.threshold,
            "left": np.where(leaf, -1, t.children_left), "right": np.where(leaf, -1, t.children_right),
            "value": t.value[:, 0, 0], "missing_left": np.asarray(missing, dtype=bool),
        })
    return _concat(trees, base=0.0, scale=1.0 / len(trees), float32=True)


def compile_hist_gbm(model: Any) -> TreeEnsemble:
    """Compile a fitted ``HistGradientBoostingRegressor`` (identity link, numeric features only)."""
    trees = []
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        if np.any(nodes["is_categorical"]):
            raise ValueError("categorical splits are not supported by the compiled format")
        leaf = nodes["is_leaf"].astype(bool)
        trees.append({
            "feature": np.where(leaf, 0, nodes["feature_idx"]), "threshold": nodes["num_threshold"],
            "left": np.where(leaf, -1, nodes["left"].astype(np.int64)),
            "right": np.where(leaf, -1, nodes["right"].astype(np.int64)),
            "value": nodes["value"], "missing_left": nodes["missing_go_to_left"].astype(bool),
        })
    base = float(np.ravel(model._baseline_prediction)[0])
    return _concat(trees, base=base, scale=1.0, float32=False)

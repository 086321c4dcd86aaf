"""The learnt P(partner accepts and collects): features, a scikit-learn-style estimator, JSON persistence.

``AcceptanceModel`` wraps ``HistGradientBoostingClassifier`` (binary, numeric features only). After
``fit`` the trees are *compiled* into plain arrays (feature, threshold, children, missing direction,
leaf value) and every prediction — in process or after ``load`` — walks those arrays with numpy; the
JSON file holds exactly those arrays plus the baseline log-odds, so nothing is unpickled at serve time.
The export reads scikit-learn's fitted ``_predictors`` / ``_baseline_prediction`` (private, stable since
0.21); ``tests/unit/matching`` checks that compiled and scikit-learn probabilities agree, so an
upgrade that changes them fails loudly rather than silently.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier

from ayni.domain.lifecycle import PartnerKind, ProducerKind
from ayni.domain.materials import CLASSES, MATERIALS
from ayni.errors import InvalidInput, ModelUnavailable
from ayni.matching.entities import Candidate, ListingInput
from ayni.matching.history import InteractionHistory
from ayni.matching.scoring import ScoringConfig

FloatArray = NDArray[np.float64]

FEATURES: tuple[str, ...] = (
    "distance_km", "distance_over_radius", "distance_minus_nearest_km", "log_kg", "log_kg_over_min",
    "kg_over_capacity_left", "material_class", "partner_kind", "producer_kind", "price_cents_per_kg",
    "price_over_best", "offer_fill_rate", "partner_rate", "log_partner_n", "producer_reliability",
    "log_producer_n", "photo_confidence", "listing_age_days", "log_pair_n", "pair_rate", "segment_rate",
    "latent_affinity", "days_to_pickup", "log_value_over_transport", "partner_material_rate", "partner_size_rate",
    "producer_accept_rate",
)
_KINDS = {k: i for i, k in enumerate(PartnerKind)}
_PRODUCER_KINDS = {k: i for i, k in enumerate(ProducerKind)}
_CLASS = {c: i for i, c in enumerate(CLASSES)}
FORMAT = "ayni.acceptance-model/2"
# All else equal, a farther pickup is never more likely to be accepted and collected: P is constrained to be
# non-increasing in the three distance features (it also keeps the gate's "beyond the radius" check honest).
_DECREASING = ("distance_km", "distance_over_radius", "distance_minus_nearest_km")
_MONOTONIC = [-1 if f in _DECREASING else 0 for f in FEATURES]
_TRIP = ScoringConfig()  # the default tariff: log_value_over_transport is a feature, not a price


def pair_features(listing: ListingInput, candidates: Sequence[Candidate], *, history: InteractionHistory,
                  now: datetime, pool: Sequence[Candidate] | None = None) -> FloatArray:
    """One row of ``FEATURES`` per candidate, from the listing, the offer and the history before ``now``.

    ``pool`` (default: ``candidates``) is the listing's full candidate list, for the context features
    (price over the best price, distance beyond the nearest)."""
    n = len(candidates)
    x = np.empty((n, len(FEATURES)))
    if n == 0:
        return x
    context = pool or candidates
    best = max(c.price_cents_per_kg for c in context) or 1
    nearest = min(c.distance_km for c in context)
    kg = float(listing.kg)
    cls = _CLASS[MATERIALS[listing.material].class_code]
    pkind = _PRODUCER_KINDS[ProducerKind(listing.producer_kind)]
    conf = np.nan if listing.photo_confidence is None else listing.photo_confidence
    age = (now - listing.created_at).total_seconds() / 86400.0
    reliability = history.producer_reliability(listing.producer_id)
    producer_n = math.log1p(history.producer_accepted.get(listing.producer_id, 0))
    latent = history.latent(listing.producer_id, [c.partner_id for c in candidates])
    pid = listing.producer_id
    ids = [c.partner_id for c in candidates]
    dist = np.array([c.distance_km for c in candidates])
    radius = np.array([c.radius_km for c in candidates])
    min_kg = np.array([float(c.min_kg) for c in candidates])
    cap = np.array([float(c.capacity_left_kg) for c in candidates])
    price = np.array([c.price_cents_per_kg for c in candidates], dtype=np.float64)
    kind = str(listing.producer_kind)
    x[:, 0] = dist
    x[:, 1] = np.where(radius > 0, dist / np.maximum(radius, 1e-9), 1.0)
    x[:, 2] = dist - nearest
    x[:, 3] = math.log1p(kg)
    x[:, 4] = np.where(min_kg > 0, np.log(kg / np.maximum(min_kg, 1e-9)), 5.0)
    x[:, 5] = np.where(cap > 0, kg / np.maximum(cap, 1e-9), 1.0)
    x[:, 6] = cls
    x[:, 7] = [_KINDS[c.partner_kind] for c in candidates]
    x[:, 8] = pkind
    x[:, 9] = price
    x[:, 10] = price / best
    x[:, 11] = [c.offer_fill_rate for c in candidates]
    x[:, 12] = [history.partner_rate(q) for q in ids]
    x[:, 13] = np.log1p([history.partner_n.get(q, 0) for q in ids])
    x[:, 14] = reliability
    x[:, 15] = producer_n
    x[:, 16] = conf
    x[:, 17] = age
    x[:, 18] = np.log1p([history.pair_n.get((pid, q), 0) for q in ids])
    x[:, 19] = [history.pair_rate(pid, q) for q in ids]
    x[:, 20] = [history.segment_rate(q, kind) for q in ids]
    x[:, 21] = latent
    created = listing.created_at.date()
    x[:, 22] = [(c.pickup_date - created).days for c in candidates]
    trip = np.maximum(dist * _TRIP.trip_factor * _TRIP.transport_cents_per_km, 1.0)
    x[:, 23] = np.log(np.maximum([c.gross_cents for c in candidates], 1) / trip)
    x[:, 24] = [history.material_rate(q, listing.material) for q in ids]
    x[:, 25] = [history.size_rate(q, kg) for q in ids]
    x[:, 26] = history.producer_accept_rate(pid)
    return x


class AcceptanceModel:
    """Gradient-boosted P(accept and collect); ``fit`` / ``predict_proba`` / ``save`` / ``load``."""

    def __init__(self, *, learning_rate: float = 0.08, max_iter: int = 250, max_leaf_nodes: int = 31,
                 max_depth: int | None = 8, min_samples_leaf: int = 40, l2_regularization: float = 1.0,
                 random_state: int | None = None, monotonic_distance: bool = True) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state
        self.monotonic_distance = monotonic_distance

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("learning_rate", "max_iter", "max_leaf_nodes", "max_depth",
                                                "min_samples_leaf", "l2_regularization", "random_state", "monotonic_distance")}

    def fit(self, X: FloatArray, y: NDArray[Any]) -> AcceptanceModel:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y).astype(np.int64).ravel()
        if X.ndim != 2 or len(X) != len(y) or len(X) == 0:
            raise InvalidInput(f"X must be 2-D with one row per label (got {X.shape} and {y.shape}).")
        if set(np.unique(y)) - {0, 1} or len(np.unique(y)) < 2:
            raise InvalidInput("y must be binary (0/1) and contain both classes.")
        est = HistGradientBoostingClassifier(
            learning_rate=self.learning_rate, max_iter=self.max_iter, max_leaf_nodes=self.max_leaf_nodes,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf, l2_regularization=self.l2_regularization,
            early_stopping=False, random_state=self.random_state,
            monotonic_cst=_MONOTONIC if self.monotonic_distance and X.shape[1] == len(FEATURES) else None)
        est.fit(X, y)
        self.estimator_: HistGradientBoostingClassifier | None = est
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        self.baseline_ = float(np.ravel(est._baseline_prediction)[0])
        self.trees_ = _compile([pred[0].nodes for pred in est._predictors])
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "trees_"):
            raise ModelUnavailable("This AcceptanceModel is not fitted yet: call fit() or load() first.")

    def decision_function(self, X: FloatArray) -> FloatArray:
        self._check_fitted()
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InvalidInput(f"Expected {self.n_features_in_} features, got shape {X.shape}.")
        return self.baseline_ + _walk(self.trees_, X)

    def predict_proba(self, X: FloatArray) -> FloatArray:
        p1 = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack((1.0 - p1, p1))

    def predict(self, X: FloatArray) -> NDArray[np.int64]:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {"format": FORMAT, "params": self.get_params(), "features": list(FEATURES),
                "n_features_in": self.n_features_in_, "baseline": self.baseline_,
                "trees": {k: v.tolist() for k, v in self.trees_.items()}}

    def save(self, path: Path) -> Path:
        """Write the model as JSON (no pickle): parameters, feature names, baseline and tree arrays."""
        path.write_text(json.dumps(self.to_dict()), encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AcceptanceModel:
        if data.get("format") != FORMAT:
            raise InvalidInput(f"Not an acceptance model file (format {data.get('format')!r}, want {FORMAT}).")
        if data.get("features") != list(FEATURES) or data.get("n_features_in") != len(FEATURES):
            raise InvalidInput("The acceptance model file was trained on other features than this version's "
                               f"{len(FEATURES)} ({', '.join(FEATURES)}); retrain it.")
        model = cls(**data["params"])
        model.estimator_ = None
        model.classes_ = np.array([0, 1])
        model.n_features_in_ = int(data["n_features_in"])
        model.baseline_ = float(data["baseline"])
        model.trees_ = {k: np.asarray(v, dtype=_DTYPES[k]) for k, v in data["trees"].items()}
        return model

    @classmethod
    def load(cls, path: Path) -> AcceptanceModel:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


_DTYPES = {"feature": np.int64, "threshold": np.float64, "left": np.int64, "right": np.int64,
           "missing_left": np.bool_, "is_leaf": np.bool_, "value": np.float64, "depth": np.int64}


def _compile(node_arrays: Sequence[NDArray[Any]]) -> dict[str, NDArray[Any]]:
    width = max(len(n) for n in node_arrays)
    t = len(node_arrays)
    out: dict[str, NDArray[Any]] = {k: np.zeros((t, width), dtype=dt) for k, dt in _DTYPES.items()
                                    if k != "depth"}
    out["is_leaf"][:] = True
    for i, nodes in enumerate(node_arrays):
        m = len(nodes)
        if np.any(nodes["is_categorical"]):
            raise InvalidInput("Categorical splits are not supported by the JSON export.")
        out["feature"][i, :m] = nodes["feature_idx"]
        out["threshold"][i, :m] = nodes["num_threshold"]
        out["left"][i, :m] = nodes["left"]
        out["right"][i, :m] = nodes["right"]
        out["missing_left"][i, :m] = nodes["missing_go_to_left"].astype(bool)
        out["is_leaf"][i, :m] = nodes["is_leaf"].astype(bool)
        out["value"][i, :m] = nodes["value"]
    out["depth"] = np.array([int(n["depth"].max()) for n in node_arrays], dtype=np.int64)
    return out


def _walk(trees: dict[str, NDArray[Any]], X: FloatArray) -> FloatArray:
    """Sum of leaf values over all trees for each row, walking every tree at once (≤ depth steps).

    Trees are flattened: node ``j`` of tree ``t`` is ``t × width + j``, so each step is a few 1-D
    ``take``s; leaves point to themselves, so rows that reached a leaf simply stay there."""
    t, width = trees["feature"].shape
    n, n_feat = X.shape
    offset = (np.arange(t, dtype=np.int64) * width)[:, None]
    feature = trees["feature"].ravel()
    threshold = trees["threshold"].ravel()
    missing_left = trees["missing_left"].ravel()
    leaf = trees["is_leaf"].ravel()
    left = (trees["left"] + offset).ravel()
    right = (trees["right"] + offset).ravel()
    left = np.where(leaf, np.arange(t * width), left)
    right = np.where(leaf, np.arange(t * width), right)
    flat_x = X.ravel()
    row_base = (np.arange(n, dtype=np.int64) * n_feat)[None, :]
    node = np.broadcast_to(offset, (t, n)).copy()
    for _ in range(int(trees["depth"].max(initial=0))):
        x = flat_x.take(row_base + feature.take(node))
        go_left = np.where(np.isnan(x), missing_left.take(node), x <= threshold.take(node))
        node = np.where(go_left, left.take(node), right.take(node))
    return trees["value"].ravel().take(node).sum(axis=0)


class LearntAcceptance:
    """An ``AcceptanceEstimator`` backed by a fitted ``AcceptanceModel`` and the current history."""

    source = "model"

    def __init__(self, model: AcceptanceModel, history: InteractionHistory, *,
                 config: ScoringConfig | None = None) -> None:
        self.model = model
        self.history = history
        self.config = config or ScoringConfig()

    def p_accept(self, listing: ListingInput, candidates: Sequence[Candidate], *, now: datetime,
                 pool: Sequence[Candidate] | None = None) -> FloatArray:
        if not candidates:
            return np.empty(0)
        x = pair_features(listing, candidates, history=self.history, now=now, pool=pool)
        return np.clip(self.model.predict_proba(x)[:, 1], self.config.min_p, self.config.max_p)

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
from dataclasses import dataclass
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


def context_of(pool: Sequence[Candidate]) -> list[Candidate]:
    """The (at most two) candidates that carry ``pool``'s context: the best price and the nearest partner are
    all that ``pair_features`` reads of its ``pool``, so these stand for the whole list (a caller scoring a
    long list in batches reads it once, not once per batch)."""
    if not pool:
        return []
    best = max(pool, key=lambda c: c.price_cents_per_kg)
    nearest = min(pool, key=lambda c: c.distance_km)
    return [best] if best is nearest else [best, nearest]


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
    pid = listing.producer_id
    kind = str(listing.producer_kind)
    created = listing.created_at.date()
    ids = [c.partner_id for c in candidates]
    # one pass over the candidates for their numeric fields (columns: see the unpacking below)
    cols = np.array([(c.distance_km, c.radius_km, float(c.min_kg), float(c.capacity_left_kg), c.price_cents_per_kg,
                      _KINDS[c.partner_kind], c.offer_fill_rate, (c.pickup_date - created).days,
                      max(c.gross_cents, 1)) for c in candidates], dtype=np.float64)
    dist, radius, min_kg, cap, price, pkind_col, fill, days, gross = cols.T
    rates = history.partner_rates(ids, producer_kind=kind, material=listing.material, kg=kg)
    x[:, 0] = dist
    x[:, 1] = np.where(radius > 0, dist / np.maximum(radius, 1e-9), 1.0)
    x[:, 2] = dist - nearest
    x[:, 3] = math.log1p(kg)
    x[:, 4] = np.where(min_kg > 0, np.log(kg / np.maximum(min_kg, 1e-9)), 5.0)
    x[:, 5] = np.where(cap > 0, kg / np.maximum(cap, 1e-9), 1.0)
    x[:, 6] = _CLASS[MATERIALS[listing.material].class_code]
    x[:, 7] = pkind_col
    x[:, 8] = _PRODUCER_KINDS[ProducerKind(listing.producer_kind)]
    x[:, 9] = price
    x[:, 10] = price / best
    x[:, 11] = fill
    x[:, 12] = rates.rate
    x[:, 13] = rates.log_n
    x[:, 14] = history.producer_reliability(pid)
    x[:, 15] = math.log1p(history.producer_accepted.get(pid, 0))
    x[:, 16] = np.nan if listing.photo_confidence is None else listing.photo_confidence
    x[:, 17] = (now - listing.created_at).total_seconds() / 86400.0
    pair_n = np.array([history.pair_n.get((pid, q), 0) for q in ids], dtype=np.int64)
    pair_s = np.array([history.pair_s.get((pid, q), 0) for q in ids], dtype=np.int64)
    x[:, 18] = np.log1p(pair_n)
    x[:, 19] = (pair_s + history.prior_strength * rates.rate) / (pair_n + history.prior_strength)
    x[:, 20] = rates.segment_rate
    x[:, 21] = history.latent(pid, ids)
    x[:, 22] = days
    trip = np.maximum(dist * _TRIP.trip_factor * _TRIP.transport_cents_per_km, 1.0)
    x[:, 23] = np.log(gross / trip)
    x[:, 24] = rates.material_rate
    x[:, 25] = rates.size_rate
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
        self._forest: _Forest | None = None
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "trees_"):
            raise ModelUnavailable("This AcceptanceModel is not fitted yet: call fit() or load() first.")

    def decision_function(self, X: FloatArray) -> FloatArray:
        self._check_fitted()
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InvalidInput(f"Expected {self.n_features_in_} features, got shape {X.shape}.")
        forest = self._forest
        if forest is None:  # flattened on first use (``trees_`` is what is saved and loaded)
            forest = self._forest = _flatten(self.trees_, self.n_features_in_)
        return self.baseline_ + _walk(forest, X)

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
        model._forest = None
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


@dataclass(frozen=True, slots=True)
class _Forest:
    """The compiled trees flattened for ``_walk``. Node ``j`` of tree ``t`` has id ``t × width + j`` and is
    addressed as ``2 × id`` or ``2 × id + 1`` (the same node): its child on the left of the threshold is
    ``children[2 × id + 1]``, on the right ``children[2 × id]`` (so a step is ``children[node + (x ≤ threshold)]``),
    both already doubled; leaves point to themselves.

    A node tests column ``column`` of the row extended to ``[x, x with NaN → −inf]``: a node that sends
    missing values left reads the second copy (NaN becomes −inf, which goes left of any threshold), one that
    sends them right reads the first (NaN ≤ threshold is false, so it goes right, even of a +inf threshold)."""

    column: NDArray[np.intp]  # by doubled id
    threshold: FloatArray  # by doubled id
    children: NDArray[np.intp]  # by doubled id + (x ≤ threshold)
    value: FloatArray  # by doubled id
    roots: NDArray[np.intp]  # doubled ids of the roots
    depth: int


def _flatten(trees: dict[str, NDArray[Any]], n_features: int) -> _Forest:
    t, width = trees["feature"].shape
    leaf = trees["is_leaf"].ravel()
    feature = trees["feature"].ravel().astype(np.intp)
    if np.any(~leaf & ((feature < 0) | (feature >= n_features))):
        raise InvalidInput(f"A split reads a feature outside the {n_features} of a row.")
    offset = (np.arange(t, dtype=np.intp) * width)[:, None]
    here = np.arange(t * width, dtype=np.intp)
    left = np.where(leaf, here, (trees["left"] + offset).ravel())
    right = np.where(leaf, here, (trees["right"] + offset).ravel())
    column = np.where(leaf, 0, feature + n_features * trees["missing_left"].ravel())
    return _Forest(column=np.repeat(column, 2).astype(np.intp),
                   threshold=np.repeat(trees["threshold"].ravel(), 2).astype(np.float64),
                   children=(2 * np.column_stack((right, left))).ravel().astype(np.intp),
                   value=np.repeat(trees["value"].ravel(), 2).astype(np.float64), roots=2 * offset.ravel(),
                   depth=int(trees["depth"].max(initial=0)))


_BLOCK = 64  # rows walked together: trees × rows stays in the CPU's cache (more rows per step are slower)


def _walk(forest: _Forest, X: FloatArray) -> FloatArray:
    """Sum of leaf values over all trees for each row, in blocks of ``_BLOCK`` rows (never a block of one
    row out of several: numpy sums a single row's leaves pairwise and several rows' in tree order, and a row's
    P must not depend on how the rows were cut)."""
    n = len(X)
    if n <= _BLOCK + 1:
        return _walk_block(forest, X)
    cuts = list(range(0, n, _BLOCK))
    if n - cuts[-1] == 1:
        cuts.pop()
    return np.concatenate([_walk_block(forest, X[a:b]) for a, b in zip(cuts, [*cuts[1:], n], strict=True)])


def _walk_block(forest: _Forest, X: FloatArray) -> FloatArray:
    """Walks every tree at once: ≤ depth steps of a few 1-D ``take``s over trees × rows; rows that reached
    a leaf stay there."""
    n, n_feat = X.shape
    extended = np.concatenate((X, np.where(np.isnan(X), -np.inf, X)), axis=1).ravel()
    row_base = np.tile(np.arange(n, dtype=np.intp) * (2 * n_feat), len(forest.roots))
    node = np.repeat(forest.roots, n)
    for _ in range(forest.depth):
        x = extended.take(forest.column.take(node) + row_base)
        node = forest.children.take(node + (x <= forest.threshold.take(node)))
    return forest.value.take(node).reshape(len(forest.roots), n).sum(axis=0)


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

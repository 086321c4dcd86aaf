"""Estimator contract (scikit-learn conventions) and behaviour of the head, calibration and split."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from ayni.domain.materials import CLASSES
from ayni.errors import InvalidInput
from ayni.vision.calibrate import TemperatureScaler, choose_threshold
from ayni.vision.data import ImageRecord
from ayni.vision.head import LinearHead
from ayni.vision.meta import softmax
from ayni.vision.splits import assign_splits, group_ids, near_duplicate_pairs


def _blobs(n_per: int = 40, dim: int = 16, seed: int = 0, spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (len(CLASSES), dim))
    X = np.concatenate([c + spread * rng.normal(size=(n_per, dim)) for c in centres])
    y = np.repeat(np.asarray(CLASSES), n_per)
    return X.astype(np.float32), y


ESTIMATORS = [LinearHead(C=0.5, max_iter=50, recyclable_weight=2.0, random_state=3),
              TemperatureScaler(bounds=(0.1, 10.0))]


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_init_only_stores_hyperparameters_and_clone_round_trips(est: object) -> None:
    params = est.get_params()  # type: ignore[attr-defined]
    fresh = clone(est)
    assert fresh.get_params() == params
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]


def test_head_fit_returns_self_and_sets_learned_attributes() -> None:
    X, y = _blobs()
    head = LinearHead(max_iter=50)
    assert head.fit(X, y) is head
    assert head.coef_.shape == (len(CLASSES), X.shape[1])
    assert head.n_features_in_ == X.shape[1]
    assert list(head.classes_) == list(CLASSES)


def test_head_refuses_to_predict_before_fit() -> None:
    with pytest.raises(NotFittedError):
        LinearHead().predict(np.zeros((1, 4)))


def test_head_is_deterministic_for_a_random_state() -> None:
    X, y = _blobs()
    a = LinearHead(max_iter=30, random_state=1).fit(X, y).coef_
    b = LinearHead(max_iter=30, random_state=1).fit(X, y).coef_
    np.testing.assert_array_equal(a, b)


def test_head_learns_separable_classes_and_probabilities_sum_to_one() -> None:
    X, y = _blobs(seed=1)
    Xt, yt = _blobs(seed=1, n_per=10)
    head = LinearHead(max_iter=100).fit(X, y)
    assert (head.predict(Xt) == yt).mean() > 0.95
    np.testing.assert_allclose(head.predict_proba(Xt).sum(1), 1.0, atol=1e-6)


def test_recyclable_rows_push_probability_away_from_organic() -> None:
    """Direction: adding 'recyclable' examples of a region lowers p(organic) there."""
    X, y = _blobs(seed=2, spread=3.0)
    organic_centre = X[y == "organic"].mean(0)
    rng = np.random.default_rng(5)
    near = organic_centre + 0.5 * rng.normal(size=(60, X.shape[1]))
    base = LinearHead(max_iter=100).fit(X, y)
    withr = LinearHead(max_iter=100, recyclable_weight=3.0).fit(
        np.concatenate([X, near]), np.concatenate([y, np.full(60, "recyclable")]))
    org = CLASSES.index("organic")
    assert withr.predict_proba(near)[:, org].mean() < base.predict_proba(near)[:, org].mean() - 0.1


def test_head_rejects_unknown_labels_and_wrong_width() -> None:
    X, y = _blobs(n_per=5)
    with pytest.raises(InvalidInput):
        LinearHead().fit(X, np.where(y == "glass", "granite", y))
    head = LinearHead(max_iter=10).fit(X, y)
    with pytest.raises(InvalidInput):
        head.predict(np.zeros((2, X.shape[1] + 1)))
    with pytest.raises(InvalidInput):
        LinearHead().fit(X[:3], y[:4])


def test_temperature_above_one_for_overconfident_logits() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 2000)
    logits = rng.normal(size=(2000, 7))
    logits[np.arange(2000), y] += 1.0
    logits *= 6.0  # far too sharp for a ~50 % accurate model
    scaler = TemperatureScaler().fit(logits, y)
    assert scaler.temperature_ > 2.0
    assert scaler.nll_after_ < scaler.nll_before_


def test_temperature_below_one_for_underconfident_logits() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 7, 2000)
    logits = np.zeros((2000, 7))
    logits[np.arange(2000), y] = 0.5  # always right, barely confident
    assert TemperatureScaler().fit(logits, y).temperature_ < 0.5


def test_temperature_scaler_needs_fit_and_valid_labels() -> None:
    with pytest.raises(NotFittedError):
        TemperatureScaler().transform(np.zeros((1, 7)))
    with pytest.raises(InvalidInput):
        TemperatureScaler().fit(np.zeros((3, 7)), np.asarray([0, 1, 9]))


def test_threshold_reaches_target_precision_and_is_the_lowest_such() -> None:
    conf = np.asarray([0.99, 0.98, 0.97, 0.95, 0.90, 0.80, 0.70, 0.60])
    correct = np.asarray([1, 1, 1, 1, 0, 1, 0, 0], dtype=bool)
    thr = choose_threshold(conf, correct, target_precision=0.8)
    assert thr.threshold == pytest.approx(0.80)  # top 6: 5/6 = 0.83 ≥ 0.8; top 7: 5/7 < 0.8
    assert thr.coverage == pytest.approx(6 / 8)
    strict = choose_threshold(conf, correct, target_precision=1.0)
    assert strict.threshold == pytest.approx(0.95) and strict.precision == 1.0


def test_threshold_abstains_on_everything_when_target_unreachable() -> None:
    thr = choose_threshold(np.asarray([0.9, 0.8]), np.asarray([False, False]), target_precision=0.98)
    assert thr.coverage == 0.0 and thr.threshold > 0.9


def test_softmax_with_temperature_flattens() -> None:
    logits = np.asarray([[2.0, 0.0, -1.0]])
    assert softmax(logits, 3.0).max() < softmax(logits).max()


def test_near_duplicates_always_share_a_split_and_classes_are_stratified() -> None:
    rng = np.random.default_rng(0)
    n = 700
    labels = np.asarray(CLASSES)[rng.integers(0, 7, n)]
    hashes = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    # 60 planted near-duplicate pairs: identical hash but for one bit
    for i in range(60):
        hashes[n - 1 - i] = hashes[i] ^ np.uint64(1 << 5)
        labels[n - 1 - i] = labels[i]
    emb = rng.normal(size=(n, 32))
    emb[100] = emb[200] * 1.01  # an embedding twin
    labels[100] = labels[200]
    records = [ImageRecord(f"img{i}.jpg", str(c), "") for i, c in enumerate(labels)]
    pairs = near_duplicate_pairs(hashes, emb, hash_distance=2, cosine=0.99)
    groups = group_ids(n, pairs)
    out = assign_splits(records, groups, random_state=1)
    for i in range(60):
        assert out[i].split == out[n - 1 - i].split
    assert out[100].split == out[200].split
    for c in CLASSES:
        splits = [r.split for r in out if r.label == c]
        assert abs(splits.count("train") / len(splits) - 0.70) < 0.05
    again = assign_splits(records, groups, random_state=1)
    assert [r.split for r in again] == [r.split for r in out]

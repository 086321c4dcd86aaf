"""Calibration: temperature scaling fitted on validation, and the abstention threshold.

``TemperatureScaler`` (scikit-learn style) finds the one temperature ``T`` that minimises the
negative log-likelihood of ``softmax(logits / T)`` on held-out data. ``choose_threshold`` then picks
the lowest confidence threshold whose accepted predictions are at least ``target_precision`` precise
on that data; below it the classifier abstains ("not sure, please confirm").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ayni.errors import InvalidInput
from ayni.vision.meta import softmax


class TemperatureScaler(BaseEstimator):
    """Single-parameter temperature scaling. ``fit(logits, y)`` with ``y`` integer class indices."""

    def __init__(self, *, bounds: tuple[float, float] = (0.05, 20.0)) -> None:
        self.bounds = bounds

    def fit(self, logits: np.ndarray, y: np.ndarray) -> TemperatureScaler:
        logits = np.asarray(logits, dtype=np.float64)
        y = np.asarray(y, dtype=np.int64)
        if logits.ndim != 2 or len(logits) != len(y) or len(y) == 0:
            raise InvalidInput("logits must be (N, K) and y (N,) with N > 0.")
        if y.min() < 0 or y.max() >= logits.shape[1]:
            raise InvalidInput("y holds a class index outside the logits.")

        def nll(log_t: float) -> float:
            p = softmax(logits, float(np.exp(log_t)))
            return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())

        lo, hi = np.log(self.bounds[0]), np.log(self.bounds[1])
        res = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-4})
        self.temperature_ = float(np.exp(res.x))
        self.nll_before_ = nll(0.0)
        self.nll_after_ = float(res.fun)
        return self

    def transform(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities."""
        check_is_fitted(self, "temperature_")
        return softmax(np.asarray(logits), self.temperature_)


@dataclass(frozen=True, slots=True)
class Threshold:
    threshold: float
    precision: float
    coverage: float
    target_precision: float


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, *,
                     target_precision: float = 0.98) -> Threshold:
    """Lowest threshold t such that predictions with confidence ≥ t are ≥ target precise.

    Ties are kept together (all predictions with the same confidence are accepted or none).
    If no threshold reaches the target, the threshold is above every confidence (coverage 0).
    """
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    if conf.shape != ok.shape or conf.ndim != 1 or len(conf) == 0:
        raise InvalidInput("confidence and correct must be 1-D arrays of the same non-zero length.")
    order = np.argsort(-conf, kind="stable")
    conf, ok = conf[order], ok[order]
    precision = np.cumsum(ok) / np.arange(1, len(ok) + 1)
    last_of_tie = np.r_[conf[1:] != conf[:-1], True]
    good = np.nonzero((precision >= target_precision) & last_of_tie)[0]
    if len(good) == 0:
        return Threshold(float(np.nextafter(conf[0], np.inf)), 1.0, 0.0, target_precision)
    k = int(good.max())
    return Threshold(float(conf[k]), float(precision[k]), float((k + 1) / len(ok)), target_precision)


def accepted_precision_coverage(confidence: np.ndarray, correct: np.ndarray,
                                threshold: float) -> tuple[float, float]:
    """(precision of accepted, coverage) at ``threshold`` (precision is 1.0 when none accepted)."""
    accept = np.asarray(confidence) >= threshold
    cov = float(accept.mean())
    prec = float(np.asarray(correct)[accept].mean()) if accept.any() else 1.0
    return prec, cov


def expected_calibration_error(prob: np.ndarray, y: np.ndarray, *, bins: int = 15) -> float:
    """ECE of the top-1 confidence with equal-width bins."""
    conf = prob.max(1)
    correct = prob.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)

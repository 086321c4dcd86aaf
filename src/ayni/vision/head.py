"""The linear head over frozen EfficientNet-Lite0 embeddings: a scikit-learn-style estimator.

``LinearHead`` is multinomial logistic regression on standardised features with class-balanced
weights, fitted full-batch with L-BFGS in PyTorch. Besides the seven material classes, ``y`` may hold
the auxiliary label ``"recyclable"`` (Kaggle train-R: some recyclable material, not organic); those
samples add the loss ``-log(1 - p(organic))``, teaching the head what is *not* organic without
pretending to know their material. The standardisation is folded into ``coef_``/``intercept_`` so the
head exports as one ``Linear`` layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ayni.domain.materials import CLASSES
from ayni.errors import InvalidInput
from ayni.vision.data import RECYCLABLE
from ayni.vision.meta import softmax


class LinearHead(ClassifierMixin, BaseEstimator):
    """Class-balanced multinomial logistic regression (see module doc).

    Parameters
    ----------
    C: inverse L2 strength (as in scikit-learn: the penalty is ``||W||² / (2 C n)``).
    max_iter: L-BFGS iterations.
    recyclable_weight: total weight of the ``"recyclable"`` samples relative to one class.
    random_state: seed for the weight initialisation.
    """

    def __init__(self, *, C: float = 1.0, max_iter: int = 300, recyclable_weight: float = 1.0,
                 random_state: int = 0) -> None:
        self.C = C
        self.max_iter = max_iter
        self.recyclable_weight = recyclable_weight
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray | list[str]) -> LinearHead:
        X, labels = _validate(X, y)
        self.classes_ = np.asarray(CLASSES)
        self.n_features_in_ = X.shape[1]
        mean, scale = X.mean(0), X.std(0) + 1e-6
        xs = torch.from_numpy((X - mean) / scale)
        known = np.isin(labels, CLASSES)
        target = torch.from_numpy(np.asarray([CLASSES.index(v) if k else -1
                                              for v, k in zip(labels, known, strict=True)]))
        weights = torch.from_numpy(self._sample_weights(labels, known))
        torch.manual_seed(self.random_state)
        lin = torch.nn.Linear(X.shape[1], len(CLASSES)).double()
        torch.nn.init.normal_(lin.weight, std=1e-3)
        torch.nn.init.zeros_(lin.bias)
        opt = torch.optim.LBFGS(lin.parameters(), lr=1.0, max_iter=self.max_iter, history_size=20,
                                line_search_fn="strong_wolfe")
        organic = CLASSES.index("organic")
        known_t = torch.from_numpy(known)
        l2 = 1.0 / (2.0 * self.C * len(X))

        def closure() -> torch.Tensor:
            opt.zero_grad()
            logp = torch.log_softmax(lin(xs), dim=1)
            nll = torch.zeros(len(X), dtype=torch.float64)
            nll[known_t] = -logp[known_t, target[known_t]]
            if (~known_t).any():
                p_org = logp[~known_t, organic].exp().clamp(max=1 - 1e-7)
                nll[~known_t] = -torch.log1p(-p_org)
            loss = (weights * nll).sum() / weights.sum() + l2 * lin.weight.pow(2).sum()
            loss.backward()
            return loss

        with _one_thread():  # tiny ops: thread hand-offs cost more than they save
            opt.step(closure)
        w = lin.weight.detach().numpy() / scale
        self.coef_ = w.astype(np.float32)
        self.intercept_ = (lin.bias.detach().numpy() - w @ mean).astype(np.float32)
        return self

    def _sample_weights(self, labels: np.ndarray, known: np.ndarray) -> np.ndarray:
        counts = {c: int((labels == c).sum()) for c in CLASSES}
        present = [c for c in CLASSES if counts[c]]
        n_known = int(known.sum())
        per_class = {c: n_known / (len(present) * counts[c]) for c in present}
        w = np.asarray([per_class.get(v, 0.0) for v in labels], dtype=np.float64)
        n_rec = int((~known).sum())
        if n_rec:
            w[~known] = self.recyclable_weight * n_known / (len(present) * n_rec)
        return w

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Logits (N, 7)."""
        check_is_fitted(self, ["coef_", "intercept_"])
        X = _check_X(X, self.n_features_in_)
        return X @ self.coef_.T + self.intercept_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return softmax(self.decision_function(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        scores = self.decision_function(X)
        return self.classes_[scores.argmax(1)]


@contextmanager
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check_X(X: np.ndarray, n_features: int | None = None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or not np.isfinite(X).all():
        raise InvalidInput("X must be a finite 2-D array of embeddings.")
    if n_features is not None and X.shape[1] != n_features:
        raise InvalidInput(f"X has {X.shape[1]} features, the head expects {n_features}.")
    return X


def _validate(X: np.ndarray, y: np.ndarray | list[str]) -> tuple[np.ndarray, np.ndarray]:
    X = _check_X(X)
    labels = np.asarray(y, dtype=object).astype(str)
    if len(labels) != len(X):
        raise InvalidInput(f"X has {len(X)} rows but y has {len(labels)}.")
    unknown = sorted(set(labels) - set(CLASSES) - {RECYCLABLE})
    if unknown:
        raise InvalidInput(f"Unknown labels: {unknown}. Use {list(CLASSES)} or '{RECYCLABLE}'.")
    if not np.isin(labels, CLASSES).any():
        raise InvalidInput("y holds no material class.")
    return X, labels

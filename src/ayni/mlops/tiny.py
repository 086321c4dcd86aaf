"""A tiny classifier on feature vectors, and its ``Trainer``: the loop's stand-in model.

It lets the whole MLOps loop (train → register → promote → serve → feedback → retrain) run in seconds in
tests and in the ``tiny`` DVC profile without PyTorch. It follows scikit-learn's conventions and persists
as ``model.npz`` (``allow_pickle=False``) + ``ayni_model.json``: no pickle anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from ayni.errors import InvalidInput
from ayni.mlops.drift import DriftReference, build_reference, image_signals
from ayni.mlops.promotion import CheckResult, Evaluation, invariance, minimum_functionality
from ayni.mlops.registry import DESCRIPTOR_FILE, Signature
from ayni.mlops.retrain import TrainedModel

MODEL_FILE = "model.npz"
FORMAT = "ayni.tiny-softmax/1"


class TinyClassifier(ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression whose learnt state is two arrays."""

    def __init__(self, *, C: float = 1.0, max_iter: int = 200, random_state: int = 0) -> None:
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: Sequence[str] | np.ndarray) -> TinyClassifier:
        X = np.asarray(X, dtype=np.float64)
        labels = np.asarray(y).astype(str)
        if X.ndim != 2 or len(X) != len(labels) or len(np.unique(labels)) < 2:
            raise InvalidInput("TinyClassifier needs a 2-D X and at least two classes.")
        lr = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state).fit(X, labels)
        self.classes_ = lr.classes_.astype(str)
        coef, intercept = lr.coef_, lr.intercept_
        if len(self.classes_) == 2:  # binary: scikit-learn keeps one row; make it a two-row softmax
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_, self.intercept_ = coef, intercept
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "coef_")
        z = np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def save(self, model_dir: Path) -> Path:
        check_is_fitted(self, "coef_")
        model_dir.mkdir(parents=True, exist_ok=True)
        np.savez(model_dir / MODEL_FILE, coef=self.coef_, intercept=self.intercept_, classes=self.classes_)
        meta = {"format": FORMAT, "params": self.get_params(), "n_features": int(self.n_features_in_)}
        (model_dir / DESCRIPTOR_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return model_dir

    @classmethod
    def load(cls, model_dir: Path) -> TinyClassifier:
        meta = json.loads((model_dir / DESCRIPTOR_FILE).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise InvalidInput(f"{model_dir} does not hold a {FORMAT} model.")
        with np.load(model_dir / MODEL_FILE, allow_pickle=False) as data:
            model = cls(**meta["params"])
            model.coef_, model.intercept_ = data["coef"], data["intercept"]
            model.classes_ = data["classes"].astype(str)
        model.n_features_in_ = int(meta["n_features"])
        return model


def feature_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if str(c).startswith("f")]


class TinyTrainer:
    """``Trainer`` for ``TinyClassifier`` on frames with ``f0…fn`` feature columns and a ``label``."""

    def __init__(self, *, C: float = 1.0, random_state: int = 0, min_accuracy: float = 0.5) -> None:
        self.C = C
        self.random_state = random_state
        self.min_accuracy = min_accuracy

    def train(self, frame: pd.DataFrame, out_dir: Path) -> TrainedModel:
        cols = feature_columns(frame)
        X, y = frame[cols].to_numpy(dtype=np.float64), frame["label"].astype(str).to_numpy()
        model = TinyClassifier(C=self.C, random_state=self.random_state).fit(X, y)
        model.save(out_dir)
        prob = model.predict_proba(X)
        conf, mix = image_signals(prob, list(model.classes_))
        reference: DriftReference = build_reference(tabular=pd.concat([frame[cols].reset_index(drop=True), conf],
                                                                      axis=1), categories=mix, embeddings=X)
        reference.save(out_dir)
        train_acc = float(np.mean(model.predict(X) == y))
        return TrainedModel(model_dir=out_dir, params={"C": self.C, "random_state": self.random_state,
                                                       "n_features": len(cols), "rows": len(frame)},
                            metrics={"train_accuracy": train_acc},
                            signature=Signature(X[:2].astype(np.float64), prob[:2]))

    def evaluate(self, model_dir: Path, eval_frame: pd.DataFrame) -> dict[str, float]:
        model = TinyClassifier.load(model_dir)
        pred = model.predict(eval_frame[feature_columns(eval_frame)].to_numpy(dtype=np.float64))
        truth = eval_frame["label"].astype(str).to_numpy()
        per_class = [float(np.mean(pred[truth == c] == c)) for c in np.unique(truth)]
        return {"accuracy": float(np.mean(pred == truth)), "balanced_accuracy": float(np.mean(per_class))}

    def checks(self, model_dir: Path, eval_frame: pd.DataFrame) -> list[CheckResult]:
        model = TinyClassifier.load(model_dir)
        X = eval_frame[feature_columns(eval_frame)].to_numpy(dtype=np.float64)
        noise = np.random.default_rng(self.random_state).normal(0, 1e-3 * (X.std() or 1.0), X.shape)
        return [
            invariance("tiny noise invariance", model.predict, X, X + noise, min_agreement=0.95),
            minimum_functionality("tiny eval floor", model.predict, X, eval_frame["label"].astype(str).tolist(),
                                  min_accuracy=self.min_accuracy),
        ]

    def evaluation(self, model_dir: Path, eval_frame: pd.DataFrame, version: str) -> Evaluation:
        return Evaluation(self.evaluate(model_dir, eval_frame), version, len(eval_frame))

    def describe(self) -> dict[str, Any]:
        return {"trainer": "tiny", "C": self.C, "random_state": self.random_state}

"""Classification metrics in plain numpy/scikit-learn, as JSON-friendly dicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def classification_report(y_true: Sequence[str] | np.ndarray, y_pred: Sequence[str] | np.ndarray,
                          labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    p, r, f, s = precision_recall_fscore_support(yt, yp, labels=list(labels), zero_division=0)
    return {
        "n": int(len(yt)),
        "accuracy": float(accuracy_score(yt, yp)),
        "macro_f1": float(f1_score(yt, yp, labels=list(labels), average="macro", zero_division=0)),
        "labels": list(labels),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                          "support": int(s[i])} for i, c in enumerate(labels)},
        "confusion": confusion_matrix(yt, yp, labels=list(labels)).tolist(),
    }


def report_markdown(title: str, rep: dict[str, Any]) -> str:
    """A short markdown block: headline figures and a per-class table."""
    lines = [f"**{title}** — n = {rep['n']}, accuracy **{rep['accuracy']:.2%}**, "
             f"macro-F1 **{rep['macro_f1']:.3f}**", "",
             "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for c, m in rep["per_class"].items():
        lines.append(f"| {c} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    return "\n".join(lines) + "\n"

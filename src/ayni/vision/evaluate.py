"""Evaluation of a shipped model on three honest test sets, with figures.

(a) our near-duplicate-aware 7-class ``test`` split, through the served ONNX ``Classifier``;
(b) TrashNet's own split files (6 classes, the literature's protocol): the fast-mode recipe (frozen
    ImageNet Lite0 + ``LinearHead``, C chosen on TrashNet's val) refitted on TrashNet's train, since
    the shipped model has seen most of TrashNet's test images during its own training;
(c) Kaggle's official TEST split (2,513 images) as organic vs not, through the served ``Classifier``
    (no Kaggle test image, nor a byte-identical or dHash-close copy of one, is in our training pool).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import Progress
from sklearn.metrics import f1_score

from ayni.domain.materials import CLASSES
from ayni.vision._plots import confusion_png, reliability_png
from ayni.vision.calibrate import accepted_precision_coverage
from ayni.vision.data import TRASHNET_CLASSES, ImageRecord, kaggle_test_index, read_manifest, trashnet_official_split
from ayni.vision.features import cached_embeddings
from ayni.vision.head import LinearHead
from ayni.vision.meta import softmax
from ayni.vision.metrics import classification_report, report_markdown
from ayni.vision.network import build_pretrained, channels_last
from ayni.vision.predict import Classifier
from ayni.vision.preprocess import PreprocessParams

log = logging.getLogger(__name__)


def served_logits(clf: Classifier, data_dir: Path, records: Sequence[ImageRecord], *,
                  batch_size: int = 32, description: str = "scoring") -> np.ndarray:
    """Raw logits of the served ONNX model for ``records`` (serving preprocessing, batched)."""
    out: list[np.ndarray] = []
    with Progress() as progress:
        task = progress.add_task(description, total=len(records))
        for s in range(0, len(records), batch_size):
            chunk = records[s:s + batch_size]
            x = np.stack([clf.preprocess((data_dir / r.path).read_bytes()) for r in chunk])
            out.append(clf.logits(x))
            progress.advance(task, len(chunk))
    return np.concatenate(out)


def evaluate_split(clf: Classifier, data_dir: Path, manifest: Path) -> tuple[dict[str, Any], np.ndarray,
                                                                             np.ndarray]:
    """(a): the 7-class test split; returns the report, the raw logits and the true indices."""
    test = [r for r in read_manifest(manifest) if r.split == "test" and r.label in CLASSES]
    logits = served_logits(clf, data_dir, test, description="(a) test split")
    y = np.asarray([CLASSES.index(r.label) for r in test])
    prob = softmax(logits, clf.meta.temperature)
    rep = classification_report([r.label for r in test], np.asarray(CLASSES)[prob.argmax(1)], CLASSES)
    prec, cov = accepted_precision_coverage(prob.max(1), prob.argmax(1) == y, clf.meta.threshold)
    rep["abstention"] = {"threshold": clf.meta.threshold, "accepted_precision": prec, "coverage": cov}
    return rep, logits, y


def evaluate_trashnet_official(data_dir: Path, *, cache_dir: Path,
                               c_grid: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0),
                               random_state: int = 20261122, head_input: str = "pooled") -> dict[str, Any]:
    """(b): fast-mode recipe (the served model's ``head_input``) on TrashNet's own train/val/test split
    files (6 classes)."""
    recs = trashnet_official_split(data_dir)
    backbone = channels_last(build_pretrained().eval())
    backbone.head_input = head_input
    emb = cached_embeddings(backbone, data_dir, [r.path for r in recs], params=PreprocessParams(),
                            cache_dir=cache_dir, description="(b) TrashNet split")
    y = np.asarray([r.label for r in recs])
    part = np.asarray([r.split for r in recs])
    six = [CLASSES.index(c) for c in TRASHNET_CLASSES]
    best: tuple[float, float] = (-1.0, c_grid[0])
    for c in c_grid:
        head = LinearHead(C=c, random_state=random_state).fit(emb[part == "train"], y[part == "train"])
        pred = np.asarray(CLASSES)[six][head.decision_function(emb[part == "val"])[:, six].argmax(1)]
        best = max(best, (float(f1_score(y[part == "val"], pred, average="macro")), c))
    train = np.isin(part, ["train", "val"])
    head = LinearHead(C=best[1], random_state=random_state).fit(emb[train], y[train])
    pred = np.asarray(CLASSES)[six][head.decision_function(emb[part == "test"])[:, six].argmax(1)]
    rep = classification_report(y[part == "test"], pred, TRASHNET_CLASSES)
    rep["C"] = best[1]
    return rep


def evaluate_kaggle(clf: Classifier, data_dir: Path) -> dict[str, Any]:
    """(c): Kaggle's official TEST split scored as organic vs not."""
    recs = kaggle_test_index(data_dir)
    logits = served_logits(clf, data_dir, recs, description="(c) Kaggle test")
    prob = softmax(logits, clf.meta.temperature)
    pred = np.where(prob.argmax(1) == CLASSES.index("organic"), "organic", "not_organic")
    truth = np.asarray(["organic" if r.label == "organic" else "not_organic" for r in recs])
    rep = classification_report(truth, pred, ["organic", "not_organic"])
    prec, cov = accepted_precision_coverage(prob.max(1), pred == truth, clf.meta.threshold)
    rep["abstention"] = {"threshold": clf.meta.threshold, "accepted_precision": prec, "coverage": cov}
    return rep


def run_evaluate(model_dir: Path, data_dir: Path, manifest: Path, *, cache_dir: Path, img_dir: Path,
                 threads: int = 2) -> tuple[dict[str, Any], str]:
    """All three evaluations, the PNGs under ``img_dir``, and a markdown summary."""
    clf = Classifier.load(model_dir, threads=threads)
    a, logits, y = evaluate_split(clf, data_dir, manifest)
    b = evaluate_trashnet_official(data_dir, cache_dir=cache_dir, head_input=clf.meta.head_input)
    c = evaluate_kaggle(clf, data_dir)
    confusion_png(a["confusion"], a["labels"], img_dir / "vision_confusion_split.png",
                  title=f"(a) 7-class test split, acc {a['accuracy']:.1%}")
    confusion_png(b["confusion"], b["labels"], img_dir / "vision_confusion_trashnet.png",
                  title=f"(b) TrashNet official test, acc {b['accuracy']:.1%}")
    confusion_png(c["confusion"], c["labels"], img_dir / "vision_confusion_kaggle.png",
                  title=f"(c) Kaggle TEST organic vs not, acc {c['accuracy']:.1%}")
    p1, pt = softmax(logits), softmax(logits, clf.meta.temperature)
    reliability_png([("(a) test, before calibration (T=1)", p1.max(1), p1.argmax(1) == y),
                     (f"(a) test, after (T={clf.meta.temperature:.2f})", pt.max(1), pt.argmax(1) == y)],
                    img_dir / "vision_reliability.png")
    results = {"model_version": clf.version, "split_test": a, "trashnet_official": b, "kaggle_test": c}
    return results, _markdown(results, clf)


def _markdown(res: dict[str, Any], clf: Classifier) -> str:
    a, b, c = res["split_test"], res["trashnet_official"], res["kaggle_test"]
    m = clf.meta.metrics
    lines = [
        f"Model `{clf.version}` ({clf.meta.mode} mode). Targets: ≥ 95 % accuracy on (a), (b), (c).", "",
        "| test set | n | accuracy | macro-F1 | target met |", "|---|---|---|---|---|",
        f"| (a) our 7-class near-duplicate-aware test split | {a['n']} | {a['accuracy']:.2%} | "
        f"{a['macro_f1']:.3f} | {'yes' if a['accuracy'] >= 0.95 else 'no'} |",
        f"| (b) TrashNet official split files, 6 classes (fast-mode recipe refitted on its train+val) | "
        f"{b['n']} | {b['accuracy']:.2%} | {b['macro_f1']:.3f} | {'yes' if b['accuracy'] >= 0.95 else 'no'} |",
        f"| (c) Kaggle official TEST, organic vs not | {c['n']} | {c['accuracy']:.2%} | {c['macro_f1']:.3f} | "
        f"{'yes' if c['accuracy'] >= 0.95 else 'no'} |", "",
        f"Calibration: temperature {clf.meta.temperature:.3f} (fitted on val); abstention threshold "
        f"{clf.meta.threshold:.3f} chosen for ≥ 98 % precision of accepted predictions on val "
        f"(val coverage {m.get('abstention', {}).get('val_coverage', float('nan')):.1%}). On (a) test: "
        f"accepted precision {a['abstention']['accepted_precision']:.2%} at coverage "
        f"{a['abstention']['coverage']:.1%}. ECE on (a) test before → after: "
        f"{m.get('ece', {}).get('test_before', float('nan')):.3f} → "
        f"{m.get('ece', {}).get('test_after', float('nan')):.3f}.", "",
        report_markdown("(a) 7-class test split", a),
        report_markdown("(b) TrashNet official test split", b),
        report_markdown("(c) Kaggle TEST, organic vs not", c),
        "![confusion (a)](img/vision_confusion_split.png) ![confusion (b)](img/vision_confusion_trashnet.png) "
        "![confusion (c)](img/vision_confusion_kaggle.png)", "",
        "![reliability before/after calibration](img/vision_reliability.png)",
    ]
    return "\n".join(lines)

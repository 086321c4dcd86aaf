"""Training: ``fast`` (frozen backbone embeddings + ``LinearHead``) and ``full`` (fine-tuning).

Both modes read the committed split manifest, fit on ``train``, choose hyperparameters, the
temperature and the abstention threshold on ``val``, score ``test`` once, and hand a PyTorch
module (backbone + 7-class head, logits out) to ``export``. Seeded; Rich progress bars; a GPU is used
through ``device`` when one is present, and nothing requires one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ayni.domain.materials import CLASSES
from ayni.vision.calibrate import TemperatureScaler, choose_threshold, expected_calibration_error
from ayni.vision.data import RECYCLABLE, ImageRecord
from ayni.vision.export import attach_head
from ayni.vision.features import cached_embeddings, embed_files
from ayni.vision.head import LinearHead
from ayni.vision.meta import softmax
from ayni.vision.metrics import classification_report
from ayni.vision.network import EfficientNetLite0, build_pretrained, channels_last, embedding_dim
from ayni.vision.preprocess import PreprocessParams

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TrainConfig:
    data_dir: Path
    cache_dir: Path
    mode: str = "fast"
    random_state: int = 20261122
    c_grid: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0)
    recyclable_weight: float = 1.0
    head_input: str = "dense"  # what the head reads (ayni.vision.network.HEAD_INPUTS)
    target_precision: float = 0.98
    hflip_augment: bool = True  # fast mode: add mirrored copies of the train photos
    params: PreprocessParams = field(default_factory=PreprocessParams)
    # full mode
    epochs: int = 6
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 1e-4
    patience: int = 2
    freeze_blocks: int = -1  # -1: auto (0 on a GPU, 11 on CPU)
    time_budget_min: float = 90.0
    p_background: float = 0.5
    device: str = "auto"


@dataclass(slots=True)
class TrainResult:
    model: EfficientNetLite0
    temperature: float
    threshold: float
    metrics: dict[str, Any]
    mode: str


def _y(records: Sequence[ImageRecord]) -> np.ndarray:
    return np.asarray([r.label for r in records])


def split_records(records: Sequence[ImageRecord], split: str) -> list[ImageRecord]:
    return [r for r in records if r.split == split]


def fit_head(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, *,
             cfg: TrainConfig) -> tuple[LinearHead, dict[str, float]]:
    """Fit a ``LinearHead`` per C in the grid on train; keep the best macro-F1 on val."""
    from sklearn.metrics import f1_score

    known = np.isin(y_val, CLASSES)
    scores: dict[str, float] = {}
    best: tuple[float, LinearHead] | None = None
    for c in cfg.c_grid:
        head = LinearHead(C=c, recyclable_weight=cfg.recyclable_weight,
                          random_state=cfg.random_state).fit(x, y)
        f1 = float(f1_score(y_val[known], head.predict(x_val[known]), average="macro"))
        scores[str(c)] = f1
        log.info("head C=%g: val macro-F1 %.4f", c, f1)
        if best is None or f1 > best[0]:
            best = (f1, head)
    assert best is not None
    return best[1], scores


def calibrate_and_score(val_logits: np.ndarray, y_val: np.ndarray, test_logits: np.ndarray,
                        y_test: np.ndarray, *, target_precision: float) -> tuple[float, float, dict[str, Any]]:
    """Temperature + threshold on val (material rows); metrics on val and test."""
    kv, kt = np.isin(y_val, CLASSES), np.isin(y_test, CLASSES)
    iv = np.asarray([CLASSES.index(c) for c in y_val[kv]])
    it = np.asarray([CLASSES.index(c) for c in y_test[kt]])
    scaler = TemperatureScaler().fit(val_logits[kv], iv)
    pv, pt = scaler.transform(val_logits[kv]), scaler.transform(test_logits[kt])
    thr = choose_threshold(pv.max(1), pv.argmax(1) == iv, target_precision=target_precision)
    accept = pt.max(1) >= thr.threshold
    correct_t = pt.argmax(1) == it
    metrics: dict[str, Any] = {
        "val": classification_report(y_val[kv], np.asarray(CLASSES)[pv.argmax(1)], CLASSES),
        "test": classification_report(y_test[kt], np.asarray(CLASSES)[pt.argmax(1)], CLASSES),
        "temperature": scaler.temperature_,
        "val_nll": {"before": scaler.nll_before_, "after": scaler.nll_after_},
        "ece": {"val_before": expected_calibration_error(softmax(val_logits[kv]), iv),
                "val_after": expected_calibration_error(pv, iv),
                "test_before": expected_calibration_error(softmax(test_logits[kt]), it),
                "test_after": expected_calibration_error(pt, it)},
        "abstention": {"threshold": thr.threshold, "target_precision": target_precision,
                       "val_precision": thr.precision, "val_coverage": thr.coverage,
                       "test_precision": float(correct_t[accept].mean()) if accept.any() else 1.0,
                       "test_coverage": float(accept.mean())},
    }
    for name, logits, y in (("val", val_logits, y_val), ("test", test_logits, y_test)):
        pred = np.asarray(CLASSES)[logits.argmax(1)]
        truth = np.where(y == "organic", "organic", "not_organic")
        guess = np.where(pred == "organic", "organic", "not_organic")
        metrics[f"{name}_organic_vs_not"] = classification_report(truth, guess, ["organic", "not_organic"])
        metrics[f"{name}_recyclable_rows"] = int((y == RECYCLABLE).sum())
    return scaler.temperature_, thr.threshold, metrics


def train_fast(records: Sequence[ImageRecord], cfg: TrainConfig) -> TrainResult:
    """Frozen ImageNet backbone, embeddings cached, linear head; minutes on CPU."""
    torch.manual_seed(cfg.random_state)
    backbone = channels_last(build_pretrained().eval())
    embedding_dim(cfg.head_input)  # refuses an unknown name before an hour of embedding
    backbone.head_input = cfg.head_input
    emb: dict[str, np.ndarray] = {}
    for split in ("train", "val", "test"):
        recs = split_records(records, split)
        emb[split] = cached_embeddings(backbone, cfg.data_dir, [r.path for r in recs], params=cfg.params,
                                       cache_dir=cfg.cache_dir, description=f"embed {split}")
    ys = {s: _y(split_records(records, s)) for s in ("train", "val", "test")}
    x_train, y_train = emb["train"], ys["train"]
    if cfg.hflip_augment:
        flipped = cached_embeddings(backbone, cfg.data_dir, [r.path for r in split_records(records, "train")],
                                    params=cfg.params, cache_dir=cfg.cache_dir, hflip=True,
                                    description="embed train (mirrored)")
        x_train, y_train = np.concatenate([x_train, flipped]), np.concatenate([y_train, y_train])
    head, grid = fit_head(x_train, y_train, emb["val"], ys["val"], cfg=cfg)
    temperature, threshold, metrics = calibrate_and_score(
        head.decision_function(emb["val"]), ys["val"], head.decision_function(emb["test"]), ys["test"],
        target_precision=cfg.target_precision)
    metrics["c_grid_val_macro_f1"] = grid
    metrics["C"] = head.C
    metrics["hflip_augment"] = cfg.hflip_augment
    metrics["head_input"] = cfg.head_input
    model = attach_head(backbone, head)
    return TrainResult(model.eval(), temperature, threshold, metrics, "fast")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn())


def model_logits(model: EfficientNetLite0, data_dir: Path, recs: Sequence[ImageRecord], *,
                 params: PreprocessParams, device: torch.device) -> np.ndarray:
    """Logits of the (fine-tuned) model over ``recs`` through the serving preprocessing."""
    feats = embed_files(model, data_dir, [r.path for r in recs], params=params, description="score")
    with torch.inference_mode():
        return model._fc(torch.from_numpy(feats)).numpy()


def train_full(records: Sequence[ImageRecord], cfg: TrainConfig) -> TrainResult:
    """Fine-tune the whole network (see ``ayni.vision.finetune``) then calibrate and score."""
    from ayni.vision.finetune import finetune

    warm = train_fast(records, cfg)
    device = resolve_device(cfg.device)
    start = time.monotonic()
    model, history = finetune(warm.model, records, cfg, device=device)
    model = model.to("cpu").eval()
    val, test = split_records(records, "val"), split_records(records, "test")
    vl = model_logits(model, cfg.data_dir, val, params=cfg.params, device=device)
    tl = model_logits(model, cfg.data_dir, test, params=cfg.params, device=device)
    temperature, threshold, metrics = calibrate_and_score(vl, _y(val), tl, _y(test),
                                                          target_precision=cfg.target_precision)
    metrics["history"] = history
    metrics["fast_mode_test_accuracy"] = warm.metrics["test"]["accuracy"]
    metrics["finetune_minutes"] = (time.monotonic() - start) / 60
    return TrainResult(model, temperature, threshold, metrics, "full")

"""The vision stages behind ``ayni vision …``: split, train + export, evaluate.

Each stage takes explicit paths, so the same code runs from the CLI, a DVC stage or a test.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ayni.domain.materials import CLASSES
from ayni.vision.data import (
    CROSS_FILED,
    RECYCLABLE,
    build_index,
    read_manifest,
    write_manifest,
)
from ayni.vision.export import export_onnx, quantize_int8, write_metadata
from ayni.vision.features import cached_embeddings, load_batch
from ayni.vision.meta import META_FILE, MODEL_FILE, ModelMetadata
from ayni.vision.network import build_pretrained, channels_last
from ayni.vision.preprocess import PreprocessParams
from ayni.vision.splits import SplitReport, dhash_files, make_split
from ayni.vision.train import TrainConfig, TrainResult, train_fast, train_full

log = logging.getLogger(__name__)


def run_split(data_dir: Path, manifest: Path, *, cache_dir: Path, hash_distance: int = 4,
              cosine: float = 0.93, random_state: int = 20261122) -> SplitReport:
    """Index the images, group near-duplicates, split 70/15/15 and write the manifest + report."""
    records = build_index(data_dir)
    paths = [r.path for r in records]
    hashes = dhash_files(data_dir, paths)
    backbone = channels_last(build_pretrained().eval())
    emb = cached_embeddings(backbone, data_dir, paths, params=PreprocessParams(), cache_dir=cache_dir,
                            description="embed pool")
    out, groups, report = make_split(records, hashes, emb, hash_distance=hash_distance, cosine=cosine,
                                     random_state=random_state)
    write_manifest(manifest, out, {r.path: int(g) for r, g in zip(out, groups, strict=True)})
    extra = {"hash_distance": hash_distance, "cosine": cosine, "random_state": random_state,
             "dropped_cross_filed": sorted(CROSS_FILED)}
    manifest.with_name(manifest.stem + "_report.json").write_text(
        json.dumps({**asdict(report), **extra}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return report


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_train(cfg: TrainConfig, manifest: Path, out_dir: Path, *, int8: bool = True) -> ModelMetadata:
    """Train (fast or full), calibrate, export ONNX (+ int8 if it holds) and write the metadata."""
    records = read_manifest(manifest)
    result: TrainResult = train_full(records, cfg) if cfg.mode == "full" else train_fast(records, cfg)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(result.model, Path(tmp) / "fp32.onnx", size=cfg.params.size)
        chosen, quant = fp32, _try_int8(fp32, Path(tmp) / "int8.onnx", result, records, cfg) if int8 else {}
        if quant.get("accepted"):
            chosen = Path(tmp) / "int8.onnx"
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(chosen, out_dir / MODEL_FILE)
    digest = _sha(out_dir / MODEL_FILE)[:8]
    meta = ModelMetadata(
        version=f"lite0-{result.mode}-{datetime.now(UTC):%Y%m%d}-{digest}", classes=list(CLASSES),
        temperature=result.temperature, threshold=result.threshold, preprocessing=cfg.params.to_dict(),
        mode=result.mode, head_input=result.model.head_input, metrics={**result.metrics, "int8": quant},
        data={"manifest": "data/manifests/vision_split.csv", "manifest_sha256": _sha(manifest),
              "random_state": cfg.random_state})
    write_metadata(meta, out_dir)
    _check_parity(out_dir, result, records, cfg)
    log.info("model %s written to %s", meta.version, out_dir)
    return meta


def _onnx_logits(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, {sess.get_inputs()[0].name: x})[0])


def _val_batch(records: list[Any], cfg: TrainConfig, n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    val = [r for r in records if r.split == "val" and r.label in CLASSES][:n]
    x = load_batch(cfg.data_dir, [r.path for r in val], params=cfg.params).numpy()
    return x, np.asarray([CLASSES.index(r.label) for r in val])


def _calibration_batch(records: list[Any], cfg: TrainConfig, n: int = 128) -> np.ndarray:
    """Up to ``n`` training photos spread evenly over the (class-sorted) train split."""
    train = [r for r in records if r.split == "train" and r.label in CLASSES]
    picked = train[:: max(len(train) // n, 1)][:n]
    return load_batch(cfg.data_dir, [r.path for r in picked], params=cfg.params).numpy()


def _try_int8(fp32: Path, dst: Path, result: TrainResult, records: list[Any],
              cfg: TrainConfig) -> dict[str, Any]:
    """Quantise (calibrated on up to 128 training photos); accept only if val accuracy (on up to 256 images)
    stays within 0.5 point."""
    try:
        quantize_int8(fp32, dst, _calibration_batch(records, cfg))
    except Exception as exc:  # quantisation is optional: keep the float model
        log.warning("int8 quantisation failed: %s", exc)
        return {"accepted": False, "error": str(exc)}
    x, y = _val_batch(records, cfg)
    acc32 = float((_onnx_logits(fp32, x).argmax(1) == y).mean())
    acc8 = float((_onnx_logits(dst, x).argmax(1) == y).mean())
    accepted = acc8 >= acc32 - 0.005
    info = {"accepted": bool(accepted), "val_subset_accuracy_fp32": acc32, "val_subset_accuracy_int8": acc8,
            "n": len(y), "bytes_fp32": fp32.stat().st_size, "bytes_int8": dst.stat().st_size}
    log.info("int8: %s", info)
    return info


def _check_parity(out_dir: Path, result: TrainResult, records: list[Any], cfg: TrainConfig) -> None:
    x, _ = _val_batch(records, cfg, n=16)
    with torch.inference_mode():
        ref = result.model.eval()(torch.from_numpy(x)).numpy()
    got = _onnx_logits(out_dir / MODEL_FILE, x)
    diff = float(np.abs(ref - got).max())
    agree = float((ref.argmax(1) == got.argmax(1)).mean())
    log.info("ONNX vs PyTorch: max |Δlogit| %.4g, top-1 agreement %.3f", diff, agree)
    if agree < 0.9:
        raise RuntimeError(f"exported model disagrees with PyTorch (agreement {agree:.2f})")


def load_metadata(model_dir: Path) -> ModelMetadata:
    return ModelMetadata.from_json((model_dir / META_FILE).read_text(encoding="utf-8"))


def default_train_config(data_dir: Path, cache_dir: Path, **overrides: Any) -> TrainConfig:
    cfg = TrainConfig(data_dir=data_dir, cache_dir=cache_dir)
    return replace(cfg, **{k: v for k, v in overrides.items() if v is not None})


__all__ = ["RECYCLABLE", "default_train_config", "load_metadata", "run_split", "run_train"]

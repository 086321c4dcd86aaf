"""Frozen-backbone embeddings (what the head reads: 1280-d pooled, 2024-d multiscale or 6064-d dense, see
``ayni.vision.network.HEAD_INPUTS``) of image files, cached on disk as ``.npz`` (no pickle).

The cache is keyed by the file's path relative to the data dir and by the preprocessing, so the fast
training mode, the near-duplicate grouping and the evaluations all reuse one pass over the images.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from rich.progress import Progress

from ayni.vision.network import EfficientNetLite0, embedding_dim
from ayni.vision.preprocess import PreprocessParams, preprocess

log = logging.getLogger(__name__)


def load_batch(data_dir: Path, paths: Sequence[str], *, params: PreprocessParams,
               hflip: bool = False) -> torch.Tensor:
    """Read and preprocess files exactly as serving does (bytes → ``preprocess``)."""
    arrays = [preprocess((data_dir / p).read_bytes(), params=params) for p in paths]
    x = torch.from_numpy(np.stack(arrays))
    return torch.flip(x, dims=[3]) if hflip else x


class _Features(torch.nn.Module):
    def __init__(self, model: EfficientNetLite0) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.embedding(x)


def embed_files(model: EfficientNetLite0, data_dir: Path, paths: Sequence[str], *,
                params: PreprocessParams, batch_size: int = 32, hflip: bool = False,
                description: str = "embedding", threads: int = 2) -> np.ndarray:
    """The head's input features (N, D) float32 of ``paths`` (D from ``model.head_input``), with a Rich
    progress bar.

    The backbone is exported to a temporary ONNX file and run with ONNX Runtime: on CPU this is
    several times faster than eager PyTorch for this depthwise-heavy network.
    """
    import onnxruntime as ort

    from ayni.vision.export import export_onnx

    out = np.zeros((len(paths), embedding_dim(model.head_input)), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(_Features(model.eval()), Path(tmp) / "features.onnx", size=params.size)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        with Progress(transient=False) as progress:
            task = progress.add_task(description, total=len(paths))
            for start in range(0, len(paths), batch_size):
                chunk = paths[start:start + batch_size]
                x = load_batch(data_dir, chunk, params=params, hflip=hflip).numpy()
                out[start:start + len(chunk)] = sess.run(None, {name: x})[0]
                progress.advance(task, len(chunk))
                if (start // batch_size) % 20 == 0:
                    log.info("%s: %d/%d", description, start + len(chunk), len(paths))
    return out


def _store_path(cache_dir: Path, params: PreprocessParams, hflip: bool, tag: str) -> Path:
    blob = json.dumps([params.to_dict(), hflip, tag], sort_keys=True).encode()
    return cache_dir / f"emb-{tag}{'-hflip' if hflip else ''}-{hashlib.sha256(blob).hexdigest()[:12]}.npz"


def cached_embeddings(model: EfficientNetLite0, data_dir: Path, paths: Sequence[str], *,
                      params: PreprocessParams, cache_dir: Path, hflip: bool = False,
                      tag: str = "imagenet", description: str = "embedding") -> np.ndarray:
    """``embed_files`` through an ``.npz`` store under ``cache_dir`` keyed by path.

    ``tag`` names the weights (the store is also keyed by ``model.head_input``); only paths missing from the store are computed, then the store is
    rewritten. Returns the features in the order of ``paths``.
    """
    if model.head_input != "pooled":
        tag = f"{tag}-{model.head_input}"
    store = _store_path(cache_dir, params, hflip, tag)
    known: dict[str, np.ndarray] = {}
    if store.exists():
        with np.load(store, allow_pickle=False) as z:
            known = dict(zip(z["paths"].tolist(), z["features"], strict=True))
    missing = [p for p in dict.fromkeys(paths) if p not in known]
    if missing:
        feats = embed_files(model, data_dir, missing, params=params, hflip=hflip, description=description)
        known.update(zip(missing, feats, strict=True))
        cache_dir.mkdir(parents=True, exist_ok=True)
        keys = sorted(known)
        np.savez(store, paths=np.asarray(keys), features=np.stack([known[k] for k in keys]))
    log.info("embeddings: %d from cache, %d computed (%s)", len(paths) - len(missing), len(missing), store)
    return np.stack([known[p] for p in paths]).astype(np.float32)

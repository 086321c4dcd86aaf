"""Serving: ``Classifier`` runs the exported ONNX model with ONNX Runtime on CPU.

    clf = Classifier.load()                      # the shipped model in ayni/vision/assets/
    pred = clf.predict(photo_bytes)              # → Prediction
    pred.material, pred.confidence, pred.top3, pred.abstained, pred.verdict
    emb = clf.embed([photo_bytes, ...])          # → (N, 1280) pooled backbone features (drift)

Bad uploads raise ``PayloadTooLarge`` / ``UnsupportedMediaType`` / ``InvalidInput`` (from
``preprocess``); a missing or broken model raises ``ModelUnavailable``. Nothing is loaded at import
time; create one ``Classifier`` in the app's lifespan and inject it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ayni.domain.materials import CLASSES, Verdict, get_material
from ayni.errors import ModelUnavailable
from ayni.vision.meta import ASSETS_DIR, META_FILE, MODEL_FILE, ModelMetadata, softmax
from ayni.vision.preprocess import PreprocessParams, preprocess

log = logging.getLogger(__name__)

FEATURES_NAME = "features"  # the ONNX output holding the pooled backbone embedding (ayni.vision.export)


@dataclass(frozen=True, slots=True)
class Prediction:
    """One photo's answer. ``confidence`` and ``top3`` are calibrated probabilities."""

    material: str
    confidence: float
    top3: list[tuple[str, float]]
    abstained: bool
    verdict: Verdict
    model_version: str


class Classifier:
    """ONNX Runtime session + metadata. Thread-safe: ``predict`` may be called concurrently."""

    def __init__(self, session: object, meta: ModelMetadata) -> None:
        self._session = session
        self.meta = meta
        self._input = session.get_inputs()[0].name  # type: ignore[attr-defined]
        self._outputs = [o.name for o in session.get_outputs()]  # type: ignore[attr-defined]
        if list(meta.classes) != list(CLASSES):
            raise ModelUnavailable(f"Model classes {meta.classes} do not match {list(CLASSES)}.")

    @classmethod
    def load(cls, path: Path | None = None, *, threads: int = 1,
             max_bytes: int | None = None, max_pixels: int | None = None) -> Classifier:
        """Load ``model.onnx`` + ``model.json`` from ``path`` (a directory or the .onnx file).

        ``threads`` is ONNX Runtime's intra-op thread count; ``max_bytes``/``max_pixels`` override
        the upload limits stored in the metadata (e.g. from ``Settings.upload``).
        """
        import onnxruntime as ort

        path = path or ASSETS_DIR
        onnx_path = path / MODEL_FILE if path.is_dir() else path
        meta_path = onnx_path.with_name(META_FILE) if path.is_dir() else onnx_path.with_suffix(".json")
        try:
            meta = ModelMetadata.from_json(meta_path.read_text(encoding="utf-8"))
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            session = ort.InferenceSession(str(onnx_path), sess_options=opts,
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelUnavailable(f"Cannot load the vision model from {onnx_path}.") from exc
        pre = meta.preprocessing
        if max_bytes is not None:
            pre = {**pre, "max_bytes": max_bytes}
        if max_pixels is not None:
            pre = {**pre, "max_pixels": max_pixels}
        log.info("loaded vision model %s (%s, %d threads)", meta.version, onnx_path, threads)
        return cls(session, replace(meta, preprocessing=pre))

    @property
    def version(self) -> str:
        return self.meta.version

    @property
    def params(self) -> PreprocessParams:
        return self.meta.params

    def preprocess(self, data: bytes) -> np.ndarray:
        """The model input for ``data``: exactly ``ayni.vision.preprocess.preprocess``."""
        return preprocess(data, params=self.params)

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Raw logits (N, 7) for a preprocessed batch (N, 3, size, size)."""
        out = self._session.run([self._outputs[0]], {self._input: batch.astype(np.float32)})  # type: ignore[attr-defined]
        return np.asarray(out[0])

    @property
    def has_features(self) -> bool:
        return FEATURES_NAME in self._outputs

    def embed(self, images: Sequence[bytes], *, batch_size: int = 16) -> np.ndarray:
        """Pooled backbone features (N, 1280) of photos (bytes), as the head sees them: for drift."""
        if not self.has_features:
            raise ModelUnavailable(f"Model {self.version} has no '{FEATURES_NAME}' output; re-export it "
                                   "(ayni.vision.export.add_features_output).")
        out = []
        for i in range(0, len(images), batch_size):
            batch = np.stack([self.preprocess(b) for b in images[i:i + batch_size]]).astype(np.float32)
            out.append(self._session.run([FEATURES_NAME], {self._input: batch})[0])  # type: ignore[attr-defined]
        return np.concatenate(out).astype(np.float64) if out else np.empty((0, 0))

    def predict_proba(self, data: bytes) -> np.ndarray:
        """Calibrated class probabilities (7,) for one photo."""
        return softmax(self.logits(self.preprocess(data)[None]), self.meta.temperature)[0]

    def predict(self, data: bytes) -> Prediction:
        """Classify one photo (bytes of a JPEG, PNG, WebP or HEIC)."""
        return self.explain(self.predict_proba(data))

    def explain(self, prob: np.ndarray) -> Prediction:
        """Turn calibrated probabilities into a ``Prediction`` (top-3, abstention, verdict)."""
        order = np.argsort(-prob)
        best = CLASSES[int(order[0])]
        confidence = float(prob[order[0]])
        return Prediction(
            material=best, confidence=confidence,
            top3=[(CLASSES[int(i)], float(prob[i])) for i in order[:3]],
            abstained=confidence < self.meta.threshold,
            verdict=get_material(best).verdict, model_version=self.meta.version)

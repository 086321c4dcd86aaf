"""What a served model is besides its weights: file names and the metadata JSON (no torch here).

Serving imports only this module, ``preprocess`` and ONNX Runtime, so the API needs no PyTorch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ayni.vision.preprocess import PreprocessParams

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
MODEL_FILE = "model.onnx"
META_FILE = "model.json"
INPUT_NAME = "image"
OUTPUT_NAME = "logits"


@dataclass(slots=True)
class ModelMetadata:
    """What a served model needs besides its weights; saved as JSON next to the ONNX file."""

    version: str
    classes: list[str]
    temperature: float
    threshold: float
    preprocessing: dict[str, Any]
    architecture: str = "efficientnet-lite0"
    mode: str = "fast"
    head_input: str = "pooled"  # what the head reads (ayni.vision.network.HEAD_INPUTS); older models: pooled
    metrics: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({k: getattr(self, k) for k in self.__dataclass_fields__}, indent=2,
                          sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ModelMetadata:
        raw = json.loads(text)
        return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})

    @property
    def params(self) -> PreprocessParams:
        return PreprocessParams.from_dict(self.preprocessing)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (float64, numerically stable)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)

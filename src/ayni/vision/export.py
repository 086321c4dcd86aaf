"""Export the classifier to ONNX (one file: backbone + head, logits out) plus its metadata JSON.

The served artefacts are ``model.onnx`` and ``model.json`` (classes, temperature, threshold,
version, preprocessing parameters, metrics): no pickle anywhere. ``quantize_int8`` makes a dynamic
int8 copy; it is shipped only if its accuracy stays within 0.5 point of the float model.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ayni.domain.materials import CLASSES
from ayni.vision.head import LinearHead
from ayni.vision.meta import INPUT_NAME, META_FILE, OUTPUT_NAME, ModelMetadata
from ayni.vision.network import FEATURE_DIM, EfficientNetLite0

log = logging.getLogger(__name__)

def attach_head(backbone: EfficientNetLite0, head: LinearHead) -> EfficientNetLite0:
    """Put a fitted ``LinearHead`` in place of the ImageNet classifier (in place; returns it)."""
    lin = torch.nn.Linear(FEATURE_DIM, len(CLASSES))
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(np.asarray(head.coef_, dtype=np.float32)))
        lin.bias.copy_(torch.from_numpy(np.asarray(head.intercept_, dtype=np.float32)))
    backbone._fc = lin
    return backbone


def export_onnx(model: torch.nn.Module, path: Path, *, size: int = 224, opset: int = 17) -> Path:
    """Export ``model`` (N, 3, size, size) → logits to ONNX with a dynamic batch axis."""
    model = model.eval().to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, 3, size, size)
    torch.onnx.export(model, (dummy,), str(path), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                      dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                      opset_version=opset, dynamo=False)
    log.info("exported ONNX %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def quantize_int8(src: Path, dst: Path) -> Path:
    """Dynamic int8 quantisation of the ONNX model's weights (MatMul/Conv)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
    return dst


def write_metadata(meta: ModelMetadata, directory: Path) -> Path:
    path = directory / META_FILE
    path.write_text(meta.to_json(), encoding="utf-8")
    return path

"""Export the classifier to ONNX (one file: backbone + head; logits and pooled features out) plus its metadata.

The classifier's ONNX has two outputs: ``logits`` (N, 7) and ``features`` (N, D), the backbone embedding
the head reads (1280-d pooled, 2024-d multiscale or 6064-d dense, ``ayni.vision.network.HEAD_INPUTS``) — ``Classifier.embed`` serves it for embedding-space drift. A model exported
before the second output existed gets it with ``add_features_output`` (the same graph, the pooled tensor
named as an output: predictions are unchanged).

The served artefacts are ``model.onnx`` and ``model.json`` (classes, temperature, threshold,
version, preprocessing parameters, metrics): no pickle anywhere. ``quantize_int8`` makes a static int8
copy (calibrated on training photos); it is shipped only if its accuracy stays within 0.5 point of the
float model.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import torch

from ayni.domain.materials import CLASSES
from ayni.vision.head import LinearHead
from ayni.vision.meta import INPUT_NAME, META_FILE, OUTPUT_NAME, ModelMetadata
from ayni.vision.network import FEATURE_DIM, EfficientNetLite0, embedding_dim
from ayni.vision.predict import FEATURES_NAME

log = logging.getLogger(__name__)


class _WithFeatures(torch.nn.Module):
    """``(logits, head input)`` of an ``EfficientNetLite0`` (eval mode: dropout is the identity)."""

    def __init__(self, net: EfficientNetLite0) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.net.embedding(x)
        return self.net._fc(self.net._dropout(f)), f


def attach_head(backbone: EfficientNetLite0, head: LinearHead) -> EfficientNetLite0:
    """Put a fitted ``LinearHead`` in place of the ImageNet classifier (in place; returns it).

    The head must have been fitted on the embedding ``backbone.head_input`` names."""
    want = embedding_dim(backbone.head_input)
    if head.n_features_in_ != want:
        raise ValueError(f"the head reads {head.n_features_in_} features; the backbone's {backbone.head_input!r} "
                         f"embedding has {want}")
    lin = torch.nn.Linear(want, len(CLASSES))
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(np.asarray(head.coef_, dtype=np.float32)))
        lin.bias.copy_(torch.from_numpy(np.asarray(head.intercept_, dtype=np.float32)))
    backbone._fc = lin
    return backbone


def export_onnx(model: torch.nn.Module, path: Path, *, size: int = 224, opset: int = 17,
                output_names: list[str] | None = None) -> Path:
    """Export ``model`` (N, 3, size, size) → logits to ONNX with a dynamic batch axis.

    A classifier (``EfficientNetLite0``) also outputs the ``features`` its head reads; a module returning
    a tuple needs ``output_names``."""
    model = model.eval().to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, 3, size, size)
    outputs = output_names or [OUTPUT_NAME]
    if isinstance(model, EfficientNetLite0):
        model, outputs = _WithFeatures(model).eval(), [OUTPUT_NAME, FEATURES_NAME]
    torch.onnx.export(model, (dummy,), str(path), input_names=[INPUT_NAME], output_names=outputs,
                      dynamic_axes={INPUT_NAME: {0: "batch"}, **{o: {0: "batch"} for o in outputs}},
                      opset_version=opset, dynamo=False)
    log.info("exported ONNX %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def add_features_output(src: Path, dst: Path) -> Path:
    """Name the pooled embedding (the input of the final ``Gemm`` that makes ``logits``) as a second output.

    For a model exported before ``features`` existed: the graph and weights are untouched, so the logits
    are bit-identical. Needs the ``onnx`` package (the ``train`` extra), never at serve time."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(src))
    graph = model.graph
    if FEATURES_NAME in {o.name for o in graph.output}:
        onnx.save(model, str(dst))
        return dst
    head = next((n for n in graph.node if OUTPUT_NAME in n.output and n.op_type in ("Gemm", "MatMul")), None)
    if head is None:
        raise ValueError(f"{src}: no Gemm/MatMul node produces {OUTPUT_NAME!r}")
    graph.node.append(helper.make_node("Identity", [head.input[0]], [FEATURES_NAME], name="features_output"))
    graph.output.append(helper.make_tensor_value_info(FEATURES_NAME, TensorProto.FLOAT, ["batch", FEATURE_DIM]))
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return dst


# Nodes left in float by ``quantize_int8`` (name fragments): the stem conv (raw normalised pixels), the head conv
# and the classifier. Measured on val: quantising them too cost 1.1 points instead of 0.5.
FLOAT_NODES = ("_conv_stem", "_conv_head", "_fc")


def quantize_int8(src: Path, dst: Path, calibration: np.ndarray, *, percentile: float = 99.99) -> Path:
    """Static int8 copy of the ONNX model: QDQ, per-channel int8 weights, uint8 activations whose ranges are the
    ``percentile`` of their values over ``calibration`` (N, 3, H, W, preprocessed training photos); the
    ``FLOAT_NODES`` stay float.

    Dynamic quantisation (int8 weights, activations quantised per call, the earlier method) wrecked this
    network: 11 % val accuracy with the head left in float, and ConvInteger ran slower than float.
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class _Photos(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self, name: str) -> None:
            self.rows = iter(calibration.astype(np.float32)[:, None])
            self.name = name

        def get_next(self) -> dict[str, np.ndarray] | None:
            row = next(self.rows, None)
            return None if row is None else {self.name: row}

    if calibration.ndim != 4 or not len(calibration):
        raise ValueError("calibration must be a non-empty (N, 3, H, W) batch")
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre))
        graph = onnx.load(str(pre)).graph
        keep = [n.name for n in graph.node if any(f in n.name for f in FLOAT_NODES)]
        quantize_static(str(pre), str(dst), _Photos(graph.input[0].name), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.Percentile,
                        extra_options={"CalibPercentile": percentile}, nodes_to_exclude=keep)
    return dst


def write_metadata(meta: ModelMetadata, directory: Path) -> Path:
    path = directory / META_FILE
    path.write_text(meta.to_json(), encoding="utf-8")
    return path

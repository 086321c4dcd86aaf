"""The head inputs beyond the pooled embedding ("multiscale", "dense"): their shape and parts, and that
every path that computes them agrees (the one-pass forward, the frozen-prefix + trained-suffix split
used by fine-tuning, the ONNX export)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ayni.domain.materials import CLASSES
from ayni.vision.export import attach_head, export_onnx
from ayni.vision.finetune import _prefix_runner, _Suffix
from ayni.vision.head import LinearHead
from ayni.vision.network import (
    DENSE_DIM,
    FEATURE_DIM,
    MULTISCALE_DIM,
    TAP_BLOCKS,
    EfficientNetLite0,
    embedding_dim,
)

SIZE = 64


def _net(head_input: str = "multiscale") -> EfficientNetLite0:
    torch.manual_seed(0)
    net = EfficientNetLite0(num_classes=len(CLASSES))
    net.head_input = head_input
    net._fc = torch.nn.Linear(embedding_dim(head_input), len(CLASSES))
    return net.eval()


def _x(n: int = 3) -> torch.Tensor:
    return torch.randn(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


def test_multiscale_embedding_is_the_stage_means_then_the_pooled_embedding() -> None:
    net = _net()
    x = _x()
    with torch.inference_mode():
        emb = net.embedding(x)
        pooled = net.features(x)
        act, taps = net.run_blocks(x)
    assert emb.shape == (3, MULTISCALE_DIM) and MULTISCALE_DIM == 40 + 80 + 112 + 192 + 320 + FEATURE_DIM
    assert TAP_BLOCKS == (4, 7, 10, 14, 15)
    torch.testing.assert_close(emb[:, -FEATURE_DIM:], pooled)
    torch.testing.assert_close(emb[:, :-FEATURE_DIM], torch.cat(taps, dim=1))
    assert act.shape[1] == 320


def test_dense_embedding_is_every_block_mean_and_three_expanded_means_then_the_pooled_embedding() -> None:
    net = _net("dense")
    x = _x()
    with torch.inference_mode():
        emb = net.embedding(x)
        pooled = net.features(x)
        h = net.act(net._bn0(net._conv_stem(x)))
        expected = []
        for i, block in enumerate(net._blocks):
            h, mid = block.forward_expanded(h)
            if i in (11, 14, 15):
                expected.append(mid.mean(dim=(2, 3)))
            expected.append(h.mean(dim=(2, 3)))
    assert emb.shape == (3, DENSE_DIM) and DENSE_DIM == 1808 + 672 + 1152 + 1152 + FEATURE_DIM
    torch.testing.assert_close(emb, torch.cat([*expected, pooled], dim=1))


def test_pooled_head_input_is_unchanged_and_unknown_names_are_refused() -> None:
    net = _net("pooled")
    with torch.inference_mode():
        torch.testing.assert_close(net.embedding(_x()), net.features(_x()))
    with pytest.raises(ValueError, match="head_input"):
        embedding_dim("bilinear")


@pytest.mark.parametrize(("head_input", "k"), [("multiscale", 0), ("multiscale", 3), ("multiscale", 11),
                                                ("dense", 11), ("dense", 12), ("pooled", 11)])
def test_frozen_prefix_plus_trained_suffix_equals_the_whole_network(head_input: str, k: int, tmp_path: Path) -> None:
    net = _net(head_input)
    x = _x()
    prefix = _prefix_runner(net, k, device=torch.device("cpu"), size=SIZE, workdir=str(tmp_path))
    with torch.inference_mode():
        whole = net(x)
        split = _Suffix(net, k)(prefix(x))
    torch.testing.assert_close(split, whole, rtol=1e-4, atol=1e-4)


def test_a_head_fitted_on_other_features_is_refused() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, FEATURE_DIM))
    y = np.asarray(CLASSES * 6)[:40]
    head = LinearHead(max_iter=5).fit(X, y)
    with pytest.raises(ValueError, match="2024"):
        attach_head(_net(), head)
    with pytest.raises(ValueError, match="6064"):
        attach_head(_net("dense"), head)


@pytest.mark.parametrize("head_input", ["multiscale", "dense"])
def test_the_onnx_export_serves_the_features_the_head_reads(head_input: str, tmp_path: Path) -> None:
    import onnxruntime as ort

    net = _net(head_input)
    path = export_onnx(net, tmp_path / "m.onnx", size=SIZE)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = _x().numpy()
    logits, feats = sess.run(None, {sess.get_inputs()[0].name: x})
    assert feats.shape == (3, embedding_dim(head_input))
    w, b = net._fc.weight.detach().numpy(), net._fc.bias.detach().numpy()
    np.testing.assert_allclose(feats @ w.T + b, logits, rtol=1e-4, atol=1e-4)
    with torch.inference_mode():
        np.testing.assert_allclose(logits, net(torch.from_numpy(x)).numpy(), rtol=1e-4, atol=1e-4)

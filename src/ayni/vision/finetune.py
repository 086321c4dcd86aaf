"""Full fine-tuning of EfficientNet-Lite0 (``ayni vision train --mode full``).

On CPU the first ``k`` blocks stay frozen (default: blocks 0–10) and run in ONNX Runtime, while
blocks ``k``–15 and the head train in PyTorch: eager PyTorch needs ~0.1 s per image for a forward
pass of the whole network on this machine, which would make an epoch take tens of minutes. With a
GPU, or ``--freeze-blocks 0``, every layer trains.

Augmentation with background and colour changes (``ayni.vision.augment``), class-balanced loss (plus
the "not organic" loss for Kaggle train-R rows), AdamW with cosine decay, BatchNorm statistics frozen
(small CPU batches), channels_last, early stopping on validation macro-F1, and a wall-clock budget
that stops cleanly and keeps the best epoch.
"""

from __future__ import annotations

import copy
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.metrics import f1_score
from torch.utils.data import DataLoader, Dataset

from ayni.domain.materials import CLASSES
from ayni.vision.augment import augment
from ayni.vision.data import ImageRecord
from ayni.vision.network import EfficientNetLite0, tap_plan
from ayni.vision.preprocess import PreprocessParams, decode_image, image_to_array

if TYPE_CHECKING:
    from ayni.vision.train import TrainConfig

log = logging.getLogger(__name__)


class AugmentedImages(Dataset[tuple[torch.Tensor, int]]):
    """Files → augmented tensors. Target: class index, or -1 for "recyclable" (not organic)."""

    def __init__(self, data_dir: Any, records: Sequence[ImageRecord], *, params: PreprocessParams,
                 random_state: int, p_background: float) -> None:
        self.data_dir = data_dir
        self.records = list(records)
        self.params = params
        self.random_state = random_state
        self.p_background = p_background
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        r = self.records[i]
        img = decode_image((self.data_dir / r.path).read_bytes(), params=self.params)
        rng = np.random.default_rng([self.random_state, self.epoch, i])  # same in any worker
        img = augment(img, rng, p_background=self.p_background)
        target = CLASSES.index(r.label) if r.label in CLASSES else -1
        return torch.from_numpy(image_to_array(img, params=self.params)), target


def _class_weights(records: Sequence[ImageRecord]) -> torch.Tensor:
    counts = np.asarray([sum(r.label == c for r in records) for c in CLASSES], dtype=np.float64)
    present = counts > 0
    w = np.where(present, counts.sum() / (present.sum() * np.maximum(counts, 1)), 0.0)
    return torch.tensor(w, dtype=torch.float32)


def _loss(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, rec_weight: float) -> torch.Tensor:
    known = target >= 0
    total = logits.new_zeros(())
    if known.any():
        total = total + torch.nn.functional.cross_entropy(logits[known], target[known], weight=weights,
                                                          label_smoothing=0.05, reduction="sum")
    if (~known).any():
        p_org = torch.softmax(logits[~known], 1)[:, CLASSES.index("organic")].clamp(max=1 - 1e-6)
        total = total - rec_weight * torch.log1p(-p_org).sum()
    return total / len(target)


def _freeze_bn(model: torch.nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()


Prefixed = tuple[torch.Tensor, torch.Tensor]  # (activation after block k-1, tap means of blocks < k: (N, d ≥ 0))


def has_early_taps(model: EfficientNetLite0, k: int) -> bool:
    plan = tap_plan(model.head_input)
    return any(b < k for b in (*plan.blocks, *plan.expanded))


class _Prefix(torch.nn.Module):
    """Stem + the first ``k`` blocks (frozen); with a multiscale or dense head also their tap means."""

    def __init__(self, model: EfficientNetLite0, k: int) -> None:
        super().__init__()
        self.m, self.k = model, k

    def forward(self, x: torch.Tensor) -> torch.Tensor | Prefixed:
        x, taps = self.m.run_blocks(x, 0, self.k)
        return (x, torch.cat(taps, dim=1)) if has_early_taps(self.m, self.k) else x


class _Suffix(torch.nn.Module):
    """Blocks ``k…``, head conv, pooling and classifier (trained)."""

    def __init__(self, model: EfficientNetLite0, k: int) -> None:
        super().__init__()
        self.m, self.k = model, k

    def forward(self, prefixed: Prefixed) -> torch.Tensor:
        x, early = prefixed
        x, taps = self.m.run_blocks(x, self.k)
        taps = ([early] if early.shape[1] else []) + taps
        return self.m._fc(self.m._dropout(self.m.pool_head(x, taps)))


def _prefix_runner(model: EfficientNetLite0, k: int, *, device: torch.device, size: int,
                   workdir: str) -> Callable[[torch.Tensor], Prefixed]:
    """The frozen prefix as a function. On CPU it runs in ONNX Runtime (much faster than eager)."""
    prefix = _Prefix(model, k).eval()
    early = has_early_taps(model, k)

    def pair(out: torch.Tensor | Prefixed) -> Prefixed:
        return out if isinstance(out, tuple) else (out, out.new_zeros((out.shape[0], 0)))

    if k == 0:
        return lambda x: (x, x.new_zeros((x.shape[0], 0)))
    if device.type != "cpu":
        def run_torch(x: torch.Tensor) -> Prefixed:
            with torch.no_grad():
                return pair(prefix(x))
        return run_torch
    import onnxruntime as ort

    from ayni.vision.export import export_onnx

    path = export_onnx(prefix, Path(workdir) / "prefix.onnx", size=size,
                       output_names=["activation", "taps"] if early else None)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name

    def run_onnx(x: torch.Tensor) -> Prefixed:
        outs = [torch.from_numpy(o) for o in sess.run(None, {name: x.contiguous().numpy()})]
        return (outs[0], outs[1]) if early else pair(outs[0])
    return run_onnx


def _val_f1(suffix: _Suffix, prefix: Callable[[torch.Tensor], Prefixed], data_dir: Any,
            recs: Sequence[ImageRecord], params: PreprocessParams, device: torch.device) -> float:
    from ayni.vision.features import load_batch

    suffix.eval()
    preds: list[int] = []
    with torch.inference_mode():
        for s in range(0, len(recs), 64):
            x = load_batch(data_dir, [r.path for r in recs[s:s + 64]], params=params)
            h, early = prefix(x)
            preds += suffix((h.to(device), early.to(device))).argmax(1).tolist()
    return float(f1_score([r.label for r in recs], [CLASSES[p] for p in preds], average="macro"))


def resolve_freeze(freeze_blocks: int, device: torch.device) -> int:
    """``-1`` (auto): train everything on a GPU; on CPU freeze blocks 0–10 (train 11–15 + head)."""
    if freeze_blocks >= 0:
        return freeze_blocks
    return 0 if device.type == "cuda" else 11


def finetune(model: EfficientNetLite0, records: Sequence[ImageRecord], cfg: TrainConfig, *,
             device: torch.device) -> tuple[EfficientNetLite0, list[dict[str, float]]]:
    """Fine-tune ``model`` (already holding a fitted 7-class head) on the train split."""
    torch.manual_seed(cfg.random_state)
    k = resolve_freeze(cfg.freeze_blocks, device)
    with tempfile.TemporaryDirectory() as workdir:
        prefix = _prefix_runner(model, k, device=device, size=cfg.params.size, workdir=workdir)
        return _loop(model, records, cfg, device=device, k=k, prefix=prefix)


def _loop(model: EfficientNetLite0, records: Sequence[ImageRecord], cfg: TrainConfig, *, device: torch.device,
          k: int, prefix: Callable[[torch.Tensor], Prefixed]
          ) -> tuple[EfficientNetLite0, list[dict[str, float]]]:
    from ayni.vision.train import progress_bar

    train = [r for r in records if r.split == "train"]
    val = [r for r in records if r.split == "val" and r.label in CLASSES]
    ds = AugmentedImages(cfg.data_dir, train, params=cfg.params, random_state=cfg.random_state,
                         p_background=cfg.p_background)
    gen = torch.Generator().manual_seed(cfg.random_state)
    loader = DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, generator=gen, drop_last=True,
                        num_workers=1)
    model = model.to(device)
    model.requires_grad_(False)
    suffix = _Suffix(model, k)
    for block in model._blocks[k:]:
        block.requires_grad_(True)
    for module in (model._conv_head, model._bn1, model._fc):
        module.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    log.info("fine-tuning blocks %d-%d + head: %d tensors, %d weights", k, len(model._blocks) - 1,
             len(params), sum(p.numel() for p in params))
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs * len(loader))
    weights = _class_weights(train).to(device)
    rec_weight = float(weights[weights > 0].mean())
    best_f1 = _val_f1(suffix, prefix, cfg.data_dir, val, cfg.params, device)
    best_state = copy.deepcopy(model.state_dict())
    history: list[dict[str, float]] = [{"epoch": 0, "val_macro_f1": best_f1}]
    log.info("fine-tune start: val macro-F1 %.4f", best_f1)
    deadline = time.monotonic() + cfg.time_budget_min * 60
    stale = 0
    with progress_bar() as progress:
        for epoch in range(1, cfg.epochs + 1):
            ds.epoch = epoch
            task = progress.add_task(f"epoch {epoch}/{cfg.epochs}", total=len(loader), info="")
            suffix.train()
            _freeze_bn(model)
            running, step = 0.0, 0
            for step, (x, t) in enumerate(loader, 1):
                h, early = prefix(x)
                loss = _loss(suffix((h.to(device), early.to(device))), t.to(device), weights, rec_weight)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                running += float(loss)
                progress.update(task, advance=1, info=f"loss {running / step:.3f}")
                if step % 25 == 0:
                    log.info("epoch %d step %d/%d loss %.4f", epoch, step, len(loader), running / step)
                if time.monotonic() > deadline:
                    break
            f1 = _val_f1(suffix, prefix, cfg.data_dir, val, cfg.params, device)
            history.append({"epoch": epoch, "train_loss": running / max(step, 1), "val_macro_f1": f1})
            log.info("epoch %d: loss %.4f val macro-F1 %.4f", epoch, running / max(step, 1), f1)
            if f1 > best_f1:
                best_f1, best_state, stale = f1, copy.deepcopy(model.state_dict()), 0
            else:
                stale += 1
            if stale >= cfg.patience or time.monotonic() > deadline:
                log.info("stopping after epoch %d (stale=%d)", epoch, stale)
                break
    model.load_state_dict(best_state)
    return model.to("cpu"), history

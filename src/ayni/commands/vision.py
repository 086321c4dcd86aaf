"""``ayni vision …``: split, train, evaluate, export and predict for the photo classifier.

Mounted by ``ayni.cli`` as ``ayni vision`` (and ``train`` as ``ayni train vision``). Heavy imports
(PyTorch) happen inside the commands, never when the CLI starts.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from ayni.settings import get_settings

app = typer.Typer(help="Photo → material classifier.", no_args_is_help=True)
log = logging.getLogger(__name__)

ManifestOpt = Annotated[Path | None, typer.Option(help="Split manifest (default: data/manifests/vision_split.csv).")]
ModelDirOpt = Annotated[Path | None, typer.Option(help="Model directory (default: the shipped assets).")]


def _setup() -> None:
    logging.basicConfig(level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _cache_dir() -> Path:
    return get_settings().var_dir / "vision" / "cache"


def _manifest(path: Path | None) -> Path:
    from ayni.vision.data import default_manifest_path

    return path or default_manifest_path()


@app.command()
def split(manifest: ManifestOpt = None,
          hash_distance: Annotated[int, typer.Option(help="dHash Hamming distance for near-duplicates.")] = 4,
          cosine: Annotated[float, typer.Option(help="Embedding cosine similarity for near-duplicates.")] = 0.93,
          seed: Annotated[int, typer.Option(help="Random seed.")] = 20261122) -> None:
    """Group near-duplicates and write the stratified 70/15/15 split manifest."""
    from ayni.vision.pipeline import run_split

    _setup()
    report = run_split(get_settings().data_dir, _manifest(manifest), cache_dir=_cache_dir(),
                       hash_distance=hash_distance, cosine=cosine, random_state=seed)
    typer.echo(json.dumps(asdict(report), indent=2))


@app.command()
def train(mode: Annotated[str, typer.Option(help="fast (frozen backbone + linear head) or full (fine-tune).")] = "fast",
          manifest: ManifestOpt = None,
          out: Annotated[Path | None, typer.Option(help="Output model directory.")] = None,
          seed: Annotated[int, typer.Option(help="Random seed.")] = 20261122,
          epochs: Annotated[int | None, typer.Option(help="Full mode: maximum epochs.")] = None,
          batch_size: Annotated[int | None, typer.Option(help="Full mode: batch size.")] = None,
          lr: Annotated[float | None, typer.Option(help="Full mode: learning rate.")] = None,
          freeze_blocks: Annotated[int | None, typer.Option(help="Full mode: freeze the first N blocks.")] = None,
          time_budget_min: Annotated[float | None, typer.Option(help="Full mode: stop after this long.")] = None,
          device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
          hflip: Annotated[bool, typer.Option(help="Fast mode: also train on mirrored photos.")] = True,
          head_input: Annotated[str, typer.Option(
              help="What the head reads: dense (means of every block and of 3 blocks' expanded activations "
                   "+ the 1280-d embedding), multiscale (means of the last block of stages 3–7 + the 1280-d "
                   "embedding) or pooled (the 1280-d embedding only).")] = "dense",
          int8: Annotated[bool, typer.Option(help="Ship int8 if val accuracy holds within 0.5 pt.")] = True,
          threads: Annotated[int | None, typer.Option(help="PyTorch CPU threads.")] = None) -> None:
    """Train the classifier, calibrate it on val, export ONNX + metadata to OUT."""
    import torch

    from ayni.vision.network import HEAD_INPUTS
    from ayni.vision.pipeline import default_train_config, run_train

    _setup()
    if mode not in ("fast", "full"):
        raise typer.BadParameter("mode must be 'fast' or 'full'")
    if head_input not in HEAD_INPUTS:
        raise typer.BadParameter(f"head-input must be one of {', '.join(HEAD_INPUTS)}")
    if threads:
        torch.set_num_threads(threads)
    settings = get_settings()
    cfg = default_train_config(settings.data_dir, _cache_dir(), mode=mode, random_state=seed, epochs=epochs,
                               batch_size=batch_size, lr=lr, freeze_blocks=freeze_blocks,
                               time_budget_min=time_budget_min, device=device,
                               hflip_augment=hflip, head_input=head_input)
    out_dir = out or settings.var_dir / "vision" / f"model-{mode}"
    meta = run_train(cfg, _manifest(manifest), out_dir, int8=int8)
    test = meta.metrics["test"]
    typer.echo(f"{meta.version}: test accuracy {test['accuracy']:.4f}, macro-F1 {test['macro_f1']:.4f}, "
               f"T={meta.temperature:.3f}, threshold={meta.threshold:.3f} → {out_dir}")


@app.command()
def evaluate(model_dir: ModelDirOpt = None, manifest: ManifestOpt = None,
             out: Annotated[Path | None, typer.Option(help="Write the full results JSON here.")] = None,
             img_dir: Annotated[Path, typer.Option(help="Where the PNG figures go.")] = Path("docs/img")) -> None:
    """Score (a) the test split, (b) TrashNet's split files, (c) Kaggle TEST; draw the figures."""
    from ayni.vision.evaluate import run_evaluate
    from ayni.vision.meta import ASSETS_DIR

    _setup()
    results, markdown = run_evaluate(model_dir or ASSETS_DIR, get_settings().data_dir, _manifest(manifest),
                                     cache_dir=_cache_dir(), img_dir=img_dir)
    if out:
        out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    typer.echo(markdown)


@app.command()
def export(src: Annotated[Path, typer.Argument(help="A trained model directory (model.onnx + model.json).")],
           dest: Annotated[Path | None, typer.Option(help="Destination (default: the shipped assets).")] = None
           ) -> None:
    """Ship a trained model: check it loads and predicts, then copy it into the package assets."""
    import shutil

    import numpy as np

    from ayni.vision.meta import ASSETS_DIR, META_FILE, MODEL_FILE
    from ayni.vision.predict import Classifier

    _setup()
    clf = Classifier.load(src)
    probe = clf.logits(np.zeros((1, 3, clf.params.size, clf.params.size), dtype=np.float32))
    if probe.shape != (1, len(clf.meta.classes)) or not np.isfinite(probe).all():
        raise typer.BadParameter(f"{src} does not produce valid logits")
    target = dest or ASSETS_DIR
    target.mkdir(parents=True, exist_ok=True)
    for name in (MODEL_FILE, META_FILE):
        shutil.copyfile(src / name, target / name)
    typer.echo(f"shipped {clf.version} to {target} ({(target / MODEL_FILE).stat().st_size / 1e6:.1f} MB)")


@app.command()
def predict(photo: Annotated[Path, typer.Argument(help="A JPEG, PNG, WebP or HEIC photo.")],
            model_dir: ModelDirOpt = None) -> None:
    """Classify one photo and print the prediction as JSON."""
    from ayni.vision.predict import Classifier

    _setup()
    clf = Classifier.load(model_dir)
    typer.echo(json.dumps(asdict(clf.predict(photo.read_bytes())), indent=2))

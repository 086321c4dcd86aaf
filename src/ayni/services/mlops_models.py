"""Which models the MLOps loop knows, and how each is trained, evaluated and checked (``Trainer`` adapters).

``ayni.mlops`` is model-agnostic; this module plugs real models into it. Each ``ModelSpec`` names the
base data (a table with ``key``, ``label``, ``split``), the ``Trainer`` and the gate's metric and margin:

* ``tiny``: the built-in ``TinyClassifier`` on a CSV of ``f0…fn`` features (CI, demos, the DVC ``tiny``
  profile's loop stage);
* ``vision``: the photo classifier (``ayni.vision``): base data is the split manifest, a challenger is a
  ``fast`` training run on base + corrected photos, scored with the served ONNX model on the frozen test
  rows, and checked for invariance to a horizontal flip and a minimum accuracy;
* ``ranker``: the match acceptance model (``ayni.matching.AcceptanceModel``), on the simulated interaction
  log plus the platform's decided matches, gated on NDCG@10 over the last ``test_weeks`` weeks
  (``_mlops_ranker``);
* ``forecaster``: the annual district supply model the product serves (``ayni.forecast``), gated on
  MASE over ``test_year`` (``_mlops_forecaster``).

The ranker's and the forecaster's seed and evaluation window come from ``Settings.ranker`` and
``Settings.forecaster`` (``AYNI_RANKER__*``, ``AYNI_FORECASTER__*``), the values the pipeline's training
commands read too, so the pipeline, ``ayni retrain`` and the gate hold out the same rows.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from ayni.domain.materials import CLASSES
from ayni.errors import InvalidInput
from ayni.mlops.drift import build_reference, image_quality, image_signals
from ayni.mlops.feedback import build_training_set, freeze_eval_set
from ayni.mlops.promotion import (
    CheckResult,
    GateConfig,
    GateOutcome,
    invariance,
    minimum_functionality,
    run_gate,
)
from ayni.mlops.registry import ModelRegistry, ModelVersion
from ayni.mlops.retrain import TrainedModel, Trainer, TrainingSetBuilder, gate_callbacks
from ayni.mlops.tiny import TinyTrainer
from ayni.services import _mlops_forecaster, _mlops_ranker
from ayni.services._common import audit
from ayni.settings import ForecasterSettings, RankerSettings
from ayni.storage.tables import User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    trainer: Callable[[], Trainer]
    base: Callable[[], pd.DataFrame]
    gate: GateConfig
    reference: Callable[[Path, pd.DataFrame], None] | None = None  # drift reference for a pipeline-built model
    training_set: TrainingSetBuilder = build_training_set  # base + feedback → the next training set
    # what this model learns from in the database (default: ``mlops_data.feedback_frame``)
    feedback: Callable[[Session, Path, datetime | None], pd.DataFrame] | None = None


def read_base_csv(path: Path) -> pd.DataFrame:
    """A base table from CSV (``key``, ``label``, ``split`` and features), keys and labels as text."""
    if not path.is_file():
        raise InvalidInput(f"No base data at {path}.")
    return pd.read_csv(path, dtype={"key": str, "label": str, "split": str})


def manifest_base(manifest: Path, data_dir: Path) -> pd.DataFrame:
    """The vision split manifest as a base table (``path`` absolute, ``key`` the image's SHA-256)."""
    if not manifest.is_file():
        raise InvalidInput(f"No vision split manifest at {manifest}; run `ayni vision split` first.")
    m = pd.read_csv(manifest, dtype=str)
    return pd.DataFrame({"key": m["sha256"], "label": m["class"], "split": m["split"], "group": m["group"],
                         "path": [str(data_dir / f) for f in m["file"]]})


class VisionTrainer:
    """``Trainer`` over ``ayni.vision``: fast training, the served ONNX model for scores and checks."""

    def __init__(self, *, data_dir: Path, cache_dir: Path, random_state: int = 20261122, mode: str = "fast",
                 min_accuracy: float = 0.5, min_flip_agreement: float = 0.9) -> None:
        self.data_dir = data_dir
        self.cache_dir = cache_dir
        self.random_state = random_state
        self.mode = mode
        self.min_accuracy = min_accuracy
        self.min_flip_agreement = min_flip_agreement

    def _manifest(self, frame: pd.DataFrame, path: Path, *, split: str | None = None) -> Path:
        rows = pd.DataFrame({"file": frame["path"], "class": frame["label"], "sha256": frame["key"]})
        rows["split"] = split if split is not None else frame.get("split", "train")
        rows["group"] = frame["group"] if "group" in frame.columns else -1
        rows.to_csv(path, index=False)
        return path

    def train(self, frame: pd.DataFrame, out_dir: Path) -> TrainedModel:
        from ayni.vision.pipeline import default_train_config, run_train

        with tempfile.TemporaryDirectory() as tmp:
            manifest = self._manifest(frame, Path(tmp) / "train_manifest.csv")
            cfg = default_train_config(self.data_dir, self.cache_dir, mode=self.mode, random_state=self.random_state)
            meta = run_train(cfg, manifest, out_dir)
        self.save_reference(out_dir, frame)
        metrics = {f"{split}_{k}": float(v) for split, rep in meta.metrics.items() if isinstance(rep, dict)
                   for k, v in rep.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        return TrainedModel(model_dir=out_dir, params={"mode": self.mode, "version": meta.version,
                                                       "random_state": self.random_state}, metrics=metrics)

    def save_reference(self, model_dir: Path, frame: pd.DataFrame, *, limit: int = 400) -> None:
        """Drift reference from the validation photos: confidence, class mix, image quality, embeddings."""
        from ayni.vision.predict import Classifier

        val = frame[frame["split"] == "val"]
        val = val.sample(min(len(val), limit), random_state=self.random_state)
        if val.empty:
            log.warning("no validation rows: %s gets no drift reference", model_dir)
            return
        clf = Classifier.load(model_dir)
        prob = np.stack([clf.predict_proba(Path(p).read_bytes()) for p in val["path"]])
        conf, mix = image_signals(prob, clf.meta.classes)
        quality = image_quality([_pixels(Path(p)) for p in val["path"]])
        emb = clf.embed([Path(p).read_bytes() for p in val["path"]]) if clf.has_features else None
        build_reference(tabular=pd.concat([quality, conf], axis=1), categories=mix, embeddings=emb).save(model_dir)

    def evaluate(self, model_dir: Path, eval_frame: pd.DataFrame) -> dict[str, float]:
        from ayni.vision.evaluate import evaluate_split
        from ayni.vision.predict import Classifier

        with tempfile.TemporaryDirectory() as tmp:
            manifest = self._manifest(eval_frame, Path(tmp) / "eval_manifest.csv", split="test")
            rep, _, _ = evaluate_split(Classifier.load(model_dir), self.data_dir, manifest)
        return {"accuracy": float(rep["accuracy"]), "macro_f1": float(rep["macro_f1"])}

    def checks(self, model_dir: Path, eval_frame: pd.DataFrame) -> Sequence[CheckResult]:
        from ayni.vision.predict import Classifier

        clf = Classifier.load(model_dir)
        labelled = eval_frame[eval_frame["label"].isin(CLASSES)]  # not the Kaggle "recyclable" catch-all
        sample = labelled.sample(min(len(labelled), 64), random_state=self.random_state)
        photos = [Path(p).read_bytes() for p in sample["path"]]

        def predict(items: list[bytes]) -> np.ndarray:
            return np.array([clf.predict(b).material for b in items])

        return [
            invariance("horizontal flip", predict, photos, [_flip(b) for b in photos],
                       min_agreement=self.min_flip_agreement),
            minimum_functionality("accuracy floor", predict, photos, sample["label"].tolist(),
                                  min_accuracy=self.min_accuracy),
        ]


def _pixels(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        img.thumbnail((128, 128))
        return np.asarray(img.convert("RGB"), dtype=np.float64)


def _flip(data: bytes) -> bytes:
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as img:
        out = io.BytesIO()
        ImageOps.mirror(img.convert("RGB")).save(out, format="PNG")
        return out.getvalue()


def model_specs(*, var_dir: Path, data_dir: Path, base_path: Path | None = None, margin: float | None = None,
                ranker: RankerSettings | None = None, forecaster: ForecasterSettings | None = None,
                ) -> dict[str, ModelSpec]:
    """The models ``ayni promote / retrain`` can act on. ``base_path`` overrides the base data's location
    (tiny: CSV; vision: split manifest; ranker: interaction log; forecaster: MINAM generation table).
    ``ranker`` / ``forecaster``: the seed and evaluation window (``Settings.ranker`` / ``Settings.forecaster``;
    their defaults when not given)."""
    ranker_cfg, forecaster_cfg = ranker or RankerSettings(), forecaster or ForecasterSettings()
    tiny_base = base_path or var_dir / "mlops" / "tiny" / "base.csv"
    manifest = base_path or Path("data/manifests/vision_split.csv")
    interactions = base_path or Path("data/interactions/interactions.csv")
    generation = base_path or _mlops_forecaster.generation_path(data_dir)

    def vision() -> VisionTrainer:
        return VisionTrainer(data_dir=data_dir, cache_dir=var_dir / "vision" / "cache")

    def ranker_feedback(session: Session, media_dir: Path, since: datetime | None) -> pd.DataFrame:
        from ayni.services.mlops_data import ranker_outcomes

        return ranker_outcomes(session, media_dir=media_dir, since=since)

    def ranker_base() -> pd.DataFrame:
        return _mlops_ranker.ranker_base(interactions, test_weeks=ranker_cfg.test_weeks)

    def forecaster_base() -> pd.DataFrame:
        return _mlops_forecaster.forecaster_base(generation, test_year=forecaster_cfg.test_year)

    def m(default: float) -> float:
        return default if margin is None else margin
    return {
        "tiny": ModelSpec("tiny", lambda: TinyTrainer(), lambda: read_base_csv(tiny_base),
                          GateConfig(metric="accuracy", min_improvement=m(0.01))),
        "vision": ModelSpec(
            "vision",
            lambda: vision(),
            lambda: manifest_base(manifest, data_dir),
            GateConfig(metric="accuracy", min_improvement=m(0.005), guards={"macro_f1": 0.01}),
            reference=lambda path, frame: vision().save_reference(path, frame),
        ),
        "ranker": ModelSpec(
            "ranker", lambda: _mlops_ranker.RankerTrainer(random_state=ranker_cfg.seed), ranker_base,
            GateConfig(metric="ndcg_at_10", min_improvement=m(0.005), guards={"log_loss": 0.02},
                       lower_is_better=frozenset({"log_loss"})),
            training_set=_mlops_ranker.ranker_training_set, feedback=ranker_feedback,
        ),
        "forecaster": ModelSpec(
            "forecaster", lambda: _mlops_forecaster.ForecasterTrainer(random_state=forecaster_cfg.seed),
            forecaster_base,
            GateConfig(metric="mase", higher_is_better=False, min_improvement=m(0.01)),
            training_set=_mlops_forecaster.forecaster_training_set,
            feedback=lambda session, media_dir, since: pd.DataFrame(),
        ),
    }


def spec_for(name: str, *, var_dir: Path, data_dir: Path, base_path: Path | None = None,
             margin: float | None = None, ranker: RankerSettings | None = None,
             forecaster: ForecasterSettings | None = None) -> ModelSpec:
    """The spec for ``name``; ``InvalidInput`` naming the known models otherwise."""
    specs = model_specs(var_dir=var_dir, data_dir=data_dir, base_path=base_path, margin=margin, ranker=ranker,
                        forecaster=forecaster)
    if name not in specs:
        raise InvalidInput(f"No trainer is wired for '{name}' yet; known: {', '.join(sorted(specs))}.",
                           details={"model": name})
    return specs[name]


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


# --- use cases for the admin API and the CLI -----------------------------------------------------------


def promote_model(registry: ModelRegistry, name: str, *, var_dir: Path, data_dir: Path, version: int | None = None,
                  margin: float | None = None, base_path: Path | None = None, ranker: RankerSettings | None = None,
                  forecaster: ForecasterSettings | None = None, session: Session | None = None,
                  actor: User | None = None) -> GateOutcome:
    """Put ``version`` (default: the challenger) through the gate; audited when ``session`` is given.

    The evaluation set is frozen (on the first gate) from the window in ``ranker`` / ``forecaster``
    (``Settings.ranker`` / ``Settings.forecaster``). The caller refreshes its ``ChampionHolder`` afterwards
    when ``outcome.decision.promote``.
    """
    spec = spec_for(name, var_dir=var_dir, data_dir=data_dir, base_path=base_path, margin=margin, ranker=ranker,
                    forecaster=forecaster)
    eval_set = freeze_eval_set(spec.base(), var_dir / "mlops" / name / "eval_set.csv")
    evaluate, checks = gate_callbacks(spec.trainer(), eval_set)
    outcome = run_gate(registry, name, evaluate=evaluate, checks=checks, config=spec.gate,
                       cache_dir=var_dir / "mlops" / name / "cache", version=version)
    if session is not None:
        audit(session, actor=actor, action="model.promoted" if outcome.decision.promote else "model.refused",
              entity="model", entity_id=outcome.challenger.version, model=name, reason=outcome.decision.reason)
    return outcome


def rollback_model(registry: ModelRegistry, name: str, *, reason: str, session: Session | None = None,
                   actor: User | None = None) -> ModelVersion:
    """Restore the previous champion; audited when ``session`` is given. Refresh the holder afterwards."""
    restored = registry.rollback(name, reason=reason)
    if session is not None:
        audit(session, actor=actor, action="model.rolled_back", entity="model", entity_id=restored.version,
              model=name, reason=reason)
    return restored


def list_versions(registry: ModelRegistry, name: str | None = None) -> list[dict[str, object]]:
    """Every registered version (newest first per model) as plain dicts for the admin page and the CLI."""
    names = [name] if name else registry.models()
    return [v.as_dict() for n in names for v in registry.versions(n)]

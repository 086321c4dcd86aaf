"""Retraining: the next training set → a challenger → evaluation on the frozen set → the gate.

A ``Trainer`` (a small protocol) is what each model contributes: ``train`` a frame into a model directory
(with its drift reference inside), ``evaluate`` a model directory on the evaluation frame, and run its
behavioural ``checks``. ``ayni.mlops.tiny.TinyTrainer`` is the built-in one; the classifier, ranker and
forecaster plug theirs in from the command layer. ``train_and_register`` logs and registers one run;
``retrain`` is the whole loop and returns what happened and why.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from ayni.mlops.data_version import combine, hash_frame
from ayni.mlops.feedback import EvalSet, TrainingSetReport, build_training_set
from ayni.mlops.promotion import CheckResult, Evaluation, GateConfig, GateOutcome, run_gate
from ayni.mlops.registry import CHALLENGER, ModelRegistry, ModelVersion, Signature

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainedModel:
    model_dir: Path
    params: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    signature: Signature | None = None
    plots: Mapping[str, str] = field(default_factory=dict)


TrainingSetBuilder = Callable[..., tuple[pd.DataFrame, TrainingSetReport]]
"""``(base, feedback, *, eval_set) → (training frame, report)``: ``build_training_set`` for classifiers
(corrections relabel photos); the ranker adds collection outcomes instead (``ayni.services.mlops_models``)."""


class Trainer(Protocol):
    def train(self, frame: pd.DataFrame, out_dir: Path) -> TrainedModel: ...

    def evaluate(self, model_dir: Path, eval_frame: pd.DataFrame) -> dict[str, float]: ...

    def checks(self, model_dir: Path, eval_frame: pd.DataFrame) -> Sequence[CheckResult]: ...


def train_and_register(registry: ModelRegistry, trainer: Trainer, *, model_name: str, frame: pd.DataFrame,
                       eval_set: EvalSet, work_dir: Path, alias: str | None = CHALLENGER,
                       extra_params: Mapping[str, Any] | None = None,
                       tags: Mapping[str, str] | None = None) -> ModelVersion:
    """Train on ``frame``, score on the frozen set, log the run (data version included) and register it."""
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="train-") as tmp:
        trained = trainer.train(frame, Path(tmp) / "model")
        scores = trainer.evaluate(trained.model_dir, eval_set.frame)
        data_version = combine({"train": hash_frame(frame), "eval": eval_set.version})
        run_id = registry.log_run(
            model_name=model_name, model_dir=trained.model_dir, data_version=data_version,
            params={**trained.params, **(extra_params or {}), "eval_set": eval_set.version, "train_rows": len(frame)},
            metrics={**trained.metrics, **{f"eval_{k}": v for k, v in scores.items()}},
            signature=trained.signature, plots=trained.plots, tags=tags,
        )
    return registry.register(model_name=model_name, run_id=run_id, alias=alias)


@dataclass(frozen=True)
class RetrainResult:
    training_set: TrainingSetReport
    challenger: ModelVersion
    gate: GateOutcome

    @property
    def promoted(self) -> bool:
        return self.gate.decision.promote

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.challenger.name,
            "challenger_version": self.challenger.version,
            "promoted": self.promoted,
            "reason": self.gate.decision.reason,
            "champion_before": self.gate.champion_before.version if self.gate.champion_before else None,
            "champion_after": self.gate.champion_after.version if self.gate.champion_after else None,
            "training_set": self.training_set.as_dict(),
            "decision": self.gate.decision.as_dict(),
        }


def gate_callbacks(trainer: Trainer, eval_set: EvalSet) -> tuple[Any, Any]:
    """The evaluator and checker ``run_gate`` needs, both on the frozen evaluation frame."""

    def evaluate(path: Path) -> Evaluation:
        return Evaluation(trainer.evaluate(path, eval_set.frame), eval_set.version, len(eval_set))

    def checks(path: Path) -> Sequence[CheckResult]:
        return trainer.checks(path, eval_set.frame)

    return evaluate, checks


def retrain(registry: ModelRegistry, trainer: Trainer, *, model_name: str, base: pd.DataFrame,
            feedback: pd.DataFrame, eval_set: EvalSet, gate: GateConfig, work_dir: Path,
            report_path: Path | None = None, build: TrainingSetBuilder = build_training_set) -> RetrainResult:
    """Build the next training set (``build``), train and register a challenger, and put it through the gate."""
    frame, report = build(base, feedback, eval_set=eval_set)
    challenger = train_and_register(
        registry, trainer, model_name=model_name, frame=frame, eval_set=eval_set, work_dir=work_dir,
        extra_params={"feedback_rows": report.feedback_rows, "corrections_used": report.corrections_used},
        tags={"ayni.trigger": "retrain"},
    )
    evaluate, checks = gate_callbacks(trainer, eval_set)
    outcome = run_gate(registry, model_name, evaluate=evaluate, checks=checks, config=gate,
                       cache_dir=work_dir / "cache", version=challenger.version)
    result = RetrainResult(report, registry.version(model_name, challenger.version), outcome)
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(result.as_dict(), indent=2, default=str) + "\n", encoding="utf-8")
    shutil.rmtree(work_dir / "cache", ignore_errors=True)
    return result

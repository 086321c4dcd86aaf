"""The promotion gate: a challenger replaces the champion only when it is measurably better and well-behaved.

``decide`` is pure: given both models' scores on the *same frozen evaluation set* (its hash is checked),
the behavioural check results and a ``GateConfig``, it returns a ``Decision`` with a reason a person can
read. ``run_gate`` evaluates the two registered versions afresh (logged training metrics are never
trusted), decides, and moves the ``champion`` alias or records the refusal in the registry.

Behavioural checks (``invariance``, ``minimum_functionality``, ``direction``) follow the CheckList idea:
a model that scores well on average but flips its answer when a photo is mirrored, or ranks a nearer,
better-paying partner lower, is refused whatever its accuracy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ayni.errors import InvalidInput, ModelUnavailable
from ayni.mlops.registry import ModelRegistry, ModelVersion

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GateConfig:
    """``metric`` must improve by ``min_improvement`` (absolute); ``guards`` may not worsen by more than
    their tolerance (e.g. ``{"macro_f1": 0.01}``)."""

    metric: str
    higher_is_better: bool = True
    min_improvement: float = 0.0
    guards: Mapping[str, float] = field(default_factory=dict)
    lower_is_better: frozenset[str] = frozenset()  # guard metrics where lower is better (e.g. "mae")
    min_score: float | None = None  # an absolute floor for a first champion


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A model's scores on one evaluation set, identified by the set's content hash."""

    metrics: Mapping[str, float]
    eval_set: str
    n: int = 0


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    passed: bool
    detail: str = ""
    value: float | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    promote: bool
    reason: str
    challenger: Mapping[str, float] = field(default_factory=dict)
    champion: Mapping[str, float] | None = None
    checks: tuple[CheckResult, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "promote": self.promote,
            "reason": self.reason,
            "challenger": dict(self.challenger),
            "champion": dict(self.champion) if self.champion is not None else None,
            "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail, "value": c.value} for c in self.checks],
        }


def _gain(metric: str, challenger: float, champion: float, *, higher_is_better: bool) -> float:
    return challenger - champion if higher_is_better else champion - challenger


def decide(*, challenger: Evaluation, champion: Evaluation | None, config: GateConfig,
           checks: Sequence[CheckResult] = ()) -> Decision:
    """Promote or refuse ``challenger``; the reason names the first rule that decided."""
    ch, cur = dict(challenger.metrics), dict(champion.metrics) if champion else None

    def refuse(reason: str) -> Decision:
        return Decision(False, reason, ch, cur, tuple(checks))

    if config.metric not in ch or not np.isfinite(ch[config.metric]):
        return refuse(f"challenger has no {config.metric} on the evaluation set")
    failed = [c for c in checks if not c.passed]
    if failed:
        return refuse("behavioural checks failed: " + "; ".join(f"{c.name} ({c.detail})" for c in failed))
    if champion is None:
        if config.min_score is not None and _gain(config.metric, ch[config.metric], config.min_score,
                                                  higher_is_better=config.higher_is_better) < 0:
            return refuse(f"first model: {config.metric} {ch[config.metric]:.4f} is below the floor {config.min_score}")
        return Decision(True, f"no champion yet; {config.metric} {ch[config.metric]:.4f}", ch, None, tuple(checks))
    if champion.eval_set != challenger.eval_set:
        return refuse(f"not comparable: evaluated on {challenger.eval_set}, champion on {champion.eval_set}")
    assert cur is not None
    gain = _gain(config.metric, ch[config.metric], cur[config.metric], higher_is_better=config.higher_is_better)
    if gain < config.min_improvement or (config.min_improvement == 0 and gain <= 0):
        return refuse(
            f"{config.metric} {ch[config.metric]:.4f} vs champion {cur[config.metric]:.4f} "
            f"(gain {gain:+.4f}) does not beat it by the margin {config.min_improvement}"
        )
    for name, tolerance in config.guards.items():
        if name in ch and name in cur:
            worse = _gain(name, ch[name], cur[name], higher_is_better=name not in config.lower_is_better)
            if worse < -tolerance:
                return refuse(f"{name} worsens by {-worse:.4f} (tolerance {tolerance})")
    reason = (f"{config.metric} {ch[config.metric]:.4f} vs champion {cur[config.metric]:.4f} "
              f"(gain {gain:+.4f} ≥ margin {config.min_improvement}); checks passed")
    return Decision(True, reason, ch, cur, tuple(checks))


# --- behavioural checks -----------------------------------------------------------------------------


def invariance(name: str, predict: Callable[[Any], np.ndarray], inputs: Any, perturbed: Any, *,
               min_agreement: float = 0.9) -> CheckResult:
    """The predicted label should not change under a perturbation that does not change the truth."""
    a, b = np.asarray(predict(inputs)), np.asarray(predict(perturbed))
    agreement = float(np.mean(a == b)) if len(a) else 1.0
    return CheckResult(name, agreement >= min_agreement, f"agreement {agreement:.3f} ≥ {min_agreement}", agreement)


def minimum_functionality(name: str, predict: Callable[[Any], np.ndarray], inputs: Any, expected: Sequence[Any], *,
                          min_accuracy: float = 0.8) -> CheckResult:
    """Easy, unambiguous cases must be right."""
    got = np.asarray(predict(inputs))
    acc = float(np.mean(got == np.asarray(expected))) if len(got) else 0.0
    return CheckResult(name, acc >= min_accuracy, f"accuracy {acc:.3f} ≥ {min_accuracy}", acc)


def direction(name: str, score: Callable[[Any], np.ndarray], inputs: Any, changed: Any, *, increase: bool,
              min_fraction: float = 0.9) -> CheckResult:
    """A change that should raise (or lower) the score does so for most inputs."""
    before, after = np.asarray(score(inputs), dtype=float), np.asarray(score(changed), dtype=float)
    ok = after >= before if increase else after <= before
    frac = float(np.mean(ok)) if len(ok) else 1.0
    word = "rises" if increase else "falls"
    return CheckResult(name, frac >= min_fraction, f"score {word} for {frac:.3f} ≥ {min_fraction}", frac)


# --- the gate over the registry ------------------------------------------------------------------------


Evaluator = Callable[[Path], Evaluation]
Checker = Callable[[Path], Sequence[CheckResult]]


@dataclass(frozen=True, slots=True)
class GateOutcome:
    decision: Decision
    challenger: ModelVersion
    champion_before: ModelVersion | None
    champion_after: ModelVersion | None


def run_gate(registry: ModelRegistry, model_name: str, *, evaluate: Evaluator, config: GateConfig,
             cache_dir: Path, checks: Checker | None = None, version: int | None = None) -> GateOutcome:
    """Evaluate the challenger (or ``version``) and the champion on the frozen set, decide, and act on it."""
    target = registry.version(model_name, version) if version is not None else registry.challenger(model_name)
    if target is None:
        raise InvalidInput(f"{model_name} has no challenger to promote.")
    before = registry.champion(model_name)
    if before is not None and before.version == target.version:
        raise InvalidInput(f"{model_name} version {target.version} is already the champion.")
    ch_path = registry.download(target, cache_dir)
    ch_eval = evaluate(ch_path)
    cur_eval = None
    if before is not None:
        try:
            cur_eval = evaluate(registry.download(before, cache_dir))
        except ModelUnavailable:
            log.warning("champion %s v%s cannot be evaluated; comparing against nothing", model_name, before.version)
    results = tuple(checks(ch_path)) if checks is not None else ()
    decision = decide(challenger=ch_eval, champion=cur_eval, config=config, checks=results)
    if target.run_id:
        registry.log_metrics(target.run_id, {f"gate_{k}": v for k, v in ch_eval.metrics.items()})
    if decision.promote:
        registry.promote(model_name, target.version, reason=decision.reason)
    else:
        registry.refuse(model_name, target.version, reason=decision.reason)
    log.info("gate for %s v%s: %s — %s", model_name, target.version,
             "promoted" if decision.promote else "refused", decision.reason)
    return GateOutcome(decision, registry.version(model_name, target.version), before, registry.champion(model_name))

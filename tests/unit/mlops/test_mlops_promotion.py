from __future__ import annotations

import numpy as np

from ayni.mlops.promotion import (
    CheckResult,
    Evaluation,
    GateConfig,
    decide,
    direction,
    invariance,
    minimum_functionality,
)

GATE = GateConfig(metric="accuracy", min_improvement=0.01, guards={"macro_f1": 0.02})


def ev(acc: float, f1: float = 0.8, eval_set: str = "e1") -> Evaluation:
    return Evaluation({"accuracy": acc, "macro_f1": f1}, eval_set, 100)


def test_first_model_is_promoted_when_no_champion_exists() -> None:
    d = decide(challenger=ev(0.7), champion=None, config=GATE)
    assert d.promote and "no champion" in d.reason


def test_first_model_below_the_floor_is_refused() -> None:
    d = decide(challenger=ev(0.4), champion=None, config=GateConfig(metric="accuracy", min_score=0.5))
    assert not d.promote and "floor" in d.reason


def test_challenger_beating_the_margin_is_promoted() -> None:
    d = decide(challenger=ev(0.85), champion=ev(0.83), config=GATE)
    assert d.promote and "gain +0.0200" in d.reason


def test_challenger_within_the_margin_is_refused_with_the_numbers() -> None:
    d = decide(challenger=ev(0.835), champion=ev(0.83), config=GATE)
    assert not d.promote
    assert "does not beat it by the margin 0.01" in d.reason and "0.8350" in d.reason


def test_zero_margin_still_requires_a_strict_improvement() -> None:
    d = decide(challenger=ev(0.83), champion=ev(0.83), config=GateConfig(metric="accuracy"))
    assert not d.promote


def test_lower_is_better_metrics_compare_the_other_way() -> None:
    cfg = GateConfig(metric="mae", higher_is_better=False, min_improvement=1.0)
    better = decide(challenger=Evaluation({"mae": 8.0}, "e"), champion=Evaluation({"mae": 10.0}, "e"), config=cfg)
    worse = decide(challenger=Evaluation({"mae": 9.5}, "e"), champion=Evaluation({"mae": 10.0}, "e"), config=cfg)
    assert better.promote and not worse.promote


def test_a_guard_metric_that_worsens_too_much_refuses() -> None:
    d = decide(challenger=ev(0.9, f1=0.7), champion=ev(0.8, f1=0.8), config=GATE)
    assert not d.promote and d.reason.startswith("macro_f1 worsens")


def test_scores_on_different_evaluation_sets_are_not_compared() -> None:
    d = decide(challenger=ev(0.95, eval_set="e2"), champion=ev(0.8), config=GATE)
    assert not d.promote and "not comparable" in d.reason


def test_failed_behavioural_check_refuses_even_a_better_model() -> None:
    checks = [CheckResult("flip invariance", False, "agreement 0.500 ≥ 0.9"), CheckResult("floor", True)]
    d = decide(challenger=ev(0.99), champion=ev(0.8), config=GATE, checks=checks)
    assert not d.promote and "flip invariance" in d.reason and "floor" not in d.reason


def test_missing_metric_refuses() -> None:
    d = decide(challenger=Evaluation({"f1": 1.0}, "e1"), champion=None, config=GATE)
    assert not d.promote and "no accuracy" in d.reason


def test_behavioural_helpers_measure_what_they_say() -> None:
    X = np.arange(10.0)
    sign = lambda x: (np.asarray(x) > 4.5).astype(int)  # noqa: E731
    assert invariance("inv", sign, X, X + 0.01).passed
    assert not invariance("inv", sign, X, X + 3).passed
    assert minimum_functionality("mft", sign, X, [0] * 5 + [1] * 5, min_accuracy=1.0).passed
    assert direction("dir", lambda x: np.asarray(x) * 2, X, X + 1, increase=True).passed
    assert not direction("dir", lambda x: -np.asarray(x), X, X + 1, increase=True).passed

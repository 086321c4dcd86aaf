"""The ranker's and the forecaster's ``Trainer`` adapters on small synthetic frames (no shared data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ayni.matching.ranker import FEATURES
from ayni.mlops.feedback import EvalSet
from ayni.services._mlops_forecaster import ForecasterTrainer
from ayni.services._mlops_ranker import MODEL_FILE, RankerTrainer, ndcg_by_group, ranker_training_set

DIRECTION = "P(accept) does not rise beyond the partner's radius"


def offers(n_listings: int, *, closer_is_better: bool, seed: int = 0, split: str = "train") -> pd.DataFrame:
    """Three offers per listing; the label depends on distance / radius only (other features are noise)."""
    rng = np.random.default_rng(seed)
    n = 3 * n_listings
    frame = pd.DataFrame(rng.uniform(0, 1, (n, len(FEATURES))), columns=list(FEATURES))
    ratio = rng.uniform(0.02, 1.0, n)
    radius = rng.uniform(3, 12, n)
    frame["distance_over_radius"], frame["radius_km"] = ratio, radius
    frame["distance_km"] = ratio * radius
    good = ratio < 0.5 if closer_is_better else ratio > 0.5
    frame.insert(0, "key", [f"{split}:{seed}:{i}" for i in range(n)])
    frame.insert(1, "label", good.astype(int).astype(str))
    frame.insert(2, "split", split)
    frame.insert(3, "group", [f"{split}:{seed}:{i // 3}" for i in range(n)])
    frame["source"] = "simulated"
    return frame


@pytest.mark.parametrize(("closer_is_better", "monotonic", "passes"),
                         [(True, False, True), (False, False, False), (False, True, True)])
def test_the_ranker_direction_check_holds_only_for_a_model_that_dislikes_distance(
        tmp_path: Path, closer_is_better: bool, monotonic: bool, passes: bool) -> None:
    # unconstrained, the model learns a world where the farthest partner accepts and the check refuses it;
    # the shipped setting constrains P to fall with distance, so even that world cannot teach it otherwise
    trainer = RankerTrainer(random_state=0, monotonic_distance=monotonic)
    trained = trainer.train(offers(400, closer_is_better=closer_is_better), tmp_path / "m")
    assert (trained.model_dir / MODEL_FILE).is_file()
    checks = {c.name: c for c in trainer.checks(trained.model_dir, offers(100, closer_is_better=closer_is_better,
                                                                          seed=1, split="test"))}
    assert checks[DIRECTION].passed is passes, checks[DIRECTION]


def test_the_ranker_is_scored_by_ndcg_per_listing_against_nearest_first(tmp_path: Path) -> None:
    trainer = RankerTrainer(random_state=0, monotonic_distance=False)
    model_dir = trainer.train(offers(400, closer_is_better=False), tmp_path / "m").model_dir
    scores = trainer.evaluate(model_dir, offers(100, closer_is_better=False, seed=1, split="test"))
    # in this world the farthest partner accepts: the model learns it, nearest-first ranks it last
    assert scores["ndcg_at_10"] > scores["nearest_ndcg_at_10"] + 0.1
    assert 0 < scores["roc_auc"] <= 1 and scores["ndcg_listings"] > 0


def test_ndcg_by_group_ignores_listings_without_a_choice_or_a_success() -> None:
    frame = pd.DataFrame({"group": ["a", "a", "b", "c", "c"], "label": ["0", "1", "1", "0", "0"]})
    value, n = ndcg_by_group(frame, np.array([0.9, 0.1, 0.5, 0.3, 0.2]))
    assert n == 1 and value == pytest.approx(1 / np.log2(3))  # listing a: the success ranked second


def test_ranker_training_set_adds_platform_outcomes_once_and_never_an_evaluation_listing() -> None:
    base = pd.concat([offers(20, closer_is_better=True), offers(5, closer_is_better=True, seed=9, split="test")])
    eval_set = EvalSet(base[base["split"] == "test"].drop(columns=["split"]).reset_index(drop=True))
    now = pd.Timestamp("2026-11-02T09:00:00Z")
    outcome = {"listing_id": 7, "partner_id": 1, "material": "PET", "kg": 10.0, "distance_km": 2.0,
               "price_cents_per_kg": 100, "accepted": True, "collected": True, "radius_km": 6.0,
               "partner_kind": "recycler", "producer_kind": "household", "photo_confidence": 0.8,
               "created_at": now - pd.Timedelta(days=1)}
    feedback = pd.DataFrame([{**outcome, "match_id": 1, "decided_at": now},
                             {**outcome, "match_id": 1, "collected": False, "decided_at": now + pd.Timedelta(days=2)},
                             {**outcome, "match_id": 2, "listing_id": 8, "decided_at": now}])
    frame, report = ranker_training_set(base, feedback, eval_set=eval_set)
    assert report.added == 2 and report.duplicates_dropped == 1 and report.eval_leaks_dropped == 0
    assert frame.set_index("key").loc["match:1", "label"] == "0"  # the latest record of match 1 wins
    assert not set(frame["group"]) & eval_set.groups
    real = frame[frame["source"] == "platform"]
    assert real["distance_over_radius"].iloc[0] == pytest.approx(2 / 6) and real["pair_rate"].isna().all()


def panel(*, scramble: bool = False, seed: int = 0) -> pd.DataFrame:
    """A district × year panel shaped like ``ayni.forecast.peru.annual_panel``: growth ≈ population growth."""
    rng = np.random.default_rng(seed)
    rows = []
    for year in range(2019, 2024):
        pop = rng.normal(0.02, 0.01, 300)
        target = pop + rng.normal(0, 0.005, 300)
        if scramble and year < 2023:
            target = rng.normal(0.8, 0.3, 300)  # nonsense history: the model learns to forecast +80 %
        last = rng.uniform(100, 5000, 300)
        rows.append(pd.DataFrame({
            "key": [f"{d:06d}:{year}" for d in range(300)], "label": [repr(float(v)) for v in target],
            "split": "test" if year == 2023 else "train", "ubigeo": [f"{d:06d}" for d in range(300)],
            "target_year": year, "lr1": rng.normal(0.02, 0.02, 300), "lr2": 0.0, "lr3": 0.0, "trend_lr": 0.0,
            "trend3_lr": 0.0, "pop_lr1": pop, "gpc_lr1": 0.0, "log_last": np.log(last), "gpc_last": 0.6,
            "region": 0.0, "zero": 0.0, "last": last, "target": target}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize(("scramble", "passes"), [(False, True), (True, False)])
def test_the_forecaster_must_not_be_worse_than_last_value(tmp_path: Path, scramble: bool, passes: bool) -> None:
    frame = panel(scramble=scramble)
    trainer = ForecasterTrainer(random_state=0)
    model_dir = trainer.train(frame[frame["split"] == "train"], tmp_path / "m").model_dir
    test = frame[frame["split"] == "test"].drop(columns=["split"])
    scores = trainer.evaluate(model_dir, test)
    checks = {c.name: c for c in trainer.checks(model_dir, test)}
    assert checks["non-negative forecasts"].passed and checks["invariant to row order"].passed
    assert checks["not worse than last value"].passed is passes
    assert (scores["mae"] < scores["last_value_mae"]) is passes and np.isfinite(scores["mase"])

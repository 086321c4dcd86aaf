from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pandas as pd
import pytest

from ayni.errors import Conflict, DataValidationError
from ayni.mlops.feedback import build_training_set, collection_outcomes, corrections, freeze_eval_set

SHA = {name: hashlib.sha256(name.encode()).hexdigest() for name in "abcdefgh"}


def base() -> pd.DataFrame:
    return pd.DataFrame({
        "key": [SHA["a"], SHA["b"], SHA["c"], SHA["d"], SHA["e"]],
        "label": ["glass", "paper", "metal", "glass", "plastic"],
        "split": ["train", "train", "val", "test", "test"],
        "group": ["g1", "g2", "g3", "g4", "g5"],
    })


def fb(rows: list[dict[str, object]]) -> pd.DataFrame:
    defaults: dict[str, object] = {
        "kind": "classification_correction", "listing_id": None, "match_id": None, "predicted_material": "glass",
        "corrected_material": "plastic", "confidence": 0.4, "model_version": "v1", "photo_sha256": None,
        "accepted": None, "collected": None, "weighed_kg": None, "paid_cents": None,
        "created_at": pd.Timestamp("2026-11-01", tz="UTC"),
    }
    return pd.DataFrame([{**defaults, "id": i + 1, **r} for i, r in enumerate(rows)])


def test_eval_set_is_frozen_once_and_refuses_to_move(tmp_path: Path) -> None:
    path = tmp_path / "eval.csv"
    first = freeze_eval_set(base(), path)
    assert sorted(first.keys) == [SHA["d"], SHA["e"]] and len(first) == 2
    again = freeze_eval_set(base().assign(label="trash"), path)  # relabelled base: the frozen file wins
    assert again.version == first.version and set(again.frame["label"]) == {"glass", "plastic"}
    with pytest.raises(Conflict):
        freeze_eval_set(base().iloc[:3], path)


def test_a_frozen_eval_set_outside_the_current_window_is_kept_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "eval.csv"
    freeze_eval_set(base(), path)
    caplog.clear()  # the first freeze logs at INFO, which another test's logging set-up may let through
    with caplog.at_level("WARNING", logger="ayni.mlops.feedback"):
        same = freeze_eval_set(base(), path)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    wider = base().assign(split=["train", "train", "test", "test", "test"])  # the window grew by one row
    with caplog.at_level("WARNING", logger="ayni.mlops.feedback"):
        kept = freeze_eval_set(wider, path)
    assert kept.keys == same.keys and "window changed" in caplog.text


def test_corrections_relabel_add_and_never_leak_into_evaluation(tmp_path: Path) -> None:
    eval_set = freeze_eval_set(base(), tmp_path / "eval.csv")
    feedback = fb([
        {"photo_sha256": SHA["a"], "corrected_material": "plastic"},  # relabels a training photo
        {"photo_sha256": SHA["f"], "corrected_material": "metal"},  # a new photo
        {"photo_sha256": SHA["d"], "corrected_material": "paper"},  # an evaluation photo: dropped
        {"photo_sha256": SHA["g"], "corrected_material": "paper", "group": "g5"},  # near-duplicate of eval: dropped
        {"photo_sha256": SHA["f"], "corrected_material": "glass", "created_at": pd.Timestamp("2026-11-02", tz="UTC")},
        {"kind": "collection_outcome", "accepted": True, "collected": True, "weighed_kg": 3.0, "paid_cents": 90,
         "match_id": 4, "corrected_material": None, "predicted_material": None},
    ])
    train, report = build_training_set(base(), feedback, eval_set=eval_set)
    labels = dict(zip(train["key"], train["label"], strict=True))
    assert labels == {SHA["a"]: "plastic", SHA["b"]: "paper", SHA["c"]: "metal", SHA["f"]: "glass"}
    assert not set(train["key"]) & eval_set.keys
    assert (report.relabelled, report.added, report.eval_leaks_dropped, report.rows_out) == (1, 1, 2, 4)
    assert train.set_index("key").loc[SHA["a"], "source"] == "feedback"


def test_a_few_invalid_feedback_rows_are_dropped_and_a_bad_batch_is_refused() -> None:
    good = [{"photo_sha256": SHA[k], "corrected_material": "paper"} for k in "bcdefgh"]
    got = corrections(fb([{"photo_sha256": SHA["a"], "corrected_material": "unobtainium"}, *good]))
    assert len(got) == 7 and SHA["a"] not in set(got["key"])
    bad = [{"photo_sha256": "not-a-hash", "corrected_material": "metal"}] * 3
    with pytest.raises(DataValidationError):
        corrections(fb(bad + good[:3]))


def test_collection_outcomes_are_kept_for_the_ranker() -> None:
    feedback = fb([{"kind": "collection_outcome", "accepted": True, "collected": False, "match_id": 9,
                    "corrected_material": None}])
    out = collection_outcomes(feedback)
    assert out.loc[0, "match_id"] == 9 and bool(out.loc[0, "accepted"]) and not bool(out.loc[0, "collected"])


def test_no_feedback_gives_the_base_training_rows(tmp_path: Path) -> None:
    eval_set = freeze_eval_set(base(), tmp_path / "eval.csv")
    train, report = build_training_set(base(), fb([]).iloc[:0], eval_set=eval_set)
    assert sorted(train["key"]) == sorted([SHA["a"], SHA["b"], SHA["c"]]) and report.corrections_used == 0

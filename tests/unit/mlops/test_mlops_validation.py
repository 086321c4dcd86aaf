from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from ayni.errors import DataValidationError
from ayni.mlops.data_version import combine, hash_files, hash_frame
from ayni.mlops.validation import FEEDBACK, INTERACTIONS, validate


def interactions(**overrides: list[object]) -> pd.DataFrame:
    data: dict[str, list[object]] = {
        "listing_id": [1, 2, 3], "partner_id": [1, 1, 2], "producer_id": [5, 6, 7],
        "material": ["glass", "cardboard", "paper"], "kg": [3.0, 12.5, 1.0], "distance_km": [1.2, 4.0, 0.5],
        "price_cents_per_kg": [20, 35, 15], "accepted": ["true", "false", "true"],
        "collected": ["true", "false", "false"], "weighed_kg": [2.9, None, None], "paid_cents": [58, None, None],
    }
    return pd.DataFrame({**data, **overrides})


def test_good_interactions_pass() -> None:
    clean, report = validate(interactions(), INTERACTIONS)
    assert len(clean) == 3 and report.rows_rejected == 0


def test_a_bad_interaction_batch_is_refused_with_a_report() -> None:
    bad = interactions(kg=[3.0, -1.0, 1.0], material=["glass", "cardboard", "kryptonite"],
                       accepted=["false", "false", "true"], collected=["true", "false", "false"])
    with pytest.raises(DataValidationError) as err:
        validate(bad, INTERACTIONS)
    reasons = err.value.details["reasons"]
    assert reasons == {"inconsistent outcome": 1, "below minimum": 1, "unknown material": 1}


def test_feedback_schema_flags_unknown_materials_and_bad_hashes() -> None:
    frame = pd.DataFrame({
        "id": [1, 2], "kind": ["classification_correction", "spam"], "listing_id": [1, 1], "match_id": [None, None],
        "predicted_material": ["glass", "glass"], "corrected_material": ["wood-ish", "paper"],
        "confidence": [0.2, 1.5], "model_version": ["v1", "v1"], "photo_sha256": ["x", None],
        "accepted": [None, None], "collected": [None, None], "weighed_kg": [None, None], "paid_cents": [None, None],
    })
    _, report = validate(frame, replace(FEEDBACK, max_reject_fraction=1.0))
    assert report.rows_accepted == 0 and dict(report.rejected)[0] == "bad format: photo_sha256"


def test_data_versions_follow_content_not_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    a = pd.DataFrame({"k": [1, 2, 3], "v": ["x", "y", "z"]})
    assert hash_frame(a) == hash_frame(a.iloc[::-1]) != hash_frame(a.assign(v=["x", "y", "w"]))
    (tmp_path / "m.csv").write_text("a,b\n1,2\n")
    first = hash_files([tmp_path / "m.csv"])
    (tmp_path / "m.csv").write_text("a,b\n1,3\n")
    assert hash_files([tmp_path / "m.csv"]) != first and len(first) == 16
    assert combine({"a": "1", "b": "2"}) == combine({"b": "2", "a": "1"})

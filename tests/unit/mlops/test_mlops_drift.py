from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ayni.errors import InvalidInput
from ayni.mlops._drift_html import render
from ayni.mlops.drift import (
    DriftReference,
    Thresholds,
    build_reference,
    compare,
    drift_study,
    embedding_mmd,
    embedding_shift,
    image_quality,
    image_signals,
    psi,
)


def frame(n: int, *, shift: float = 0.0, scale: float = 1.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"kg": rng.lognormal(2 + shift, 0.5 * scale, n), "distance_km": rng.gamma(2, 3, n)})


def test_psi_is_zero_for_identical_and_large_for_disjoint_distributions() -> None:
    assert psi([0.25] * 4, [0.25] * 4) == pytest.approx(0.0)
    assert psi([0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]) > 5


def test_a_shifted_feature_drifts_and_an_unshifted_one_does_not() -> None:
    ref = build_reference(tabular=frame(2000, seed=1))
    report = compare(ref, model="ranker", tabular=frame(400, shift=0.5, seed=2))
    by_name = {s.name: s for s in report.signals}
    assert by_name["kg.psi"].drifted and by_name["kg.ks"].drifted
    assert not by_name["distance_km.psi"].drifted and not by_name["distance_km.ks"].drifted
    assert report.drifted_signals() == ["kg.psi", "kg.ks"]


def test_a_same_distribution_window_does_not_drift() -> None:
    ref = build_reference(tabular=frame(2000, seed=1), categories={"material": ["glass"] * 500 + ["paper"] * 500})
    report = compare(ref, model="ranker", tabular=frame(300, seed=3), categories={"material": ["glass", "paper"] * 150})
    assert not report.drifted, report.as_dict()


def test_a_changed_category_mix_drifts() -> None:
    ref = build_reference(categories={"predicted_class": ["glass"] * 50 + ["paper"] * 50})
    report = compare(ref, model="vision", categories={"predicted_class": ["glass"] * 90 + ["paper"] * 10})
    assert report.signals[0].name == "predicted_class.mix" and report.drifted


def test_embedding_shift_is_small_for_the_same_cloud_and_large_for_a_moved_one() -> None:
    rng = np.random.default_rng(0)
    ref = build_reference(embeddings=rng.normal(0, 1, (1000, 16)))
    assert ref.embedding is not None
    same = embedding_shift(ref.embedding, rng.normal(0, 1, (200, 16)))
    moved = embedding_shift(ref.embedding, rng.normal(0.5, 1, (200, 16)))
    assert same < 0.15 and moved > 0.4  # expected: 1/sqrt(200) ≈ 0.07 and 0.5·4 / 4 = 0.5
    assert compare(ref, model="vision", embeddings=rng.normal(0.5, 1, (200, 16))).drifted
    assert not compare(ref, model="vision", embeddings=rng.normal(0, 1, (200, 16))).drifted


def test_embedding_mmd_flags_a_changed_shape_that_the_mean_does_not_see() -> None:
    rng = np.random.default_rng(1)
    ref = build_reference(embeddings=rng.normal(0, 1, (600, 64)))
    assert ref.embedding is not None
    same_stat, same_limit = embedding_mmd(ref.embedding, rng.normal(0, 1, (80, 64)))
    wider_stat, wider_limit = embedding_mmd(ref.embedding, rng.normal(0, 1.6, (80, 64)))  # same mean
    assert same_stat <= same_limit and wider_stat > wider_limit
    assert embedding_shift(ref.embedding, rng.normal(0, 1.6, (80, 64))) < 0.25  # the mean alone misses it
    signals = {s.name: s for s in compare(ref, model="vision", embeddings=rng.normal(0, 1.6, (80, 64))).signals}
    assert signals["embedding.mmd"].drifted and signals["embedding.mmd"].kind == "mmd"
    report = compare(ref, model="vision", embeddings=rng.normal(0, 1.6, (80, 64)))
    assert json.loads(json.dumps(report.as_dict()))["drifted_signals"] == report.drifted_signals()  # plain JSON


def test_embedding_mmd_threshold_holds_its_false_alarm_rate_on_fresh_windows() -> None:
    rng = np.random.default_rng(2)
    ref = build_reference(embeddings=rng.normal(0, 1, (400, 32)))
    assert ref.embedding is not None
    alarms = [np.greater(*embedding_mmd(ref.embedding, rng.normal(0, 1, (50, 32)), permutations=100,
                                        random_state=i)) for i in range(20)]
    assert sum(alarms) <= 2  # nominal 1 %: 20 windows rarely raise more than one


def test_too_small_a_window_is_refused() -> None:
    ref = build_reference(tabular=frame(100))
    with pytest.raises(InvalidInput):
        compare(ref, model="m", tabular=frame(5), thresholds=Thresholds(min_samples=30))


def test_reference_survives_a_json_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    ref = build_reference(tabular=frame(300), categories={"c": ["a", "b", "b"]}, embeddings=rng.normal(size=(50, 3)))
    ref.save(tmp_path)
    again = DriftReference.load(tmp_path)
    assert again == ref
    with pytest.raises(InvalidInput):
        DriftReference.load(tmp_path / "elsewhere")


def test_image_signals_give_confidence_and_class_mix() -> None:
    prob = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    conf, mix = image_signals(prob, ["glass", "paper", "metal"])
    assert conf["confidence"].tolist() == [0.7, 0.8] and mix["predicted_class"] == ["glass", "metal"]


def test_image_quality_sees_darkness_and_rotation() -> None:
    stripes = np.zeros((32, 32, 3)) + (np.arange(32) % 8 < 4)[None, :, None] * 200.0
    base, dark, rotated = image_quality([stripes, stripes * 0.3, np.rot90(stripes)]).to_dict("records")
    assert dark["brightness"] < 0.5 * base["brightness"]
    assert np.sign(base["orientation"]) != np.sign(rotated["orientation"])


def test_html_report_draws_every_signal_without_external_resources() -> None:
    ref = build_reference(tabular=frame(500), categories={"predicted_class": ["glass", "paper"] * 50})
    report = compare(ref, model="vision", tabular=frame(100, shift=1.0), categories={"predicted_class": ["glass"] * 100})
    html = render(report)
    assert html.count("<svg") == 3 and "drift detected" in html and "kg.psi" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "<script" not in html


def test_drift_study_reports_error_with_and_without_drifted_inputs() -> None:
    X = frame(200)
    y = X["kg"].to_numpy() * 2
    out = drift_study(lambda f: f["kg"].to_numpy() * 2 + 0.1, X, y, shift=lambda f: f.assign(kg=f["kg"] * 1.5),
                      metric=lambda a, b: float(np.mean(np.abs(a - b))))
    assert out["clean"] == pytest.approx(0.1) and out["drifted"] > 10 * out["clean"]

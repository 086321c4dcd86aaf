from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from ayni.domain.lifecycle import PartnerKind, ProducerKind
from ayni.domain.materials import CLASSES, MATERIALS
from ayni.errors import InvalidInput, ModelUnavailable
from ayni.matching.candidates import check_pair
from ayni.matching.entities import Candidate, ListingInput
from ayni.matching.history import InteractionHistory, Outcome
from ayni.matching.ranker import FEATURES, AcceptanceModel, LearntAcceptance, context_of, pair_features
from ayni.matching.scoring import rank_candidates

from ._factories import LIMA, listing, offer, partner


def _data(seed: int = 0, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(FEATURES)))
    X[rng.random(n) < 0.1, 16] = np.nan  # missing photo confidence
    logit = 1.5 * X[:, 0] - X[:, 3] + np.nan_to_num(X[:, 16])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def _model(**kw: object) -> AcceptanceModel:
    return AcceptanceModel(max_iter=30, min_samples_leaf=10, **kw)  # type: ignore[arg-type]


def test_fit_returns_self_and_predict_proba_is_a_distribution() -> None:
    X, y = _data()
    model = _model(random_state=0)
    assert model.fit(X, y) is model
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert np.allclose(proba.sum(axis=1), 1) and np.all((proba >= 0) & (proba <= 1))
    assert set(model.predict(X).tolist()) <= {0, 1}


def test_learns_the_signal() -> None:
    X, y = _data()
    p = _model(random_state=0).fit(X, y).predict_proba(X)[:, 1]
    assert p[y == 1].mean() > p[y == 0].mean() + 0.1


def test_unfitted_model_refuses_to_predict() -> None:
    with pytest.raises(ModelUnavailable, match="not fitted"):
        _model().predict_proba(np.zeros((1, len(FEATURES))))


def test_init_only_stores_hyperparameters() -> None:
    model = AcceptanceModel(learning_rate=0.2, random_state=3)
    assert model.get_params()["learning_rate"] == 0.2 and not hasattr(model, "trees_")


def test_same_random_state_gives_the_same_model() -> None:
    X, y = _data()
    a = _model(random_state=5).fit(X, y).predict_proba(X)
    b = _model(random_state=5).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b)


def test_compiled_trees_match_scikit_learn() -> None:
    X, y = _data()
    model = _model(random_state=0).fit(X, y)
    assert model.estimator_ is not None
    assert np.allclose(model.predict_proba(X), model.estimator_.predict_proba(X), atol=1e-10)


def test_json_round_trip_predicts_identically(tmp_path: Path) -> None:
    X, y = _data()
    model = _model(random_state=0).fit(X, y)
    loaded = AcceptanceModel.load(model.save(tmp_path / "acceptance.json"))
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.get_params() == model.get_params()
    assert b"\x80" not in (tmp_path / "acceptance.json").read_bytes()  # JSON text, not a pickle


def test_loading_a_foreign_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"format": "something-else"}', encoding="utf-8")
    with pytest.raises(InvalidInput, match="Not an acceptance model"):
        AcceptanceModel.load(path)


def test_fit_validates_its_input() -> None:
    with pytest.raises(InvalidInput):
        _model().fit(np.zeros((5, 3)), np.zeros(4))
    with pytest.raises(InvalidInput, match="both classes"):
        _model().fit(np.zeros((5, 3)), np.zeros(5))


def test_wrong_number_of_features_is_refused() -> None:
    X, y = _data()
    model = _model(random_state=0).fit(X, y)
    with pytest.raises(InvalidInput, match="features"):
        model.predict_proba(X[:, :3])


def test_history_features_reflect_past_outcomes_and_drive_the_learnt_ranking() -> None:
    good, bad = partner(1, lat=LIMA[0] + 0.02), partner(2, lat=LIMA[0] + 0.02)
    history = InteractionHistory()
    history.add([Outcome(1, 1, "household", True, True)] * 30 + [Outcome(1, 2, "household", False, False)] * 30)
    history.refresh_latent()
    x = listing()
    cands = [c for p in (bad, good) if (c := check_pair(x, p).candidate) is not None]
    feats = pair_features(x, cands, history=history, now=datetime(2026, 3, 1, 12))
    rate = FEATURES.index("partner_rate")
    assert feats[1, rate] > feats[0, rate]
    X = np.vstack([feats] * 50)
    y = np.array([0, 1] * 50)
    model = _model(random_state=0).fit(X, y)
    recs = rank_candidates(x, cands, estimator=LearntAcceptance(model, history), now=datetime(2026, 3, 1, 12))
    assert recs[0].partner_id == 1 and recs[0].p_source == "model"


def test_a_model_file_of_another_feature_set_is_refused(tmp_path: Path) -> None:
    X, y = _data()
    data = _model(random_state=0).fit(X, y).to_dict()
    old = {**data, "format": "ayni.acceptance-model/1"}
    with pytest.raises(InvalidInput, match="Not an acceptance model"):
        AcceptanceModel.from_dict(old)
    fewer = {**data, "features": list(FEATURES[:-1]), "n_features_in": len(FEATURES) - 1}
    with pytest.raises(InvalidInput, match="other features"):
        AcceptanceModel.from_dict(fewer)


def test_market_features_follow_the_wait_the_lot_value_and_the_partner_history() -> None:
    near = partner(1, lat=LIMA[0] + 0.02)
    far = partner(2, lat=LIMA[0] + 0.06, weekdays=frozenset({4}))
    x = listing(kg="20")
    cands = [c for p in (near, far) if (c := check_pair(x, p).candidate) is not None]
    history = InteractionHistory()
    # partner 2 collects 20 kg PET lots and fails with small glass ones; partner 1 the other way round,
    # so overall partner 1 looks better while for this listing (20 kg of PET) partner 2 does
    history.add([Outcome(9, 2, "household", True, True, "PET", 20.0)] * 20
                + [Outcome(9, 2, "household", False, False, "glass", 3.0)] * 40
                + [Outcome(9, 1, "household", False, False, "PET", 20.0)] * 20
                + [Outcome(9, 1, "household", True, True, "glass", 3.0)] * 40)
    feats = pair_features(x, cands, history=history, now=x.created_at)
    col = {name: FEATURES.index(name) for name in ("days_to_pickup", "log_value_over_transport", "partner_rate",
                                                    "partner_material_rate", "partner_size_rate")}
    assert feats[0, col["partner_rate"]] > feats[1, col["partner_rate"]]
    assert feats[1, col["days_to_pickup"]] > feats[0, col["days_to_pickup"]]
    assert feats[0, col["log_value_over_transport"]] > feats[1, col["log_value_over_transport"]]
    assert feats[1, col["partner_material_rate"]] > feats[0, col["partner_material_rate"]]
    assert feats[1, col["partner_size_rate"]] > feats[0, col["partner_size_rate"]]


def test_hyperparameters_are_chosen_on_the_later_rows() -> None:
    from ayni.matching.evaluation import select_hyperparameters

    X, y = _data(n=800)
    grid = [{"max_iter": 40, "learning_rate": 0.1, "min_samples_leaf": 10},
            {"max_iter": 40, "learning_rate": 0.1, "min_samples_leaf": 300}]
    best, tried = select_hyperparameters(X, y, n_fit=600, grid=grid, random_state=0)
    assert len(tried) == 2 and best == min(tried, key=lambda t: t[1])[0]
    assert all(1 <= p["max_iter"] <= 40 for p, _ in tried)
    with pytest.raises(ValueError):
        select_hyperparameters(X, y, n_fit=len(y), grid=grid)


def _reference_row(listing: ListingInput, c: Candidate, *, history: InteractionHistory, now: datetime,
                   pool: list[Candidate]) -> list[float]:
    """One row of FEATURES from the scalar definitions, one candidate at a time (what pair_features vectorises)."""
    kg, pid, q = float(listing.kg), listing.producer_id, c.partner_id
    trip = max(c.distance_km * 2.0 * 20, 1.0)
    return [
        c.distance_km, c.distance_km / c.radius_km if c.radius_km > 0 else 1.0,
        c.distance_km - min(p.distance_km for p in pool), math.log1p(kg),
        float(np.log(kg / float(c.min_kg))) if c.min_kg > 0 else 5.0,
        kg / float(c.capacity_left_kg) if c.capacity_left_kg > 0 else 1.0,
        CLASSES.index(MATERIALS[listing.material].class_code), list(PartnerKind).index(c.partner_kind),
        list(ProducerKind).index(listing.producer_kind), c.price_cents_per_kg,
        c.price_cents_per_kg / (max(p.price_cents_per_kg for p in pool) or 1), c.offer_fill_rate,
        history.partner_rate(q), float(np.log1p(history.partner_n.get(q, 0))), history.producer_reliability(pid),
        math.log1p(history.producer_accepted.get(pid, 0)),
        math.nan if listing.photo_confidence is None else listing.photo_confidence,
        (now - listing.created_at).total_seconds() / 86400.0, float(np.log1p(history.pair_n.get((pid, q), 0))),
        history.pair_rate(pid, q), history.segment_rate(q, str(listing.producer_kind)),
        float(history.latent(pid, [q])[0]), (c.pickup_date - listing.created_at.date()).days,
        float(np.log(max(c.gross_cents, 1) / trip)), history.material_rate(q, listing.material), history.size_rate(q, kg),
        history.producer_accept_rate(pid),
    ]


def test_pair_features_equal_the_scalar_definitions_to_the_last_bit() -> None:
    rng = np.random.default_rng(7)
    kinds = list(ProducerKind)
    history = InteractionHistory()
    history.add(Outcome(int(rng.integers(1, 40)), int(rng.integers(1, 30)), kinds[int(rng.integers(len(kinds)))],
                        bool(a := rng.random() < 0.6), bool(a and rng.random() < 0.8),
                        str(rng.choice(["PET", "glass_clear", "cardboard_corrugated", ""])),
                        float(rng.choice([0.0, 1.5, 7.0, 40.0]))) for _ in range(3000))
    history.refresh_latent(rank=4)
    partners = [partner(i, lat=LIMA[0] + rng.normal(0, 0.02), lon=LIMA[1] + rng.normal(0, 0.02), radius_km=8,
                        kind=list(PartnerKind)[i % 6],
                        offers=(offer(price=int(rng.integers(20, 300)), min_kg=str(i % 3), capacity="90",
                                      left=str(30 + i)),)) for i in range(1, 45)]  # ids 30-44: no history
    for producer_id, confidence in ((3, 0.8), (1000, None)):  # a producer with history and one without
        x = replace(listing(kg="12.5", confidence=confidence), producer_id=producer_id)
        cands = [c for p in partners if (c := check_pair(x, p).candidate) is not None]
        now = datetime(2026, 3, 4, 15)
        want = np.array([_reference_row(x, c, history=history, now=now, pool=cands) for c in cands])
        got = pair_features(x, cands, history=history, now=now)
        assert len(cands) > 30 and np.array_equal(got, want, equal_nan=True)
        # a subset scored against the whole list, with the list reduced to what carries its context
        assert np.array_equal(pair_features(x, cands[5:9], history=history, now=now, pool=context_of(cands)),
                              want[5:9], equal_nan=True)


def test_history_arrays_follow_new_outcomes() -> None:
    history = InteractionHistory()
    history.add([Outcome(1, 7, ProducerKind.HOUSEHOLD, True, True, "PET", 3.0)] * 4)
    before = history.partner_rates([7, 8], producer_kind="household", material="PET", kg=3.0)
    history.add([Outcome(1, 8, ProducerKind.HOUSEHOLD, False, False, "PET", 3.0)] * 4)
    after = history.partner_rates([7, 8], producer_kind="household", material="PET", kg=3.0)
    assert after.rate[1] < before.rate[1] and after.material_rate[1] == history.material_rate(8, "PET")


def test_a_row_scores_the_same_whatever_rows_it_is_walked_with() -> None:
    X, y = _data(n=1500)
    X[::7, 3] = np.nan
    model = _model(random_state=0).fit(X, y)
    whole = model.decision_function(X)
    for size in (2, 3, 64, 65, 97, 130, 1499):
        parts = [model.decision_function(X[i:i + size]) for i in range(0, len(X) - 1, size)]
        assert np.array_equal(np.concatenate(parts)[:len(X) - 1], whole[:len(X) - 1])


def test_compiled_trees_send_missing_values_where_scikit_learn_does() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, len(FEATURES)))
    X[rng.random(X.shape) < 0.3] = np.nan  # missing values in every feature: both directions get learnt
    y = ((np.nan_to_num(X[:, 0], nan=2.0) + np.isnan(X[:, 5]) + rng.normal(0, 1, len(X))) > 0.5).astype(int)
    model = _model(random_state=0).fit(X, y)
    assert model.estimator_ is not None
    test = rng.normal(size=(500, len(FEATURES)))
    test[rng.random(test.shape) < 0.3] = np.nan
    test[rng.random(test.shape) < 0.02] = np.inf
    test[rng.random(test.shape) < 0.02] = -np.inf
    assert np.allclose(model.predict_proba(test), model.estimator_.predict_proba(test), atol=1e-10)


def test_a_split_on_a_feature_the_row_does_not_have_is_refused() -> None:
    X, y = _data()
    model = _model(random_state=0).fit(X, y)
    model.trees_["feature"][:] = 10_000
    with pytest.raises(InvalidInput, match="outside"):
        model.predict_proba(X[:2])

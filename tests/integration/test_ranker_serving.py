"""The learnt ranker in serving: the rule until the registry has a ranker champion, the champion after a
promotion (picked up by the running app, no restart), the rule again when the champion will not load —
never a failed request. On SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ayni.api import create_app
from ayni.matching.ranker import FEATURES, AcceptanceModel
from ayni.mlops.registry import ModelRegistry
from ayni.services.acceptance import MODEL_FILE, RANKER, HistoryCache
from ayni.services.app_state import partner_catalog, served_acceptance
from ayni.settings import RegistrySettings, Settings, VisionSettings
from ayni.storage.tables import User
from ayni.web.ranking import rank_partners
from tests.integration.conftest import FAST_AUTH, Actor, Factory
from tests.unit.mlops._factories import mlflow_registry

PRICE_OVER_BEST = FEATURES.index("price_over_best")


def plastic(price: int) -> list[dict[str, Any]]:
    return [{"material": "plastic", "price_cents_per_kg": price, "min_kg": "0", "weekly_capacity_kg": "500"}]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return Settings(var_dir=tmp_path / "var", data_dir=tmp_path / "data", log_json=False, auth=FAST_AUTH,
                    vision=VisionSettings(registry_refresh_s=0),  # the ranker follows its own setting
                    registry=RegistrySettings(ranker_refresh_s=0.2))


@pytest.fixture
def app(db_engine: Engine, session_factory: sessionmaker[Session], settings: Settings) -> Iterator[FastAPI]:
    yield create_app(settings, engine=db_engine, session_factory=session_factory, classifier=None)


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def make(api: TestClient, session_factory: sessionmaker[Session]) -> Factory:
    return Factory(api, session_factory)


@pytest.fixture
def registry(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    return mlflow_registry(settings.var_dir, tmp_path_factory.getbasetemp() / "mlflow-template")


def cheap_partner_model() -> AcceptanceModel:
    """A tiny model that learnt "partners paying less than the best price collect; the best payer doesn't"."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (400, len(FEATURES)))
    X[:, PRICE_OVER_BEST] = rng.uniform(0.3, 1.0, 400)
    y = (X[:, PRICE_OVER_BEST] < 0.9).astype(int)
    return AcceptanceModel(max_iter=20, min_samples_leaf=5, random_state=0).fit(X, y)


def register(registry: ModelRegistry, model_dir: Path) -> int:
    run_id = registry.log_run(model_name=RANKER, model_dir=model_dir, data_version="test")
    version = registry.register(model_name=RANKER, run_id=run_id).version
    registry.promote(RANKER, version, reason="test")
    return version


def good_dir(tmp_path: Path) -> Path:
    d = tmp_path / "ranker-good"
    d.mkdir()
    cheap_partner_model().save(d / MODEL_FILE)
    return d


def corrupt_dir(tmp_path: Path) -> Path:
    d = tmp_path / "ranker-corrupt"
    d.mkdir()
    (d / MODEL_FILE).write_text('{"format": "ayni.acceptance-model/1", "trees": ', encoding="utf-8")
    return d


def ranked(producer: Actor, listing_id: int) -> list[dict[str, Any]]:
    r = producer.get(f"/v1/listings/{listing_id}/matches")
    assert r.status_code == 200, r.text
    return list(r.json())


def wait_for_ranker(producer: Actor, listing_id: int, *, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        recs = ranked(producer, listing_id)
        if recs and recs[0]["scored_by"]["model"] == "ranker":
            return recs
        assert time.monotonic() < deadline, f"the ranker champion was never served: {recs[0]['scored_by']}"
        time.sleep(0.1)


def two_partners_and_a_listing(make: Factory) -> tuple[Actor, Actor, Actor, int]:
    producer = make.producer()
    cheap = make.partner(materials=plastic(80))
    rich = make.partner(materials=plastic(120))
    listing = make.listing(producer, material="PET", kg="20")
    return producer, cheap, rich, int(listing["id"])


def test_without_a_ranker_champion_the_rule_ranks(make: Factory, registry: ModelRegistry, app: FastAPI,
                                                  tmp_path: Path) -> None:
    producer, cheap, rich, listing_id = two_partners_and_a_listing(make)
    run_id = registry.log_run(model_name=RANKER, model_dir=good_dir(tmp_path), data_version="t")
    registry.register(model_name=RANKER, run_id=run_id)  # a challenger only: nothing to serve yet
    assert app.state.champion_watcher.refresh(RANKER) is False
    recs = ranked(producer, listing_id)
    assert [r["partner_id"] for r in recs] == [rich.profile_id, cheap.profile_id]
    assert all(r["scored_by"] == {"model": "rule", "version": None} and r["p_source"] == "rule" for r in recs)
    assert all(r["explanation"]["text_en"] for r in recs)


def test_a_promoted_ranker_scores_the_running_app_without_a_restart(
        make: Factory, registry: ModelRegistry, app: FastAPI, api: TestClient, tmp_path: Path,
        session_factory: sessionmaker[Session]) -> None:
    producer, cheap, rich, listing_id = two_partners_and_a_listing(make)
    before = ranked(producer, listing_id)
    assert [r["partner_id"] for r in before] == [rich.profile_id, cheap.profile_id]
    version = register(registry, good_dir(tmp_path))
    after = wait_for_ranker(producer, listing_id)  # the watcher thread picks the promotion up
    assert [r["partner_id"] for r in after] == [cheap.profile_id, rich.profile_id]
    assert all(r["scored_by"] == {"model": "ranker", "version": version} and r["p_source"] == "model"
               for r in after)
    assert after[0]["p_accept"] > 0.5 > after[1]["p_accept"]
    assert after[0]["explanation"]["fields"]["p_source"] == "model" and after[0]["explanation"]["text_es"]
    with session_factory() as session:  # the web pages rank with the same served model
        web = rank_partners(session, session.get(User, producer.user_id), listing_id,
                            catalog=partner_catalog(app.state), acceptance=served_acceptance(app.state))
    assert [(r.partner_id, r.p_source) for r in web] == [(cheap.profile_id, "model"), (rich.profile_id, "model")]
    opportunities = cheap.get("/v1/partners/me/opportunities")
    assert opportunities.status_code == 200
    assert opportunities.json()[0]["scored_by"] == {"model": "ranker", "version": version}
    exposition = api.get("/metrics").text
    assert f'ayni_model_info{{model="ranker",version="{version}"}} 1.0' in exposition
    assert 'ayni_matching_scored_total{kind="listing",scorer="ranker"}' in exposition


def test_a_corrupt_champion_leaves_the_rule_serving_and_no_request_fails(
        make: Factory, registry: ModelRegistry, app: FastAPI, tmp_path: Path) -> None:
    producer, _, rich, listing_id = two_partners_and_a_listing(make)
    register(registry, corrupt_dir(tmp_path))
    app.state.champion_watcher.refresh(RANKER)
    recs = ranked(producer, listing_id)
    assert recs[0]["partner_id"] == rich.profile_id and recs[0]["scored_by"]["model"] == "rule"


def test_a_corrupt_new_champion_keeps_the_previous_one_serving(make: Factory, registry: ModelRegistry,
                                                               app: FastAPI, tmp_path: Path) -> None:
    producer, cheap, _, listing_id = two_partners_and_a_listing(make)
    good = register(registry, good_dir(tmp_path))
    app.state.champion_watcher.refresh(RANKER)
    assert wait_for_ranker(producer, listing_id)[0]["scored_by"]["version"] == good
    register(registry, corrupt_dir(tmp_path))
    assert app.state.champion_watcher.refresh(RANKER) is False
    recs = ranked(producer, listing_id)
    assert recs[0]["partner_id"] == cheap.profile_id and recs[0]["scored_by"] == {"model": "ranker", "version": good}


def test_history_counts_decided_matches_only_and_is_bounded(make: Factory,
                                                           session_factory: sessionmaker[Session]) -> None:
    producer = make.producer()
    partner = make.partner(materials=plastic(80))
    _, declined = make.match(producer, partner, kg="5")
    assert partner.post(f"/v1/matches/{declined['id']}/decline", json={}).status_code == 200
    _, collected = make.match(producer, partner, kg="5")
    today = date.today().isoformat()
    assert partner.post(f"/v1/matches/{collected['id']}/accept", json={"pickup_date": today}).status_code == 200
    assert partner.post(f"/v1/matches/{collected['id']}/collect", json={"weighed_kg": "5"}).status_code == 200
    make.match(producer, partner, kg="5")  # still proposed: not an outcome yet
    with session_factory() as session:
        history = HistoryCache().build(session)
        bounded = HistoryCache(max_matches=1).build(session)
    pid, qid = producer.profile_id, partner.profile_id
    assert pid is not None and qid is not None
    assert history.n_total == 2 and history.s_total == 1
    assert history.pair_n[(pid, qid)] == 2 and history.pair_s[(pid, qid)] == 1
    assert history.producer_accepted[pid] == 1 and history.producer_delivered[pid] == 1
    assert bounded.n_total == 1


def test_the_history_cache_is_rebuilt_only_after_its_ttl(make: Factory,
                                                        session_factory: sessionmaker[Session]) -> None:
    producer = make.producer()
    partner = make.partner(materials=plastic(80))
    cache = HistoryCache(ttl_s=3600)
    with session_factory() as session:
        first = cache.get(session)
    _, match = make.match(producer, partner, kg="5")
    assert partner.post(f"/v1/matches/{match['id']}/decline", json={}).status_code == 200
    with session_factory() as session:
        assert cache.get(session) is first
        cache.invalidate()
        assert cache.get(session).n_total == first.n_total + 1



def test_a_model_failing_on_a_request_leaves_that_request_to_the_rule(make: Factory, app: FastAPI) -> None:
    producer, cheap, rich, listing_id = two_partners_and_a_listing(make)
    broken = cheap_partner_model()
    broken.trees_["feature"][:] = 10_000  # every prediction now indexes outside the feature row
    served = served_acceptance(app.state)
    served.serve(broken, 7)
    deadline = time.monotonic() + 30
    while not served.history.ready:  # until then the rule scores anyway, which would prove nothing
        assert time.monotonic() < deadline
        time.sleep(0.05)
    recs = ranked(producer, listing_id)
    assert [r["partner_id"] for r in recs] == [rich.profile_id, cheap.profile_id]
    assert all(r["scored_by"] == {"model": "rule", "version": None} for r in recs)
    r = cheap.get("/v1/partners/me/opportunities")
    assert r.status_code == 200 and r.json()[0]["scored_by"]["model"] == "rule"

"""Serving several registry champions: the watcher (vision as before, plus the ranker), the ranker's
loader, and the interaction-history cache that never makes a request wait for a rebuild."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy.orm import Session

from ayni.errors import ModelUnavailable
from ayni.matching.history import InteractionHistory
from ayni.matching.ranker import FEATURES, AcceptanceModel
from ayni.mlops.registry import ModelRegistry
from ayni.services.acceptance import META_FILE, MODEL_FILE, RANKER, HistoryCache, load_ranker
from ayni.services.serving import ChampionWatcher
from ayni.settings import RegistrySettings, Settings, VisionSettings
from tests.unit.mlops._factories import mlflow_registry


def small_model(n_features: int = len(FEATURES)) -> AcceptanceModel:
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (200, n_features))
    return AcceptanceModel(max_iter=5, min_samples_leaf=5, random_state=0).fit(X, (X[:, 0] > 0.5).astype(int))


def test_load_ranker_reads_the_file_ranker_json_names(tmp_path: Path) -> None:
    small_model().save(tmp_path / "other.json")
    (tmp_path / META_FILE).write_text(json.dumps({"model_file": "other.json"}))
    assert load_ranker(tmp_path).n_features_in_ == len(FEATURES)


@pytest.mark.parametrize("content", ["{not json", json.dumps({"format": "something-else"})])
def test_load_ranker_refuses_a_corrupt_file(tmp_path: Path, content: str) -> None:
    (tmp_path / MODEL_FILE).write_text(content)
    with pytest.raises(ModelUnavailable):
        load_ranker(tmp_path)


def test_load_ranker_refuses_a_model_for_other_features(tmp_path: Path) -> None:
    small_model(n_features=3).save(tmp_path / MODEL_FILE)
    with pytest.raises(ModelUnavailable, match="features"):
        load_ranker(tmp_path)


def settings(tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path / "var", data_dir=tmp_path / "data", log_json=False)


def test_without_a_registry_the_watcher_serves_the_fallbacks_and_creates_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    published: list[Any] = []
    watcher = ChampionWatcher(settings(tmp_path), interval_s=60, fallback=None, publish=published.append)
    watcher.watch(RANKER, load_ranker, publish=lambda model, version: published.append(version))
    assert set(watcher.models) == {"vision", RANKER}
    assert watcher.refresh() is False and published == []
    assert not (tmp_path / "var" / "mlflow").exists()


def test_the_watcher_publishes_each_models_new_champion(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    registry: ModelRegistry = mlflow_registry(tmp_path / "var", tmp_path_factory.getbasetemp() / "mlflow-template")
    served: dict[str, Any] = {}
    vision_fallback = object()
    watcher = ChampionWatcher(settings(tmp_path), interval_s=60)
    watcher.watch("vision", lambda p: p, publish=lambda m, v: served.__setitem__("vision", v),
                  fallback=vision_fallback)
    watcher.watch(RANKER, load_ranker, publish=lambda m, v: served.__setitem__(RANKER, (m, v)))
    assert watcher.refresh() is False and served == {}  # the registry exists; no champions yet
    assert watcher.holder is not None and watcher.holder.current() is vision_fallback
    model_dir = tmp_path / "ranker"
    model_dir.mkdir()
    small_model().save(model_dir / MODEL_FILE)
    run_id = registry.log_run(model_name=RANKER, model_dir=model_dir, data_version="d")
    version = registry.register(model_name=RANKER, run_id=run_id).version
    registry.promote(RANKER, version, reason="test")
    assert watcher.refresh() is True
    model, got = served[RANKER]
    assert isinstance(model, AcceptanceModel) and got == version and "vision" not in served
    assert watcher.refresh(RANKER) is False  # unchanged champion: nothing reloaded


REFRESH_ENV = ("AYNI_VISION__REGISTRY_REFRESH_S", "AYNI_REGISTRY__REFRESH_S", "AYNI_REGISTRY__RANKER_REFRESH_S",
               "AYNI_REGISTRY__FORECASTER_REFRESH_S")


@pytest.mark.parametrize(("env", "expected"), [
    ({}, {"vision": 60.0, RANKER: 60.0, "forecaster": 60.0}),
    ({"AYNI_VISION__REGISTRY_REFRESH_S": "0"}, {"vision": 0.0, RANKER: 0.0, "forecaster": 0.0}),  # as before
    ({"AYNI_VISION__REGISTRY_REFRESH_S": "0", "AYNI_REGISTRY__RANKER_REFRESH_S": "5"},
     {"vision": 0.0, RANKER: 5.0, "forecaster": 0.0}),
    ({"AYNI_VISION__REGISTRY_REFRESH_S": "30", "AYNI_REGISTRY__REFRESH_S": "10",
      "AYNI_REGISTRY__FORECASTER_REFRESH_S": "3600"}, {"vision": 30.0, RANKER: 10.0, "forecaster": 3600.0}),
])
def test_a_models_registry_refresh_is_its_own_setting_then_the_general_one_then_the_vision_one(
        monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: dict[str, float]) -> None:
    for name in REFRESH_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    got = Settings()
    assert {model: got.registry_refresh_s(model) for model in expected} == expected


def test_the_watcher_checks_each_model_at_its_own_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = settings(tmp_path).model_copy(update={
        "vision": VisionSettings(registry_refresh_s=0),
        "registry": RegistrySettings(ranker_refresh_s=0.05, forecaster_refresh_s=60)})
    watcher = ChampionWatcher(own)
    checks: list[str | None] = []
    monkeypatch.setattr(watcher, "refresh", lambda name=None: bool(checks.append(name)))
    for name in ("vision", RANKER, "forecaster"):
        watcher.watch(name, lambda p: p, publish=lambda m, v: None)
    watcher.start()
    deadline = time.monotonic() + 10
    while checks.count(RANKER) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    watcher.stop()
    assert checks.count(RANKER) >= 3 and checks.count("forecaster") == 1 and "vision" not in checks


class _Counting(HistoryCache):
    """A cache whose build returns a fresh history per call; ``gate`` holds builds until it is set."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.builds = 0
        self.gate = threading.Event()
        self.gate.set()

    def build(self, session: Session, *, now: Any = None) -> InteractionHistory:
        self.gate.wait(10)
        self.builds += 1
        return InteractionHistory()


class _NoSession:
    def __enter__(self) -> Any:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _wait_for(cache: _Counting, builds: int) -> None:
    deadline = time.monotonic() + 10
    while cache.builds < builds or cache._lock.locked():
        assert time.monotonic() < deadline, "the background build never finished"
        time.sleep(0.01)


def test_with_sessions_no_request_waits_for_a_history_build() -> None:
    cache = _Counting(ttl_s=3600, sessions=_NoSession)
    cache.gate.clear()  # builds block until the gate opens
    started = time.perf_counter()
    assert cache.get(None) is None  # type: ignore[arg-type]  # first build under way: the rule scores
    assert cache.get(None) is None and not cache.ready  # type: ignore[arg-type]
    cache.gate.set()
    _wait_for(cache, 1)
    first = cache.get(None)  # type: ignore[arg-type]
    assert first is not None and cache.ready and cache.builds == 1
    cache.ttl_s = 0.0  # stale from now on
    cache.gate.clear()
    assert cache.get(None) is first and cache.get(None) is first  # type: ignore[arg-type]  # one rebuild, in the background
    assert time.perf_counter() - started < 2.0
    cache.gate.set()
    _wait_for(cache, 2)
    cache.ttl_s = 3600
    assert cache.get(None) is not first and cache.builds == 2  # type: ignore[arg-type]


def test_without_sessions_the_request_that_finds_it_stale_rebuilds_it() -> None:
    cache = _Counting(ttl_s=3600)
    first = cache.get(None)  # type: ignore[arg-type]
    assert cache.get(None) is first and cache.builds == 1  # type: ignore[arg-type]
    cache.ttl_s = 0.0
    assert cache.get(None) is not first and cache.builds == 2  # type: ignore[arg-type]

"""The classifier missing, corrupt or failing, and the model registry unreachable: /v1/classify answers a
clear 503, /readyz says so, and everything else (listings, photos, matches) keeps working."""

from __future__ import annotations

import io
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ayni.api import create_app
from ayni.mlops.registry import Loaded, ModelRegistry, ModelVersion
from ayni.services import serving
from ayni.settings import Settings, VisionSettings
from ayni.vision import Classifier
from ayni.vision.predict import ASSETS_DIR
from tests.integration._servers import free_port
from tests.integration.conftest import Factory

pytestmark = pytest.mark.integration


def _photo() -> bytes:
    rng = np.random.default_rng(2)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, size=(120, 160, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def _model_dir(tmp_path: Path, state: str) -> Path:
    target = tmp_path / f"model-{state}"
    target.mkdir()
    shutil.copy(ASSETS_DIR / "model.json", target / "model.json")
    if state == "corrupt":
        (target / "model.onnx").write_bytes(b"\x08\x07not an onnx graph" * 100)
    elif state == "ok":
        shutil.copy(ASSETS_DIR / "model.onnx", target / "model.onnx")
    return target


def _app(db_engine: Engine, session_factory: sessionmaker[Session], settings: Settings, **state: Any) -> FastAPI:
    return create_app(settings, engine=db_engine, session_factory=session_factory, **state)


def _everything_but_classify_works(make: Factory) -> None:
    producer, partner = make.producer(), make.partner()
    listing, match = make.match(producer, partner)
    r = producer.put(f"/v1/listings/{listing['id']}/photo", files={"file": ("p.jpg", _photo(), "image/jpeg")})
    assert r.status_code == 200, r.text
    assert r.json()["has_photo"] and r.json()["predicted_material"] is None
    assert partner.post(f"/v1/matches/{match['id']}/accept").status_code == 200
    assert producer.get("/v1/listings").json()["total"] == 1


@pytest.mark.parametrize("state", ["missing", "corrupt"])
def test_a_missing_or_corrupt_model_at_start_is_reported_and_only_classify_fails(
    state: str, db_engine: Engine, session_factory: sessionmaker[Session], app_settings: Settings, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = app_settings.model_copy(
        update={"vision": VisionSettings(model_path=_model_dir(tmp_path, state), registry_refresh_s=0)})
    with caplog.at_level(logging.ERROR), TestClient(_app(db_engine, session_factory, settings)) as client:
        assert "classifier not loaded" in caplog.text  # the lifespan loaded nothing, and said why
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["classifier"].startswith("not loaded")
        make = Factory(client, session_factory)
        producer = make.producer()
        r = producer.post("/v1/classify", files={"file": ("p.jpg", _photo(), "image/jpeg")})
        assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "model_unavailable" and "by hand" in r.json()["detail"]
        _everything_but_classify_works(make)


class BrokenClassifier:
    """Loaded, but inference fails (what a corrupt weight file or an ONNX Runtime fault looks like)."""

    version = "broken-1"

    def predict(self, data: bytes) -> Any:
        raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code")


def test_a_classifier_failing_at_run_time_answers_503_and_photos_are_still_stored(
    db_engine: Engine, session_factory: sessionmaker[Session], app_settings: Settings,
) -> None:
    app = _app(db_engine, session_factory, app_settings, classifier=BrokenClassifier())
    with TestClient(app, raise_server_exceptions=False) as client:
        make = Factory(client, session_factory)
        producer = make.producer()
        r = producer.post("/v1/classify", files={"file": ("p.jpg", _photo(), "image/jpeg")})
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "model_unavailable" and "by hand" in r.json()["detail"]
        _everything_but_classify_works(make)


def test_the_served_model_keeps_working_when_its_file_disappears(
    db_engine: Engine, session_factory: sessionmaker[Session], app_settings: Settings, tmp_path: Path,
) -> None:
    model_dir = _model_dir(tmp_path, "ok")
    app = _app(db_engine, session_factory, app_settings, classifier=Classifier.load(model_dir))
    with TestClient(app) as client:
        shutil.rmtree(model_dir)  # deleted (or overwritten) while serving: the loaded session is in memory
        producer = Factory(client, session_factory).producer()
        r = producer.post("/v1/classify", files={"file": ("p.jpg", _photo(), "image/jpeg")})
        assert r.status_code == 200 and r.json()["material"]


# --- the registry (MLflow) unreachable ------------------------------------------------------------------


def _wait(condition: Callable[[], bool], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_an_unreachable_registry_leaves_the_shipped_model_serving(
    db_engine: Engine, session_factory: sessionmaker[Session], app_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    answers: list[str] = []
    original = ModelRegistry.champion

    def champion(self: ModelRegistry, name: str) -> ModelVersion | None:
        try:
            found = original(self, name)  # an unreachable MLflow reads as "no champion" here
        except Exception as exc:
            answers.append(type(exc).__name__)
            raise
        answers.append(repr(found))
        return found

    monkeypatch.setattr(ModelRegistry, "champion", champion)
    settings = app_settings.model_copy(update={"vision": VisionSettings(registry_refresh_s=0.2)})
    app = _app(db_engine, session_factory, settings)
    with TestClient(app) as client:
        shipped = app.state.classifier
        assert shipped is not None
        _wait(lambda: len(answers) >= 3)  # the watcher kept asking; no answer gave it a model
        assert app.state.classifier is shipped
        producer = Factory(client, session_factory).producer()
        r = producer.post("/v1/classify", files={"file": ("p.jpg", _photo(), "image/jpeg")})
        assert r.status_code == 200 and r.json()["model_version"] == shipped.version
        assert client.get("/readyz").json()["checks"]["classifier"] == "ok"


class FlakyRegistry:
    """Answers with a vision champion until ``up`` is cleared, then fails like a registry that went away."""

    up = threading.Event()
    checks_while_down = 0

    def __init__(self, config: Any) -> None:
        self.config = config

    def champion(self, name: str) -> ModelVersion | None:
        if not FlakyRegistry.up.is_set():
            FlakyRegistry.checks_while_down += 1
            raise ConnectionError("Connection refused: the MLflow server went away")
        if name != serving.VISION:
            return None
        return ModelVersion(name, 7, None, "models:/vision/7", ("champion",), {}, datetime.now(UTC))

    def load_champion(self, name: str, loader: Callable[[Path], Any], *, cache_dir: Path) -> Loaded[Any]:
        version = self.champion(name)
        assert version is not None
        return Loaded(loader(ASSETS_DIR), version, ASSETS_DIR)


@pytest.fixture
def flaky_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FlakyRegistry]]:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://registry.invalid:5000")
    monkeypatch.setattr(serving, "ModelRegistry", FlakyRegistry)
    monkeypatch.setattr(serving, "make_registry", lambda settings: FlakyRegistry(None), raising=False)
    FlakyRegistry.up.set()
    FlakyRegistry.checks_while_down = 0
    yield FlakyRegistry


def test_the_champion_keeps_serving_when_the_registry_goes_away(
    db_engine: Engine, session_factory: sessionmaker[Session], app_settings: Settings,
    flaky_registry: type[FlakyRegistry],
) -> None:
    settings = app_settings.model_copy(update={"vision": VisionSettings(registry_refresh_s=0.1)})
    app = _app(db_engine, session_factory, settings)
    with TestClient(app) as client:
        shipped = app.state.classifier
        _wait(lambda: app.state.classifier is not shipped)  # the registry's champion replaced the shipped one
        champion = app.state.classifier
        flaky_registry.up.clear()
        _wait(lambda: flaky_registry.checks_while_down >= 3)
        assert app.state.classifier is champion
        producer = Factory(client, session_factory).producer()
        r = producer.post("/v1/classify", files={"file": ("p.jpg", _photo(), "image/jpeg")})
        assert r.status_code == 200 and r.json()["model_version"] == champion.version

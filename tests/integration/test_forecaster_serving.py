"""The forecaster in serving: the model fitted by the server until the registry has a ``forecaster``
champion, then the champion (picked up by the running app, no restart). Needs MINAM's tables."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ayni.api import create_app
from ayni.mlops.registry import ModelRegistry
from ayni.services._mlops_forecaster import ForecasterTrainer, forecaster_base, generation_path
from ayni.services.serving import FORECASTER
from ayni.settings import RegistrySettings, Settings, VisionSettings
from tests.conftest import shared_data_dir
from tests.integration.conftest import FAST_AUTH, Factory
from tests.unit.mlops._factories import mlflow_registry

DATA = shared_data_dir()
pytestmark = [pytest.mark.skipif(DATA is None, reason="shared reference data (AYNI_DATA_DIR/peru) is not on this "
                                                       "machine"), pytest.mark.data]
QUERY = {"district": "140101", "material": "PET", "horizon": 4}


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert DATA is not None
    return Settings(var_dir=tmp_path / "var", data_dir=DATA, log_json=False, auth=FAST_AUTH,
                    vision=VisionSettings(registry_refresh_s=0),  # the forecaster follows its own setting
                    registry=RegistrySettings(forecaster_refresh_s=0.2))


@pytest.fixture
def api(db_engine: Engine, session_factory: sessionmaker[Session], settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, engine=db_engine, session_factory=session_factory, classifier=None)
    with TestClient(app) as c:
        yield c


def test_a_promoted_forecaster_serves_without_a_restart(api: TestClient, settings: Settings, tmp_path: Path,
                                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    producer = Factory(api, api.app.state.session_factory).producer()  # type: ignore[attr-defined]
    before = producer.get("/v1/forecast", params=QUERY)
    assert before.status_code == 200, before.text
    assert before.json()["model_version"] is None  # no champion yet: the model this server fitted

    # a champion that learnt every district grows e^0.5 ≈ 1.65× faster than MINAM says: easy to recognise
    assert DATA is not None
    base = forecaster_base(generation_path(DATA), test_year=settings.forecaster.test_year)
    train = base[base["split"] == "train"].copy()
    train["label"] = [repr(float(v) + 0.5) for v in train["label"]]
    model_dir = ForecasterTrainer(random_state=0).train(train, tmp_path / "forecaster").model_dir
    registry: ModelRegistry = mlflow_registry(settings.var_dir, tmp_path_factory.getbasetemp() / "mlflow-template")
    run_id = registry.log_run(model_name=FORECASTER, model_dir=model_dir, data_version="test")
    version = registry.register(model_name=FORECASTER, run_id=run_id).version
    registry.promote(FORECASTER, version, reason="test")

    deadline = time.monotonic() + 30
    after = producer.get("/v1/forecast", params=QUERY).json()
    while after["model_version"] != version and time.monotonic() < deadline:
        time.sleep(0.2)
        after = producer.get("/v1/forecast", params=QUERY).json()
    assert after["model_version"] == version
    ratio = after["weeks"][0]["kg"] / before.json()["weeks"][0]["kg"]
    assert 1.3 < ratio < 2.2, ratio

"""Admin model endpoints: who may call them, the registry listing on a fresh local MLflow store, and a
forecaster challenger put through the gate from the API."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from ayni.mlops.feedback import freeze_eval_set
from ayni.mlops.retrain import train_and_register
from ayni.services.mlops_models import spec_for
from ayni.services.serving import make_registry
from tests.conftest import shared_data_dir
from tests.integration.conftest import Factory

DATA = shared_data_dir()


def test_model_endpoints_are_admin_only(client: TestClient, make: Factory) -> None:
    producer = make.producer()
    assert producer.get("/v1/admin/models").status_code == 403
    assert producer.post("/v1/admin/models/vision/promote", json={}).status_code == 403
    assert producer.post("/v1/admin/models/vision/rollback", json={"reason": "bad"}).status_code == 403
    admin = make.user("admin")
    assert admin.get("/v1/admin/models/jobs/nope").status_code == 404


@pytest.mark.slow
def test_fresh_registry_lists_nothing_and_refuses_a_rollback_clearly(client: TestClient, make: Factory,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    admin = make.user("admin")
    r = admin.get("/v1/admin/models")
    assert r.status_code == 200 and r.json() == []
    r = admin.post("/v1/admin/models/vision/rollback", json={"reason": "testing"})
    assert 400 <= r.status_code < 500 and r.json()["detail"]


@pytest.mark.slow
@pytest.mark.skipif(DATA is None, reason="shared reference data (AYNI_DATA_DIR/peru) is not on this machine")
def test_admin_puts_a_forecaster_challenger_through_the_gate(client: TestClient, make: Factory, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = client.app.state.settings  # type: ignore[attr-defined]
    settings.data_dir = DATA
    spec = spec_for("forecaster", var_dir=settings.var_dir, data_dir=DATA or Path())
    base = spec.base()
    eval_set = freeze_eval_set(base, settings.var_dir / "mlops" / "forecaster" / "eval_set.csv")
    frame, _ = spec.training_set(base, pd.DataFrame(), eval_set=eval_set)
    version = train_and_register(make_registry(settings), spec.trainer(), model_name="forecaster", frame=frame,
                                 eval_set=eval_set, work_dir=tmp_path / "work")
    admin = make.user("admin")
    r = admin.post("/v1/admin/models/forecaster/promote", json={})
    assert r.status_code == 202
    job = r.json()
    deadline = time.monotonic() + 120
    while job["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
        job = admin.get(f"/v1/admin/models/jobs/{job['id']}").json()
    assert job["status"] == "promoted", job
    assert "mase" in job["result"]["reason"] and job["result"]["checks"]
    listed = admin.get("/v1/admin/models", params={"name": "forecaster"}).json()
    assert [(v["version"], v["status"], v["aliases"]) for v in listed] == [(version.version, "champion", ["champion"])]
    r = admin.post("/v1/admin/models/forecaster/rollback", json={"reason": "nothing to roll back to"})
    assert 400 <= r.status_code < 500 and r.json()["detail"]

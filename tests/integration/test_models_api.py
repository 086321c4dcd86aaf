"""Admin model endpoints: who may call them, and the registry listing on a fresh local MLflow store."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.integration.conftest import Factory


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

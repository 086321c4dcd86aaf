"""GET /v1/forecast on the real MINAM tables (skipped where the shared data is absent)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import shared_data_dir
from tests.integration.conftest import Factory

DATA = shared_data_dir()


def test_forecast_without_data_answers_503_with_what_to_set(client: TestClient, make: Factory) -> None:
    producer = make.producer()
    r = producer.get("/v1/forecast", params={"district": "140101", "material": "PET"})
    assert r.status_code == 503 and "AYNI_DATA_DIR" in r.json()["detail"]


def test_forecast_validates_its_parameters(client: TestClient, make: Factory) -> None:
    producer = make.producer()
    assert producer.get("/v1/forecast", params={"district": "14", "material": "PET"}).status_code == 422
    assert producer.get("/v1/forecast", params={"district": "140101", "material": "PET",
                                                "horizon": 0}).status_code == 422
    client.cookies.clear()
    assert client.get("/v1/forecast", params={"district": "140101", "material": "PET"}).status_code == 401


@pytest.mark.skipif(DATA is None, reason="shared reference data (AYNI_DATA_DIR/peru) is not on this machine")
@pytest.mark.data
def test_forecast_gives_weekly_kg_with_an_interval(client: TestClient, make: Factory) -> None:
    assert DATA is not None
    client.app.state.settings.data_dir = DATA  # type: ignore[attr-defined]
    producer = make.producer()
    r = producer.get("/v1/forecast", params={"district": "140101", "material": "PET", "horizon": 8,
                                             "capture_rate": 0.1})
    assert r.status_code == 200, r.text
    weeks = r.json()["weeks"]
    assert len(weeks) == 8
    assert all(0 <= w["kg_low"] <= w["kg"] <= w["kg_high"] for w in weeks)
    doubled = producer.get("/v1/forecast", params={"district": "140101", "material": "PET", "horizon": 8,
                                                   "capture_rate": 0.2}).json()["weeks"]
    assert doubled[0]["kg"] == pytest.approx(2 * weeks[0]["kg"], rel=0.01)
    unknown = producer.get("/v1/forecast", params={"district": "140101", "material": "kryptonite"})
    assert unknown.status_code == 422

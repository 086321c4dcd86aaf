"""The scale-out path: two API processes (uvicorn) on one PostgreSQL database serve the same data. A
write through one replica is read through the other, a log-in on one is honoured by the other, and
each replica exports its own /metrics (Prometheus scrapes them separately and sums)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from ayni.storage.engine import make_engine
from ayni.storage.migrate import upgrade
from tests.integration._servers import Server, ayni_env, free_port, running, uvicorn_cmd
from tests.integration.conftest import PASSWORD, PG_ADMIN_URL, _pg_available, _seed_districts, create_pg_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    if not _pg_available():
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    url, drop = create_pg_database("ayni_replicas")
    engine: Engine = make_engine(url)
    try:
        upgrade(url)
        with engine.begin() as conn:
            _seed_districts(conn)
        ports = free_port(), free_port()
        tmp: Path = tmp_path_factory.mktemp("replicas")
        servers = [
            Server(
                uvicorn_cmd("ayni.api.app:create_app", port),
                ayni_env(database_url=url, var_dir=tmp / f"replica-{i}"),
                f"http://127.0.0.1:{port}/readyz",
            )
            for i, port in enumerate(ports)
        ]
        with running(*servers):
            a = httpx.Client(base_url=f"http://127.0.0.1:{ports[0]}", timeout=10)
            b = httpx.Client(base_url=f"http://127.0.0.1:{ports[1]}", timeout=10)
            with a, b:
                yield a, b
    finally:
        engine.dispose()
        drop()


def _producer_token(client: httpx.Client) -> str:
    email = f"replica-{uuid.uuid4().hex[:8]}@example.pe"
    body = {"email": email, "password": PASSWORD, "role": "producer", "display_name": "Bodega Rosa", "phone": "+51 999 111 222"}
    assert client.post("/v1/auth/register", json=body).status_code == 201
    r = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def test_a_listing_written_through_one_replica_is_read_and_updated_through_the_other(
    replicas: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = replicas
    auth = {"Authorization": f"Bearer {_producer_token(a)}"}
    profile = {"name": "Bodega Rosa", "kind": "bodega", "ubigeo": "140101", "latitude": -6.77, "longitude": -79.84}
    assert b.post("/v1/producers", json=profile, headers=auth).status_code == 201  # token from A accepted by B
    now = datetime.now(UTC)
    listing = {
        "material": "PET",
        "estimated_kg": "12.5",
        "available_from": now.isoformat(),
        "available_until": (now + timedelta(days=5)).isoformat(),
    }
    created = a.post("/v1/listings", json=listing, headers=auth)
    assert created.status_code == 201, created.text
    listing_id = created.json()["id"]

    seen_by_b = b.get(f"/v1/listings/{listing_id}", headers=auth)
    assert seen_by_b.status_code == 200
    assert seen_by_b.json()["material"] == "PET" and seen_by_b.json()["estimated_kg"] in ("12.5", "12.50", "12.500")

    assert b.patch(f"/v1/listings/{listing_id}", json={"estimated_kg": "20"}, headers=auth).status_code == 200
    assert float(a.get(f"/v1/listings/{listing_id}", headers=auth).json()["estimated_kg"]) == 20.0
    ids_a = [x["id"] for x in a.get("/v1/listings", headers=auth).json()["items"]]
    ids_b = [x["id"] for x in b.get("/v1/listings", headers=auth).json()["items"]]
    assert ids_a == ids_b == [listing_id]


def test_logging_out_on_one_replica_revokes_the_token_on_the_other(
    replicas: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = replicas
    token = _producer_token(a)
    auth = {"Authorization": f"Bearer {token}"}
    assert b.get("/v1/auth/me", headers=auth).status_code == 200
    assert b.post("/v1/auth/logout", headers=auth).status_code == 204
    assert a.get("/v1/auth/me", headers=auth).status_code == 401


def test_each_replica_exports_its_own_request_counts(replicas: tuple[httpx.Client, httpx.Client]) -> None:
    a, b = replicas
    for _ in range(3):
        assert a.get("/healthz").status_code == 200
    count = re.compile(r'^ayni_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)$', re.M)
    found_a = count.search(a.get("/metrics").text)
    found_b = count.search(b.get("/metrics").text)
    assert found_a is not None and float(found_a.group(1)) >= 3
    assert found_b is None or float(found_b.group(1)) < float(found_a.group(1))

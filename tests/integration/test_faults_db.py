"""PostgreSQL stopped and restarted under load, with Ayni (uvicorn) left running.

Four clients keep creating listings, each with its own ``Idempotency-Key`` and retrying that key until it
gets a 201. The test's own cluster is killed (``pg_ctl stop -m immediate``, like a crash) and started again.
While it is down every request must fail fast with a 503 problem+json (never a 500, never a hang); once it
is back Ayni must serve again without a restart (pool pre-ping drops the dead connections); and nothing is
lost: every 201 is in the database, once, with its audit event.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from ayni.storage.engine import make_engine
from ayni.storage.migrate import upgrade
from ayni.storage.tables import AuditEvent, IdempotencyKey, Listing
from tests.integration._pgcluster import Cluster, own_postgres
from tests.integration._servers import Server, ayni_env, free_port, running, uvicorn_cmd
from tests.integration.conftest import PASSWORD, _seed_districts

pytestmark = [pytest.mark.integration, pytest.mark.slow]
log = logging.getLogger(__name__)

CLIENTS = 4
DOWN_S = 4.0
FAIL_FAST_S = 3.0  # a 503 must come sooner than this (connect timeout is 2 s)
RECOVER_WITHIN_S = 10.0


@dataclass
class Attempt:
    started: float
    latency_s: float
    status: int  # 0: no HTTP answer
    code: str | None = None
    content_type: str = ""


@dataclass
class Client:
    http: httpx.Client
    attempts: list[Attempt] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=dict)  # idempotency key → listing id


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Cluster, str, Engine]]:
    with own_postgres() as cluster:
        upgrade(cluster.url)
        engine = make_engine(cluster.url)
        with engine.begin() as conn:
            _seed_districts(conn)
        port = free_port()
        env = ayni_env(database_url=cluster.url, var_dir=tmp_path / "var", AYNI_DATABASE__CONNECT_TIMEOUT_S="2",
                       AYNI_VISION__REGISTRY_REFRESH_S="0")
        base = f"http://127.0.0.1:{port}"
        with running(Server(uvicorn_cmd("ayni.api.app:create_app", port), env, f"{base}/readyz")):
            yield cluster, base, engine
        engine.dispose()


def _signed_in_producer(base: str) -> httpx.Client:
    http = httpx.Client(base_url=base, timeout=30)
    email = f"fault-{uuid.uuid4().hex[:8]}@example.pe"
    http.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "role": "producer",
                                         "display_name": "Bodega", "phone": None}).raise_for_status()
    token = http.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    http.post("/v1/producers", json={"name": "Bodega", "kind": "bodega", "ubigeo": "140101"}).raise_for_status()
    return http


def _listing() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"material": "PET", "estimated_kg": "5", "available_until": (now + timedelta(days=3)).isoformat()}


def _load(client: Client, stop: threading.Event) -> None:
    """Create listings one after another; a failed attempt is retried with the same key."""
    while not stop.is_set():
        key, body = str(uuid.uuid4()), _listing()
        while key not in client.created:
            t0 = time.monotonic()
            try:
                r = client.http.post("/v1/listings", json=body, headers={"Idempotency-Key": key})
            except httpx.HTTPError:
                client.attempts.append(Attempt(t0, time.monotonic() - t0, 0))
                time.sleep(0.1)
                continue
            code = r.json().get("code") if r.headers.get("content-type", "").endswith("json") else None
            client.attempts.append(Attempt(t0, time.monotonic() - t0, r.status_code, code,
                                           r.headers.get("content-type", "")))
            if r.status_code == 201:
                client.created[key] = r.json()["id"]
            else:
                time.sleep(0.1)


def test_database_restart_under_load_fails_fast_recovers_and_loses_nothing(
    stack: tuple[Cluster, str, Engine],
) -> None:
    cluster, base, engine = stack
    clients = [Client(_signed_in_producer(base)) for _ in range(CLIENTS)]
    stop = threading.Event()
    threads = [threading.Thread(target=_load, args=(c, stop)) for c in clients]
    for t in threads:
        t.start()
    try:
        time.sleep(2.0)
        cluster.stop("immediate")
        down_at = time.monotonic()  # the server is gone
        time.sleep(DOWN_S / 2)
        ready_while_down = httpx.get(f"{base}/readyz", timeout=10)
        time.sleep(DOWN_S / 2)
        restart_at = time.monotonic()
        cluster.start()  # crash recovery from the WAL, then accepting connections
        up_at = time.monotonic()
        time.sleep(RECOVER_WITHIN_S)
    finally:
        stop.set()
        if not cluster.running():
            cluster.start()
        for t in threads:
            t.join(timeout=60)
    ready_after = httpx.get(f"{base}/readyz", timeout=10)

    attempts = [a for c in clients for a in c.attempts]
    statuses = {a.status for a in attempts}
    failures = [a for a in attempts if a.status != 201]
    outage = [a for a in attempts if down_at <= a.started < restart_at]
    recovered = [a.started + a.latency_s for a in attempts if a.status == 201 and a.started >= restart_at]
    recover_s = min(recovered) - up_at if recovered else float("inf")
    log.warning("db restart: %d attempts, %d answered 503 (statuses %s; slowest %.3f s), PostgreSQL start %.2f s, "
                "first 201 %.2f s after it accepted connections (%.2f s after the restart began), %d listings "
                "created", len(attempts), len(failures), sorted(statuses),
                max((a.latency_s for a in failures), default=0), up_at - restart_at, recover_s,
                recover_s + up_at - restart_at, sum(len(c.created) for c in clients))

    assert statuses <= {201, 503}, sorted(statuses)  # never a 500, never a dropped connection
    assert outage and all(a.status == 503 for a in outage)
    assert all(a.code == "service_unavailable" and a.content_type == "application/problem+json" for a in failures)
    assert max(a.latency_s for a in failures) < FAIL_FAST_S
    assert ready_while_down.status_code == 503 and ready_after.status_code == 200
    assert recover_s < RECOVER_WITHIN_S, "Ayni did not serve again after the database came back"

    created = {key: lid for c in clients for key, lid in c.created.items()}
    with engine.connect() as conn:
        rows = dict(conn.execute(select(IdempotencyKey.key, IdempotencyKey.response)).tuples().all())
        ids = set(conn.scalars(select(Listing.id)).all())
        audited = set(conn.scalars(select(AuditEvent.entity_id).where(AuditEvent.action == "listing.created")).all())
        total = conn.scalar(select(func.count()).select_from(Listing))
    assert set(created.values()) == ids and total == len(created)  # every 201 is there, nothing else, no twins
    assert all(rows[key]["id"] == lid for key, lid in created.items())
    assert audited == ids

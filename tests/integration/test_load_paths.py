"""What every request does under load, on a real SQLite file with the app's own engine (issue 8): which
transactions take the write lock, how many queries authentication costs, how many trips through the
worker-thread pool a request makes, and how writers in one process wait for each other."""

from __future__ import annotations

import io
import sqlite3
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, event, text, update

from ayni.api import create_app
from ayni.settings import DatabaseSettings, Settings
from ayni.storage.engine import make_engine, make_session_factory, transaction
from ayni.storage.migrate import upgrade
from ayni.storage.tables import AuthToken
from ayni.vision import Classifier
from tests.integration.conftest import FAST_AUTH, Actor, Factory, _seed_districts


@dataclass
class Served:
    client: TestClient
    engine: Engine
    path: Path
    statements: list[str]
    producer: Actor


def _photo() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    path = tmp_path / "ayni.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    seed = make_engine(url)
    with seed.begin() as conn:
        _seed_districts(conn)
    seed.dispose()
    settings = Settings(var_dir=tmp_path / "var", data_dir=tmp_path / "data", log_json=False, auth=FAST_AUTH,
                        database=DatabaseSettings(url=url))
    app = create_app(settings, classifier=Classifier.load(threads=1))
    with TestClient(app) as client:
        statements: list[str] = []
        event.listen(app.state.engine, "before_cursor_execute", lambda _c, _cur, sql, *_: statements.append(sql))
        producer = Factory(client, app.state.session_factory).producer()
        yield Served(client, app.state.engine, path, statements, producer)


def test_classify_reads_beside_a_writer_instead_of_waiting_for_the_write_lock(served: Served) -> None:
    holder = sqlite3.connect(served.path, timeout=1)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds SQLite's write lock for the whole request
    try:
        started = time.perf_counter()
        r = served.producer.post("/v1/classify", files={"file": ("p.jpg", _photo(), "image/jpeg")})
        elapsed = time.perf_counter() - started
    finally:
        holder.rollback()
        holder.close()
    assert r.status_code == 200, r.text
    assert elapsed < 10  # it would wait for the busy timeout (30 s) and answer 503
    served.statements.clear()
    assert served.producer.post("/v1/listings", json={"material": "PET", "estimated_kg": "4.5"}).status_code == 201
    assert "BEGIN IMMEDIATE" in served.statements  # a real write still takes the lock up front


def test_authentication_reads_the_token_and_its_user_in_one_query(served: Served) -> None:
    served.statements.clear()
    assert served.producer.get("/v1/auth/me").status_code == 200
    assert [sql for sql in served.statements if sql.lstrip().upper().startswith("SELECT")] == [
        next(sql for sql in served.statements if "auth_tokens" in sql and "users" in sql)]


def test_an_expired_token_is_refused(served: Served) -> None:
    with transaction(make_session_factory(served.engine)) as session:
        session.execute(update(AuthToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert served.producer.get("/v1/auth/me").status_code == 401


def test_a_get_request_makes_four_trips_through_the_worker_threads(served: Served,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Authentication, the endpoint, FastAPI's check of its answer, the commit. Dependencies that only read
    ``app.state`` run on the event loop (each trip costs about as much as a small query)."""
    trips: list[str] = []
    real = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(func, "__qualname__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    assert served.producer.get("/v1/listings", params={"limit": 20}).status_code == 200
    assert len(trips) <= 4, trips


def test_a_transaction_takes_its_connection_at_its_first_statement(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'lazy.db'}")
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_: seen.append(sql))
    with transaction(make_session_factory(engine), read_only=True) as session:
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        session.execute(text("SELECT 1"))
        assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    assert seen[0] == "BEGIN"  # read-only: no write lock
    engine.dispose()


def test_sqlite_connections_are_not_capped_so_no_request_waits_for_one(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'many.db'}", pool_size=2)
    engine.pool._timeout = 2  # type: ignore[attr-defined]  # a capped pool would raise after 2 s
    connections = [engine.connect() for _ in range(40)]
    assert engine.pool.checkedout() == 40  # type: ignore[attr-defined]
    for conn in connections:
        conn.close()
    engine.dispose()


def _writer_gap(factory: Any) -> float:
    """Seconds from one writer's commit to the start of a second writer that was waiting for it."""
    committed: list[float] = []
    began: list[float] = []

    def first() -> None:
        with transaction(factory) as s:
            s.execute(text("INSERT INTO t VALUES (1)"))
            time.sleep(0.4)
        committed.append(time.perf_counter())

    def second() -> None:
        time.sleep(0.1)
        with transaction(factory) as s:
            s.execute(text("INSERT INTO t VALUES (2)"))
            began.append(time.perf_counter())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return began[0] - committed[0]


def test_a_waiting_writer_starts_as_soon_as_the_last_one_commits(tmp_path: Path) -> None:
    """SQLite alone makes a waiting writer poll, sleeping up to 100 ms between tries; writers of one
    process queue on the engine's gate and the next starts within a few ms of the commit."""
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    gaps = [_writer_gap(factory) for _ in range(5)]
    engine.dispose()
    assert statistics.median(gaps) < 0.015, gaps

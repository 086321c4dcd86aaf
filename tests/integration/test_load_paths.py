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


def _count_trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    trips: list[str] = []
    real = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(func, "__qualname__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return trips


def test_a_get_request_on_sqlite_makes_no_trip_through_the_worker_threads(served: Served,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Authentication, the page and the COMMIT of a SQLite read run on the event loop (a plain BEGIN never
    waits); each trip through the thread pool cost about as much as a small query."""
    trips = _count_trips(monkeypatch)
    for url in ("/v1/listings?limit=20", "/v1/districts?q=chic", "/v1/auth/me"):
        assert served.producer.get(url).status_code == 200
    listing = served.producer.post("/v1/listings", json={"material": "PET", "estimated_kg": "4.5"}).json()
    trips.clear()
    assert served.producer.get(f"/v1/listings/{listing['id']}").status_code == 200
    assert served.producer.get(f"/v1/listings/{listing['id']}/matches").status_code == 200
    assert trips == []


def _watch_writes(served: Served) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    event.listen(served.engine, "before_cursor_execute",
                 lambda _c, _cur, sql, *_: seen.append((sql.strip()[:15], threading.get_ident())))
    event.listen(served.engine, "commit", lambda _conn: seen.append(("COMMIT", threading.get_ident())))
    event.listen(served.engine.pool, "checkin", lambda *_: seen.append(("checkin", threading.get_ident())))
    return seen


def _last_writer(seen: list[tuple[str, int]]) -> list[str]:
    """What the thread that began the last write transaction did from then on."""
    at = max(i for i, (sql, _) in enumerate(seen) if sql == "BEGIN IMMEDIATE")
    return [sql for sql, thread in seen[at:] if thread == seen[at][1]]


def test_a_write_runs_on_the_event_loop_when_no_other_writer_holds_the_lock(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """The INSERT, the COMMIT and the return of the connection (with it SQLite's write lock and the writer
    gate) happen in one go on the event loop, with no trip through the worker threads."""
    trips = _count_trips(monkeypatch)
    seen = _watch_writes(served)
    assert served.producer.post("/v1/listings", json={"material": "PET", "estimated_kg": "4.5"}).status_code == 201
    assert _last_writer(seen)[-2:] == ["COMMIT", "checkin"]
    assert [sql for sql, _ in seen].count("BEGIN IMMEDIATE") == 1
    assert trips == []


def test_a_write_waits_for_another_processs_writer_in_a_thread_while_reads_go_on(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holds SQLite's write lock: the write does not wait on the event loop (it gives up
    after a few ms and waits in a worker thread), so reads are answered meanwhile; it succeeds once the
    lock is free, and commits in the thread that wrote."""
    trips = _count_trips(monkeypatch)
    seen = _watch_writes(served)
    holder = sqlite3.connect(served.path, timeout=1, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    answers: list[tuple[int, float]] = []

    def write() -> None:
        r = served.producer.post("/v1/listings", json={"material": "PET", "estimated_kg": "4.5"})
        answers.append((r.status_code, time.perf_counter()))

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(0.3)
    started = time.perf_counter()
    assert served.producer.get("/v1/listings").status_code == 200
    read_s = time.perf_counter() - started
    released = time.perf_counter()
    holder.rollback()
    holder.close()
    writer.join(10)
    assert answers and answers[0][0] == 201 and answers[0][1] >= released
    assert read_s < 0.25  # the event loop was not stuck behind the waiting write
    assert _last_writer(seen)[-2:] == ["COMMIT", "checkin"]
    assert len(trips) == 1, trips  # the write, retried in a worker thread


def test_revocation_is_seen_by_the_next_read_and_the_next_write(served: Served) -> None:
    assert served.producer.get("/v1/listings").status_code == 200
    assert served.producer.post("/v1/auth/logout").status_code in (200, 204)
    assert served.producer.get("/v1/listings").status_code == 401
    assert served.producer.post("/v1/listings", json={"material": "PET", "estimated_kg": "4.5"}).status_code == 401


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


def test_a_small_photo_is_classified_on_the_event_loop_and_a_large_one_in_a_worker_thread(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    from ayni.api.routes.classify import ON_LOOP_MAX_BYTES

    trips = _count_trips(monkeypatch)
    small = _photo()
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (900, 1200, 3), dtype=np.uint8)).save(
        buf, "JPEG", quality=95)
    large = buf.getvalue()
    assert len(small) <= ON_LOOP_MAX_BYTES < len(large)
    assert served.producer.post("/v1/classify", files={"file": ("p.jpg", small, "image/jpeg")}).status_code == 200
    assert trips == []
    assert served.producer.post("/v1/classify", files={"file": ("p.jpg", large, "image/jpeg")}).status_code == 200
    assert [t for t in trips if "predict" in t] == ["predict"], trips

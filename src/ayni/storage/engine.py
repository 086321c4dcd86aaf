"""Engine and session factory. Created by the app's lifespan or a command's main, never at import."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

BUSY_TIMEOUT_S = 30
BRIEF_BUSY_MS = 25  # how long a write promised by ``WriterGate.try_take`` waits for another process's writer


def make_engine(url: str, *, echo: bool = False, pool_size: int = 10, connect_timeout_s: float = 5.0) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        pool: dict[str, Any] = {}
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # No cap on connections (``max_overflow=-1``): a request never waits for one while holding a
            # worker thread that a connection's holder may need to finish; ``pool_size`` of them stay open.
            pool = {"pool_size": pool_size, "max_overflow": -1}
        engine = create_engine(url, echo=echo, **pool,
                               connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S})
        gate = WriterGate()
        setattr(engine, "_ayni_writer_gate", gate)  # noqa: B010 - Engine has no slot for it
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", lambda conn: _sqlite_begin(conn, gate))
        for name in ("checkin", "invalidate", "close", "detach"):
            event.listen(engine.pool, name, lambda dbapi_conn, *_: gate.release(dbapi_conn))
        return engine
    return create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"connect_timeout": int(connect_timeout_s)},
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, issue BEGIN so that writes take the lock up front.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


READ_ONLY = "ayni_read_only"


class WriterGate:
    """This process's writers to one SQLite database, one at a time, in the order they come.

    SQLite lets a writer that finds the write lock taken poll for it, sleeping 1, 2, 5 … up to 100 ms
    between tries, so under steady writes a waiting writer sleeps through the moments the lock is free and
    some wait seconds. Writers in one process queue here instead and the next one starts as soon as the
    last one's connection is back in the pool (after its COMMIT). The gate is held by a DBAPI connection,
    not a thread: it is taken at BEGIN IMMEDIATE and given back when that connection returns to the pool
    (or is invalidated, closed or detached). Another process's writers still meet SQLite's own waiting.

    ``try_take`` takes it only if it is free at once, for the next write transaction this thread begins: the
    API runs a short write on the event loop then (``api.deps.run_db``), where waiting is not allowed.
    """

    def __init__(self, timeout_s: float = BUSY_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._owner: Any = None

    def try_take(self) -> bool:
        """Take the gate if nobody holds it, for the next ``acquire`` in this thread; ``False`` if held."""
        if not self._lock.acquire(blocking=False):
            return False
        self._owner = _Promised(threading.get_ident())
        return True

    def give_back_untaken(self) -> None:
        """Release a gate from ``try_take`` that no transaction of this thread took over (none began)."""
        owner = self._owner
        if isinstance(owner, _Promised) and owner.thread == threading.get_ident():
            self._owner = None
            self._lock.release()

    def acquire(self, dbapi_conn: Any) -> bool:
        """Hold the gate for ``dbapi_conn``'s write transaction; ``True`` when it was promised by ``try_take``."""
        owner = self._owner
        if owner is dbapi_conn:  # the same connection beginning its next transaction
            return False
        if isinstance(owner, _Promised) and owner.thread == threading.get_ident():
            self._owner = dbapi_conn  # taken by ``try_take`` for this transaction
            return True
        if self._lock.acquire(timeout=self.timeout_s):
            self._owner = dbapi_conn
        # else: carry on without the gate; SQLite's busy timeout then decides, as it would without one
        return False

    def release(self, dbapi_conn: Any) -> None:
        if dbapi_conn is not None and self._owner is dbapi_conn:
            self._owner = None
            self._lock.release()


class _Promised:
    """The owner of a gate from ``try_take`` until its thread's next write transaction begins."""

    __slots__ = ("thread",)

    def __init__(self, thread: int) -> None:
        self.thread = thread


class WriterBusy(Exception):
    """Another process held SQLite's write lock for longer than a promised write may wait
    (``BRIEF_BUSY_MS``); nothing was done: begin again where waiting is allowed."""


def writer_gate(bind: Any) -> WriterGate | None:
    """The ``WriterGate`` of a SQLite engine (or of a connection's engine); ``None`` for other databases."""
    gate: WriterGate | None = getattr(getattr(bind, "engine", bind), "_ayni_writer_gate", None)
    return gate


def _sqlite_begin(conn: Any, gate: WriterGate) -> None:
    # BEGIN IMMEDIATE serialises writers: a read-then-write transaction can never lose an update.
    # A transaction marked read-only (GET requests) takes a plain BEGIN and reads alongside the writer (WAL).
    if conn.get_execution_options().get(READ_ONLY, False):
        conn.exec_driver_sql("BEGIN")
        return
    dbapi_conn = conn.connection.dbapi_connection
    if not gate.acquire(dbapi_conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    # promised by try_take (a write on the event loop): wait only briefly for another process's writer
    dbapi_conn.execute(f"PRAGMA busy_timeout={BRIEF_BUSY_MS}")
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except OperationalError as exc:
        if "locked" not in str(exc.orig) and "busy" not in str(exc.orig):
            raise
        raise WriterBusy("another process is writing") from exc
    finally:
        dbapi_conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def _read_only(engine: Engine) -> Engine:
    """``engine`` whose connections begin read-only (same pool), made once and kept on the engine."""
    found: Engine | None = getattr(engine, "_ayni_read_only", None)
    if found is None:
        found = engine.execution_options(**{READ_ONLY: True})
        setattr(engine, "_ayni_read_only", found)  # noqa: B010 - Engine has no slot for it
    return found


@contextmanager
def transaction(factory: sessionmaker[Session], *, read_only: bool = False) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error. ``read_only`` lets
    SQLite run it beside a writer instead of waiting for the write lock (it must not write).

    The session takes a connection at its first statement, not here: a caller that opens the transaction
    in one worker thread and queries in another holds no connection (nor lock) while it waits for a thread."""
    with factory() as session:
        if read_only and isinstance(session.bind, Engine):
            session.bind = _read_only(session.bind)
        with session.begin():
            yield session

"""Dependencies injected into routes: settings, a per-request transaction, the current user, the classifier.

Trips through the worker-thread pool are what a request paid most for under load besides its queries: each
costs the event loop a hand-over and a wake-up, and work in a thread needs the GIL back after every query,
which a busy event loop gives up only every few ms. So (figures: docs/reliability.md, "Load"):

* dependencies that only read ``app.state`` are ``async def`` and run on the event loop;
* on SQLite, a request that only reads (``request_reads_only``) does its database work on the event loop
  too: authentication, the endpoints that use ``run_db`` and the final COMMIT. SQLite is a local file, and
  a read-only transaction takes a plain ``BEGIN`` that reads beside the writer (WAL) and never waits for a
  lock. On PostgreSQL every query can wait on the network, so the database work runs in worker threads;
* ``run_db`` runs an endpoint's work and ends its transaction (COMMIT, connection back to the pool) in one
  go: a SQLite write does so on the event loop when nothing else holds the write lock (else in one worker
  thread), and gives SQLite's write lock back at its COMMIT.

The request's transaction takes its connection (and, for a write, SQLite's write lock) at its first
statement, not when it is opened; a writer's authentication reads in a short transaction of its own, so
the write lock is taken inside the endpoint's work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from ayni.domain.lifecycle import Role
from ayni.errors import NotAuthenticated, PermissionDenied
from ayni.matching.impact import EmissionFactors
from ayni.services import app_state, auth
from ayni.services.acceptance import ServedAcceptance
from ayni.services.matching import PartnerCatalog, emission_factors
from ayni.services.reference import ReferenceCache
from ayni.services.throttle import LoginThrottle
from ayni.settings import Settings
from ayni.storage.engine import WriterBusy, transaction, writer_gate
from ayni.storage.tables import User
from ayni.vision import Classifier


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


READS_ONLY = "__ayni_reads_only__"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def reads_only(endpoint: Endpoint) -> Endpoint:
    """Mark a POST endpoint that never writes (``/v1/classify``): its transaction then reads beside the
    writers instead of taking SQLite's write lock for the whole request (the model's inference included)."""
    setattr(endpoint, READS_ONLY, True)
    return endpoint


def request_reads_only(request: Request) -> bool:
    """GET and HEAD requests, and endpoints marked with ``reads_only``."""
    return request.method in ("GET", "HEAD") or getattr(request.scope.get("endpoint"), READS_ONLY, False)


ON_LOOP = "ayni_on_event_loop"  # Session.info: this request's database work runs on the event loop
SQLITE_WRITE = "ayni_sqlite_write"  # Session.info: a writing request on SQLite
T = TypeVar("T")


def _is_sqlite(factory: sessionmaker[Session]) -> bool:
    bind = factory.kw.get("bind")
    return bind is not None and bind.dialect.name == "sqlite"


def on_event_loop(session: Session) -> bool:
    """Whether ``session``'s work runs on the event loop (a request that only reads, on SQLite)."""
    return bool(session.info.get(ON_LOOP, False))


async def get_session(request: Request,
                      factory: Annotated[sessionmaker[Session], Depends(get_session_factory)]) -> AsyncIterator[Session]:
    """One transaction per request, committed before the response is sent, rolled back on any error.
    Requests that only read (``request_reads_only``) do not queue behind writers on SQLite.

    Opening it touches no database (the session connects at its first statement), so it happens here on
    the event loop. Ending it does nothing more when ``run_db`` already did; otherwise the commit or rollback
    runs on the event loop for a SQLite read, else in a worker thread outside the pool's limit (as FastAPI
    does for ``def`` dependencies), shielded so that a client going away cannot leave it open."""
    reads_only = request_reads_only(request)
    tx = transaction(factory, read_only=reads_only)
    session = tx.__enter__()
    sqlite = _is_sqlite(factory)
    session.info[ON_LOOP] = reads_only and sqlite
    session.info[SQLITE_WRITE] = sqlite and not reads_only
    try:
        yield session
    except BaseException as exc:
        if on_event_loop(session) or not session.in_transaction():
            swallowed = tx.__exit__(type(exc), exc, exc.__traceback__)
        else:
            with anyio.CancelScope(shield=True):
                swallowed = await anyio.to_thread.run_sync(tx.__exit__, type(exc), exc, exc.__traceback__,
                                                           limiter=anyio.CapacityLimiter(1))
        if not swallowed:
            raise
    else:
        if on_event_loop(session) or not session.in_transaction():
            tx.__exit__(None, None, None)
        else:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(tx.__exit__, None, None, None, limiter=anyio.CapacityLimiter(1))


def _whole(session: Session, work: Callable[[], T]) -> T:
    """``work``, then the end of the transaction: COMMIT and the connection back to the pool (with it, on
    SQLite, the write lock), in the same thread; a failure rolls back and re-raises."""
    try:
        result = work()
        session.commit()
        return result
    finally:
        session.close()


def _begin_now(session: Session) -> bool:
    """Begin the session's write transaction before any of the work runs; ``False`` when another process
    is writing (``WriterBusy``: the session gave the connection back and begins again at its next use)."""
    try:
        session.connection()
    except WriterBusy:
        return False
    return True


async def run_db(session: Session, work: Callable[[], T]) -> T:
    """Run an endpoint's database ``work`` and end the request's transaction with it, in one go.

    A SQLite read runs on the event loop (nothing there can wait). A SQLite write runs there too when this
    process's writer gate is free at that moment (``WriterGate.try_take``) and SQLite's write lock can be
    had within a few ms: it then holds the lock for its few milliseconds of work without yielding, instead
    of for as long as a worker thread waits for the GIL after each query behind a busy event loop (that
    made writes several times slower than reads under load). Otherwise, and on PostgreSQL, it runs in a
    worker thread. ``work`` must write through ``session`` only, in one transaction (no commit of its own:
    a second BEGIN on the event loop could wait for another writer), and must not use the session once it
    returned (the session is closed; loaded objects stay readable)."""
    if on_event_loop(session):
        return _whole(session, work)
    gate = writer_gate(session.get_bind()) if session.info.get(SQLITE_WRITE) else None
    if gate is not None and gate.try_take():
        try:
            began = _begin_now(session)
        finally:
            gate.give_back_untaken()
        if began:
            return _whole(session, work)
    return await anyio.to_thread.run_sync(_whole, session, work)


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    cookie = request.cookies.get(request.app.state.settings.auth.cookie_name)
    return cookie or None


TokenDep = Annotated[str | None, Depends(bearer_token)]


def _check_token_apart(factory: sessionmaker[Session], token: str) -> dict[str, Any]:
    with transaction(factory, read_only=True) as lookup:
        return auth.check_token(lookup, token)


async def get_current_user(request: Request, token: TokenDep, session: SessionDep,
                           factory: Annotated[sessionmaker[Session], Depends(get_session_factory)]) -> User:
    """The token's user; revocation, expiry and a disabled account are checked against the database on
    every request (one query).

    A SQLite read looks it up on the event loop in the request's own transaction. Any other request reads
    it in a short transaction of its own (on SQLite on the event loop: a plain ``BEGIN`` never waits; on
    PostgreSQL in a worker thread) and the user joins the request's session without a query, so a write
    takes SQLite's write lock only in the endpoint's work (see the module's note)."""
    if token is None:
        raise NotAuthenticated("Please log in: send 'Authorization: Bearer <token>' from POST /v1/auth/login.")
    if on_event_loop(session):
        columns = auth.check_token(session, token)
    elif _is_sqlite(factory):
        columns = _check_token_apart(factory, token)
    else:
        columns = await anyio.to_thread.run_sync(_check_token_apart, factory, token)
    user = auth.user_in(session, columns)
    request.state.user_id = user.id
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def require_admin(user: CurrentUser) -> User:
    if user.role != Role.ADMIN.value:
        raise PermissionDenied("This needs the admin role.")
    return user


AdminUser = Annotated[User, Depends(require_admin)]


async def get_classifier(request: Request) -> Classifier | None:
    classifier: Classifier | None = getattr(request.app.state, "classifier", None)
    return classifier


ClassifierDep = Annotated[Classifier | None, Depends(get_classifier)]


async def get_partner_catalog(request: Request) -> PartnerCatalog:
    return app_state.partner_catalog(request.app.state)


CatalogDep = Annotated[PartnerCatalog, Depends(get_partner_catalog)]


async def get_reference_cache(request: Request) -> ReferenceCache:
    return app_state.reference_cache(request.app.state)


ReferenceCacheDep = Annotated[ReferenceCache, Depends(get_reference_cache)]


async def get_served_acceptance(request: Request) -> ServedAcceptance:
    """P(accept and collect) for matching: the registry's ranker champion when one is loaded, else the rule."""
    return app_state.served_acceptance(request.app.state)


AcceptanceDep = Annotated[ServedAcceptance, Depends(get_served_acceptance)]


def get_emission_factors(request: Request) -> EmissionFactors | None:
    """WARM v15 factors from the data directory, read once; ``None`` when the data is not there."""
    return emission_factors(request.app.state.settings.data_dir)


FactorsDep = Annotated[EmissionFactors | None, Depends(get_emission_factors)]


async def get_login_throttle(request: Request) -> LoginThrottle:
    return app_state.login_throttle(request.app.state)


ThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]

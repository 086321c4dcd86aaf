"""Dependencies injected into routes: settings, a per-request transaction, the current user, the classifier.

FastAPI runs every plain ``def`` dependency in a worker thread (one hop through the thread pool each, about
as costly as a small query), so those that only read ``app.state`` are ``async def`` and run on the event
loop; those that touch the database stay ``def``. The user is authenticated in a short read of its own,
and the request's transaction takes its connection (and, for a write, SQLite's write lock) at its first
statement, inside the endpoint's hop; before, a request took the write lock while authenticating and held
it while it waited for a worker thread for its endpoint, while every worker thread waited for that lock.
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
from ayni.services.throttle import LoginThrottle
from ayni.settings import Settings
from ayni.storage.engine import transaction
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


async def get_session(request: Request,
                      factory: Annotated[sessionmaker[Session], Depends(get_session_factory)]) -> AsyncIterator[Session]:
    """One transaction per request, committed before the response is sent, rolled back on any error.
    Requests that only read (``request_reads_only``) do not queue behind writers on SQLite.

    Opening it touches no database (the session connects at its first statement), so it happens here on
    the event loop; the commit or rollback runs in a worker thread outside the pool's limit (as FastAPI
    does for ``def`` dependencies), shielded so that a client going away cannot leave it open."""
    tx = transaction(factory, read_only=request_reads_only(request))
    session = tx.__enter__()
    try:
        yield session
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            swallowed = await anyio.to_thread.run_sync(tx.__exit__, type(exc), exc, exc.__traceback__,
                                                       limiter=anyio.CapacityLimiter(1))
        if not swallowed:
            raise
    else:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(tx.__exit__, None, None, None, limiter=anyio.CapacityLimiter(1))


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


def get_current_user(request: Request, token: TokenDep, session: SessionDep,
                     factory: Annotated[sessionmaker[Session], Depends(get_session_factory)]) -> User:
    """The token's user, read in a transaction of its own that ends here, then attached to the request's
    session without a query (so the request's transaction starts in the endpoint, see the module's note)."""
    if token is None:
        raise NotAuthenticated("Please log in: send 'Authorization: Bearer <token>' from POST /v1/auth/login.")
    with transaction(factory, read_only=True) as lookup:
        user = auth.authenticate(lookup, token)
    request.state.user_id = user.id
    return session.merge(user, load=False)


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

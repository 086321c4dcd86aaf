"""``create_app``: the FastAPI application with its lifespan (engine, sessions, classifier)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ayni import __version__
from ayni.api import errors
from ayni.api._admission import Admission
from ayni.api.openapi_links import add_links
from ayni.api.routes import (
    admin,
    auth,
    classify,
    forecast,
    health,
    listings,
    matches,
    matching,
    models,
    partners,
    producers,
    reference,
)
from ayni.errors import AyniError
from ayni.observability import metrics
from ayni.observability.logging import request_id
from ayni.services import app_state
from ayni.settings import Settings, get_settings
from ayni.storage.engine import make_engine, make_session_factory
from ayni.vision import Classifier
from ayni.web import mount as mount_web

log = logging.getLogger("ayni.http")


def load_classifier(settings: Settings) -> Classifier | None:
    """The ONNX classifier if one can be loaded; ``None`` (classification answers 503) otherwise."""
    try:
        return Classifier.load(settings.vision.model_path, threads=settings.vision.threads,
                               max_bytes=settings.upload.max_bytes, max_pixels=settings.upload.max_pixels)
    except AyniError as exc:  # the API must start without a model; /readyz and /v1/classify report it
        log.error("classifier not loaded: %s", exc.message)
        return None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if getattr(app.state, "engine", None) is None:
        app.state.engine = make_engine(
            settings.database_url,
            echo=settings.database.echo,
            pool_size=settings.database.pool_size,
            connect_timeout_s=settings.database.connect_timeout_s,
        )
        app.state.session_factory = make_session_factory(app.state.engine)
        app.state.owns_engine = True
    watch_vision = not hasattr(app.state, "classifier")  # injected (even as None) by tests
    if watch_vision:  # the shipped model, then the registry's champion once it has one
        app.state.classifier = load_classifier(settings)
    watcher = app_state.start_champion_watcher(app.state, vision=watch_vision)  # + the ranker's champion
    # chores only where this app owns its database (tests inject theirs and call the services directly)
    keeper = app_state.start_housekeeper(app.state) if getattr(app.state, "owns_engine", False) else None
    yield
    if keeper is not None:
        keeper.stop()
    if watcher is not None:
        watcher.stop()
    if getattr(app.state, "owns_engine", False):
        app.state.engine.dispose()


class RequestContext:
    """Pure ASGI middleware: a request id (taken from ``X-Request-ID`` or made), security headers, and one
    structured log line per request with its status and duration."""

    HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
               (b"x-frame-options", b"DENY"))

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")[:64]
        rid = given or f"{random.getrandbits(64):016x}"  # uuid4 reads os.urandom: a syscall per request
        token = request_id.set(rid)
        start = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.append((b"x-request-id", rid.encode("latin-1")))
                headers += [(k, v) for k, v in self.HEADERS if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if log.isEnabledFor(logging.INFO):  # the line's fields are not built when nobody reads them
                path = scope.get("path", "")
                log.info("%s %s %s", scope.get("method"), path, status,
                         extra={"method": scope.get("method"), "path": path, "status": status,
                                "duration_ms": round((time.perf_counter() - start) * 1000, 2)})
            request_id.reset(token)


def create_app(settings: Settings | None = None, **state: Any) -> FastAPI:
    """The app. ``state`` may inject ``engine``, ``session_factory`` or ``classifier`` (tests do)."""
    app = FastAPI(
        title="Ayni API",
        version=__version__,
        lifespan=lifespan,
        description="Community waste to income in Peru: classify, list, match, collect, measure.",
    )
    app.state.settings = settings or get_settings()
    for key, value in state.items():
        setattr(app.state, key, value)
    errors.install(app)
    app.add_middleware(Admission, limit=app.state.settings.server.admit)  # innermost: see api/_admission
    app.add_middleware(RequestContext)
    v1 = APIRouter(prefix="/v1")
    for module in (auth, producers, partners, matching, listings, matches, classify, forecast, reference, admin, models):
        v1.include_router(module.router)
    app.include_router(v1)
    app.include_router(health.router)
    metrics.install(app)
    mount_web(app)
    _publish_links(app)
    return app


def _publish_links(app: FastAPI) -> None:
    """The generated schema plus the workflow links of ``ayni.api.openapi_links`` (built once)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

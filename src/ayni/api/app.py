"""``create_app``: the FastAPI application with its lifespan (engine, sessions, classifier)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response

from ayni import __version__
from ayni.api import errors
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
from ayni.services.serving import ChampionWatcher
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
    watcher: ChampionWatcher | None = None
    if not hasattr(app.state, "classifier"):  # injected (even as None) by tests; else the shipped model
        app.state.classifier = load_classifier(settings)
        if settings.vision.registry_refresh_s > 0:  # then the registry's champion, once it has one
            watcher = ChampionWatcher(settings, fallback=app.state.classifier,
                                      publish=lambda model: setattr(app.state, "classifier", model),
                                      interval_s=settings.vision.registry_refresh_s)
            app.state.champion_watcher = watcher
            watcher.start()
    yield
    if watcher is not None:
        watcher.stop()
    if getattr(app.state, "owns_engine", False):
        app.state.engine.dispose()


async def _request_context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    rid = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
    token = request_id.set(rid)
    start = time.perf_counter()
    try:
        response = await call_next(request)
    finally:
        request_id.reset(token)
    response.headers["X-Request-ID"] = rid
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    log.info(
        "%s %s %s",
        request.method,
        request.url.path,
        response.status_code,
        extra={
            "method": request.method,
            "path": request.url.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - start) * 1000, 2),
        },
    )
    return response


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
    app.middleware("http")(_request_context)
    v1 = APIRouter(prefix="/v1")
    for module in (auth, producers, partners, matching, listings, matches, classify, forecast, reference, admin, models):
        v1.include_router(module.router)
    app.include_router(v1)
    app.include_router(health.router)
    metrics.install(app)
    mount_web(app)
    return app

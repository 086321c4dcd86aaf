"""``mount(app)``: add the web pages, their static files and the HTML 404 page to the FastAPI app."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ayni.errors import NotFound
from ayni.web._locale import load_catalogues
from ayni.web._render import SECURITY_HEADERS, error_page, make_environment
from ayni.web.routes import account, forecast, models, partner, producer, staff

HERE = Path(__file__).parent
API_PREFIXES = ("/v1", "/docs", "/redoc", "/openapi.json", "/healthz", "/readyz", "/metrics", "/static")

Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return not path.startswith(API_PREFIXES) and "text/html" in request.headers.get("accept", "")


def _html_not_found(api_handler: Handler | None) -> Handler:
    """A person who types a wrong address gets a page; API clients keep their problem+json."""

    async def handle(request: Request, exc: Exception) -> Response:
        if isinstance(exc, StarletteHTTPException) and exc.status_code == 404 and _wants_html(request):
            started = time.perf_counter()
            response = error_page(request, NotFound("There is no such page."))
            for key, value in SECURITY_HEADERS.items():
                response.headers.setdefault(key, value)
            response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
            return response
        if api_handler is None:
            raise exc
        result = api_handler(request, exc)
        return await result if isinstance(result, Awaitable) else result

    return handle


def mount(app: FastAPI) -> None:
    """Serve the web app from ``app``: pages at ``/``, assets under ``/static``."""
    app.state.web_templates = make_environment(str(HERE / "templates"))
    app.state.web_catalogues = load_catalogues()
    for module in (account, producer, partner, staff, models, forecast):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    api_handler = app.exception_handlers.get(StarletteHTTPException)
    app.add_exception_handler(StarletteHTTPException, _html_not_found(api_handler))

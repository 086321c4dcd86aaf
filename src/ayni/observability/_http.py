"""HTTP metrics: a pure ASGI middleware and the route template of a request (``/v1/listings/{listing_id}``)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ayni.observability._families import HTTP_METHODS, OTHER, UNMATCHED, metrics_families

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _method_label(method: str) -> str:
    method = method.upper()
    return method if method in HTTP_METHODS else OTHER


def route_template(scope: Scope) -> str:
    """The matched route's full template (``/v1/listings/{listing_id}``), or ``unmatched``.

    A route inside an included router knows only its own part (``/listings/{listing_id}``); the static
    prefix (``/v1``) is the part of the request path before the piece that the route's pattern matches.
    """
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str) or not template:
        return _plain_route_template(scope)
    path, regex = scope.get("path", ""), getattr(route, "path_regex", None)
    if regex is None or not isinstance(path, str) or regex.match(path):
        return template
    for i in range(1, len(path)):
        if path[i] == "/" and regex.match(path[i:]):
            return path[:i] + template
    return template


def _plain_route_template(scope: Scope) -> str:
    """Plain Starlette routes and mounts (``/docs``, ``/metrics``, ``/static``) leave only the endpoint in the
    scope: look its template up in the app's own route table (built once, on the first such request)."""
    endpoint, app = scope.get("endpoint"), scope.get("app")
    state = getattr(app, "state", None)
    if endpoint is None or state is None:
        return UNMATCHED
    table: dict[int, str] | None = getattr(state, "metrics_route_table", None)
    if table is None:
        table = {}
        for route in getattr(getattr(app, "router", None), "routes", []):
            path = getattr(route, "path", None)
            if not isinstance(path, str):
                continue
            if getattr(route, "endpoint", None) is not None:
                table[id(route.endpoint)] = path
            elif getattr(route, "app", None) is not None:  # a Mount: its app is the endpoint
                table[id(route.app)] = f"{path}/{{path}}"
        state.metrics_route_table = table
    return table.get(id(endpoint), UNMATCHED)


def observe_pool(engine: Any) -> None:
    """Copy the SQLAlchemy pool's counters (checked out, idle, overflow) into ``ayni_db_pool_connections``."""
    pool = getattr(engine, "pool", None)
    gauge = metrics_families().db_pool
    for state, attr in (("checked_out", "checkedout"), ("idle", "checkedin"), ("overflow", "overflow")):
        fn = getattr(pool, attr, None)
        if callable(fn):
            try:
                gauge.labels(state).set(max(float(fn()), 0.0))
            except Exception:  # noqa: BLE001, S112 - a pool without this counter is simply not reported
                continue


class HttpMetricsMiddleware:
    """Pure ASGI middleware: counts and times every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        m = metrics_families()
        method = _method_label(scope.get("method", ""))
        status = 500
        start = time.perf_counter()

        async def send_and_see(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        in_progress = m.http_in_progress.labels(method)
        in_progress.inc()
        try:
            await self.app(scope, receive, send_and_see)
        except Exception:
            m.http_exceptions.labels(method, route_template(scope)).inc()
            status = 500
            raise
        finally:
            in_progress.dec()
            route = route_template(scope)
            m.http_requests.labels(method, route, str(status)).inc()
            m.http_latency.labels(method, route).observe(time.perf_counter() - start)
            state = getattr(scope.get("app"), "state", None)
            if state is not None:
                observe_pool(getattr(state, "engine", None))

"""``AyniError`` and framework errors as RFC 9457 problem+json responses (statuses: ``ayni.errors.http_status``)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from ayni import errors as e

log = logging.getLogger(__name__)


TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
    507: "Insufficient storage",
}
PROBLEM = "application/problem+json"
DATABASE_RETRY_AFTER_S = 1


class Problem(BaseModel):
    """An RFC 9457 problem; some carry more members: ``errors`` (one per invalid field), ``field``,
    ``retry_after_s``, ``capacity_left_kg``."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str


def problem(status: int, detail: str, *, code: str, request: Request, **extra: Any) -> JSONResponse:
    body = {
        "type": f"https://ayni.pe/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if "retry_after_s" in extra:
        headers["Retry-After"] = str(extra["retry_after_s"])
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


async def _ayni(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.AyniError)
    return problem(e.http_status(exc), exc.message, code=exc.code, request=request, **exc.details)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        fields.append({"field": loc, "message": err.get("msg", "invalid")})
    detail = "; ".join(f"{f['field'] or 'request'}: {f['message']}" for f in fields) or "The request is invalid."
    return problem(422, detail, code="invalid_input", request=request, errors=fields)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem(exc.status_code, str(exc.detail), code=f"http_{exc.status_code}", request=request)


async def _database(request: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable: %s", exc)
    return problem(
        503,
        "The database is not reachable right now; nothing was saved. Please try again in a moment.",
        code="service_unavailable",
        request=request,
        retry_after_s=DATABASE_RETRY_AFTER_S,
    )


async def _dbapi(request: Request, exc: Exception) -> JSONResponse:
    """Other driver errors: a lost connection is an outage (503); anything else is a bug (500)."""
    assert isinstance(exc, DBAPIError)
    if exc.connection_invalidated:
        return await _database(request, exc)
    return await _unexpected(request, exc)


async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
    """A number the database cannot hold (an id or offset past 2**31 or 2**63): the request's fault."""
    log.info("value out of range: %s", exc)
    return problem(422, "A number in the request is out of range (ids and offsets must fit in 32 bits).",
                   code="invalid_input", request=request)


async def _integrity(request: Request, exc: Exception) -> JSONResponse:
    log.warning("integrity error: %s", exc)
    return problem(409, "This change conflicts with data that already exists.", code="conflict", request=request)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Something went wrong on our side; it has been logged.", code="internal", request=request)


def install(app: FastAPI) -> None:
    app.add_exception_handler(e.AyniError, _ayni)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(OperationalError, _database)
    app.add_exception_handler(InterfaceError, _database)
    app.add_exception_handler(PoolTimeout, _database)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(DataError, _out_of_range)  # PostgreSQL: integer out of range
    app.add_exception_handler(OverflowError, _out_of_range)  # SQLite: Python int too large for INTEGER
    app.add_exception_handler(DBAPIError, _dbapi)
    app.add_exception_handler(Exception, _unexpected)
    document(app)


# --- the problems in the OpenAPI description ------------------------------------------------------------


def document(app: FastAPI) -> None:
    """Declare, on every operation, the problem+json answers it can give (so clients and the schema
    conformance fuzzing know them). Routes may declare their own; those are kept."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_problems(app, build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _with_problems(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    ref = {"$ref": "#/components/schemas/Problem"}
    for context in iter_route_contexts(app.routes):  # routes of included routers too, with their full path
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for method in context.methods or ():
            op = schema.get("paths", {}).get(context.path_format, {}).get(method.lower())
            if op is None:
                continue
            responses = op.setdefault("responses", {})
            for status in sorted(_problem_statuses(route, method, op)):
                current = responses.get(str(status))
                if current is None or "HTTPValidationError" in json.dumps(current):
                    responses[str(status)] = {"description": TITLES[status], "content": {PROBLEM: {"schema": ref}}}
    if "HTTPValidationError" not in json.dumps(schema.get("paths", {})):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
    return schema


def _problem_statuses(route: APIRoute, method: str, op: dict[str, Any]) -> set[int]:
    """What an operation can answer besides success, read from its signature: every one may find the
    database down (503); with parameters or a body 422; with a body 400 (undecodable); signed-in ones 401/403/404; a path id 404; writes
    409 (a state change not allowed now); uploads 400/413/415/507; log-in 401/429."""
    calls = set(_dependency_names(route.dependant))
    params = op.get("parameters", [])
    body = op.get("requestBody", {}).get("content", {})
    statuses = {503}
    if params or body:
        statuses.add(422)
    if body:  # a body that cannot be decoded at all (not UTF-8 JSON): "There was an error parsing the body"
        statuses.add(400)
    if "get_current_user" in calls:
        statuses |= {401, 403, 404}
    if any(p.get("in") == "path" for p in params):
        statuses.add(404)
    if method not in ("GET", "HEAD"):
        statuses.add(409)
    if "multipart/form-data" in body:
        statuses |= {400, 413, 415, 507}
    if "get_login_throttle" in calls:  # log-in: wrong credentials, or too many of them
        statuses |= {401, 429}
    return statuses


def _dependency_names(dependant: Dependant) -> Iterator[str]:
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield getattr(dep.call, "__name__", "")
        yield from _dependency_names(dep)

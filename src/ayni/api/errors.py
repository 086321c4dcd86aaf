"""The only place that maps ``AyniError`` to HTTP status codes; bodies are RFC 9457 problem+json."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ayni import errors as e

log = logging.getLogger(__name__)

STATUS: dict[type[e.AyniError], int] = {
    e.InvalidInput: 422,
    e.DataValidationError: 422,
    e.NotFound: 404,
    e.NotAuthenticated: 401,
    e.PermissionDenied: 403,
    e.Conflict: 409,
    e.PayloadTooLarge: 413,
    e.UnsupportedMediaType: 415,
    e.TooManyRequests: 429,
    e.ModelUnavailable: 503,
    e.ServiceUnavailable: 503,
}

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
}


def status_for(exc: e.AyniError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 400


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
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


async def _ayni(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.AyniError)
    return problem(status_for(exc), exc.message, code=exc.code, request=request, **exc.details)


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
        "The database is not reachable right now; please try again in a moment.",
        code="service_unavailable",
        request=request,
    )


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
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(Exception, _unexpected)

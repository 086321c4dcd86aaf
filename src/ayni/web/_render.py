"""Rendering: the Jinja2 environment, the per-request context, error pages and security headers.

``WebRoute`` wraps every page handler: an ``AyniError`` becomes a page a person understands (in the
request's language) with the right status, a missing session on a GET becomes a redirect to the log-in
page, and every response gets the security headers, the CSRF cookie when it was just issued, and a
``Server-Timing`` header with the time the server spent on the page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from ayni import __version__
from ayni.errors import AyniError, Conflict, NotAuthenticated, ServiceUnavailable, http_status
from ayni.services import auth
from ayni.services.matching import emission_factors
from ayni.storage.tables import User
from ayni.web._csrf import CSRF_COOKIE, CSRF_FIELD, csrf_token
from ayni.web._locale import LANG_COOKIE, Locale, make_locale, pick_locale

log = logging.getLogger("ayni.web")

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(self), geolocation=(self), microphone=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def make_environment(template_dir: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(template_dir),
        autoescape=select_autoescape(["html", "svg"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def locale_of(request: Request) -> Locale:
    cached = getattr(request.state, "web_locale", None)
    if isinstance(cached, Locale):
        return cached
    loc = make_locale(request.app.state.web_catalogues, pick_locale(request.cookies.get(LANG_COOKIE)))
    request.state.web_locale = loc
    return loc


def render(
    request: Request, template: str, *, user: User | None = None, status: int = 200, **context: Any
) -> HTMLResponse:
    env: Environment = request.app.state.web_templates
    loc = locale_of(request)
    html = env.get_template(template).render(
        request=request,
        loc=loc,
        t=loc.t,
        lang=loc.code,
        user=user,
        csrf_field=CSRF_FIELD,
        csrf=csrf_token(request),
        path=request.url.path,
        version=__version__,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def error_key(exc: AyniError) -> tuple[str, str | None]:
    """Catalogue keys for an error: its kind, and the field-specific message when there is one."""
    field = exc.details.get("field") if isinstance(exc.details, dict) else None
    field_key = f"error.field.{field}" if isinstance(field, str) else None
    return f"error.{exc.code}", field_key


def error_page(request: Request, exc: AyniError, *, user: User | None = None) -> HTMLResponse:
    loc = locale_of(request)
    kind, field_key = error_key(exc)
    status = http_status(exc)
    title = loc.t(kind) if loc.has(kind) else loc.t("error.generic")
    detail = loc.t(field_key) if field_key and loc.has(field_key) else None
    return render(
        request,
        "error.html",
        user=user,
        status=status,
        status_code=status,
        title=title,
        detail=detail,
        message=exc.message,
    )


def _finish(request: Request, response: Response, started: float) -> Response:
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    new = getattr(request.state, "csrf_new", None)
    if new is not None and CSRF_COOKIE not in request.cookies:
        response.set_cookie(
            CSRF_COOKIE,
            str(new),
            httponly=True,
            samesite="strict",
            secure=request.app.state.settings.auth.cookie_secure,
            path="/",
        )
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


class WebRoute(APIRoute):
    """An ``APIRoute`` that turns errors into pages and adds the web's headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            started = time.perf_counter()
            try:
                response = await handler(request)
            except NotAuthenticated as exc:
                if request.method == "GET":
                    target = quote(request.url.path, safe="/")
                    response = RedirectResponse(f"/login?next={target}", status_code=303)
                else:
                    response = error_page(request, exc)
            except AyniError as exc:
                response = error_page(request, exc)
            except IntegrityError as exc:
                log.warning("integrity error on %s: %s", request.url.path, exc)
                response = error_page(request, Conflict("This change conflicts with data that already exists."))
            except (OperationalError, InterfaceError) as exc:
                log.error("database unavailable on %s: %s", request.url.path, exc)
                response = error_page(request, ServiceUnavailable("The database is not reachable right now."))
            return _finish(request, response, started)

        return run


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per page, committed before the response is sent, rolled back on any error."""
    with request.app.state.session_factory() as session, session.begin():
        yield session


Db = Annotated[Session, Depends(get_db, scope="function")]


def optional_user(request: Request, session: Db) -> User | None:
    token = request.cookies.get(request.app.state.settings.auth.cookie_name)
    if not token:
        return None
    try:
        return auth.authenticate(session, token)
    except NotAuthenticated:
        return None


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise NotAuthenticated("Please log in.")
    return user


MaybeUser = Annotated[User | None, Depends(optional_user)]
WebUser = Annotated[User, Depends(current_user)]


def emission_factors_of(request: Request) -> Any:
    """The WARM factors for CO2e, read once per app on first use (``None`` without the reference data)."""
    return emission_factors(request.app.state.settings.data_dir)


def redirect(url: str) -> RedirectResponse:
    """After a successful POST: see the result with a GET (the back button never re-posts)."""
    return RedirectResponse(url, status_code=303)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target

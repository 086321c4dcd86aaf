"""CSRF protection for every POST form: a double-submit token.

A random token lives in an HttpOnly, SameSite=Strict cookie and in a hidden ``csrf_token`` field of
each form; a POST is accepted only when both are present and equal (constant-time comparison) and, when
the browser sends an ``Origin`` header, it names this site.
"""

from __future__ import annotations

import hmac
import re
import secrets

from starlette.datastructures import FormData
from starlette.requests import Request

from ayni.errors import PermissionDenied

CSRF_COOKIE = "ayni_csrf"
CSRF_FIELD = "csrf_token"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


class CsrfFailed(PermissionDenied):
    """The form's anti-forgery token is missing or wrong (403)."""

    code = "csrf"


def csrf_token(request: Request) -> str:
    """The token for this browser; a new one (set as a cookie by the response) when it has none."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    if _TOKEN.match(existing):
        return existing
    new = getattr(request.state, "csrf_new", None)
    if new is None:
        new = secrets.token_urlsafe(32)
        request.state.csrf_new = new
    return str(new)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


async def checked_form(request: Request) -> FormData:
    """The POSTed form, after checking the anti-forgery token and the origin."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not isinstance(sent, str) or not _TOKEN.match(cookie) or not hmac.compare_digest(sent, cookie):
        raise CsrfFailed("The form expired or did not come from this site. Please reload the page and try again.")
    if not _same_origin(request):
        raise CsrfFailed("The form was sent from another site.")
    return form

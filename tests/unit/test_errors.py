"""One status map for the API and the web pages, and a page title for every error a person can meet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ayni.web._csrf  # noqa: F401 - registers the web layer's own error class
from ayni import errors as e

I18N = Path(e.__file__).parent / "web" / "i18n"


def _all(cls: type[e.AyniError]) -> list[type[e.AyniError]]:
    return [cls] + [c for sub in cls.__subclasses__() for c in _all(sub)]


@pytest.mark.parametrize(("exc", "status"), [
    (e.InsufficientStorage("disk full"), 507), (e.IdempotencyKeyReused("other body"), 422),
    (e.ServiceUnavailable("db down"), 503), (e.Conflict("taken"), 409), (e.AyniError("?"), 400),
])
def test_http_status_follows_the_nearest_mapped_class(exc: e.AyniError, status: int) -> None:
    assert e.http_status(exc) == status


def test_web_csrf_failure_is_a_403_like_any_permission_denied() -> None:
    from ayni.web._csrf import CsrfFailed

    assert e.http_status(CsrfFailed("expired")) == 403


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_error_code_has_a_page_title(lang: str) -> None:
    catalogue = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))
    codes = {c.code for c in _all(e.AyniError) if c is not e.AyniError}
    missing = sorted(code for code in codes if f"error.{code}" not in catalogue)
    assert not missing, f"{lang}.json lacks titles for {missing}"

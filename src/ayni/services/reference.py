"""Look-ups of districts and materials, and the per-process cache of answers built from them."""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ayni.errors import NotFound
from ayni.services._common import Page, paginate
from ayni.storage.tables import District

T = TypeVar("T")


def search_districts(
    session: Session, *, q: str | None, departamento: str | None, provincia: str | None, limit: int, offset: int
) -> Page[District]:
    stmt = select(District).order_by(District.departamento, District.provincia, District.distrito)
    if q:
        like = f"%{_fold(q)}%"
        stmt = stmt.where(
            or_(District.distrito.like(like), District.provincia.like(like), District.ubigeo == q.strip())
        )
    if departamento:
        stmt = stmt.where(District.departamento == departamento.strip().upper())
    if provincia:
        stmt = stmt.where(District.provincia == provincia.strip().upper())
    return paginate(session, stmt, limit=limit, offset=offset)


def get_district(session: Session, ubigeo: str) -> District:
    district = session.get(District, ubigeo)
    if district is None:
        raise NotFound(f"No district with UBIGEO '{ubigeo}'.")
    return district


def _fold(text: str) -> str:
    """Upper case without accents, as MINAM writes district names (JOSÉ → JOSE)."""
    decomposed = unicodedata.normalize("NFKD", text.strip().upper())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class ReferenceCache:
    """Answers made from reference data (district searches), kept ``ttl_s`` seconds per process.

    Districts are written only by ``ayni data load`` (no request changes them), so no request's own write
    can be missing from a cached answer; a reload by an operator shows within ``ttl_s``. At most
    ``max_entries`` answers are kept (the oldest go first)."""

    def __init__(self, *, ttl_s: float = 60.0, max_entries: int = 1024) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        now = time.monotonic()
        found = self._entries.get(key)
        if found is not None and now - found[0] < self.ttl_s:
            return found[1]  # type: ignore[return-value]  # stored by ``make`` under this key
        value = make()
        with self._lock:
            self._entries.pop(key, None)
            while len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = (now, value)
        return value

"""Look-ups of districts and materials."""

from __future__ import annotations

import unicodedata

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ayni.errors import NotFound
from ayni.services._common import Page, paginate
from ayni.storage.tables import District


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

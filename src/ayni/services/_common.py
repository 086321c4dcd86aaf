"""Helpers shared by the services: pagination, role checks, the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import Session

from ayni.domain.lifecycle import Role
from ayni.errors import InvalidInput, PermissionDenied
from ayni.storage.tables import AuditEvent, User

T = TypeVar("T")
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def _check_window(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.", details={"field": "limit"})
    if offset < 0:
        raise InvalidInput("offset must be 0 or more.", details={"field": "offset"})


def paginate(session: Session, stmt: Select[T], *, limit: int, offset: int) -> Page[T]:
    _check_window(limit, offset)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = list(session.scalars(stmt.limit(limit).offset(offset)).unique())
    return Page(items=items, total=total, limit=limit, offset=offset)


def paginate_rows(session: Session, stmt: Select[Any], *, count: Select[Any], limit: int,
                  offset: int) -> Page[Row[Any]]:
    """A page of ``stmt``'s rows (no ORM objects) and ``count``'s total, run on the session's connection
    (Core statements need none of the ORM's execution steps)."""
    _check_window(limit, offset)
    conn = session.connection()
    total = conn.scalar(count) or 0
    items = list(conn.execute(stmt.limit(limit).offset(offset)).all())
    return Page(items=items, total=total, limit=limit, offset=offset)


def require_role(user: User, *roles: Role) -> None:
    if user.role not in {r.value for r in roles}:
        names = " or ".join(r.value for r in roles)
        raise PermissionDenied(f"This needs the {names} role; you are signed in as {user.role}.")


def audit(
    session: Session, *, actor: User | None, action: str, entity: str, entity_id: int | None, **detail: Any
) -> None:
    session.add(
        AuditEvent(
            actor_user_id=actor.id if actor else None, action=action, entity=entity, entity_id=entity_id, detail=detail
        )
    )

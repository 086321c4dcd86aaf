"""Administration of user accounts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ayni.domain.lifecycle import Role
from ayni.errors import Conflict, NotFound
from ayni.services._common import Page, audit, paginate, require_role
from ayni.services.auth import revoke_all
from ayni.storage.tables import User


def list_users(session: Session, admin: User, *, role: str | None, limit: int, offset: int) -> Page[User]:
    require_role(admin, Role.ADMIN)
    stmt = select(User).order_by(User.id)
    if role:
        stmt = stmt.where(User.role == Role(role).value)
    return paginate(session, stmt, limit=limit, offset=offset)


def update_user(session: Session, admin: User, user_id: int, *, is_active: bool | None, role: str | None) -> User:
    require_role(admin, Role.ADMIN)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    if user.id == admin.id and (is_active is False or (role and role != Role.ADMIN.value)):
        raise Conflict("You cannot disable or demote your own administrator account.")
    if is_active is not None:
        user.is_active = is_active
        if not is_active:
            revoke_all(session, user)
    if role is not None:
        user.role = Role(role).value
    audit(session, actor=admin, action="user.updated", entity="user", entity_id=user.id, is_active=is_active, role=role)
    return user

from __future__ import annotations

from fastapi import APIRouter, Query, status

from ayni.api.deps import AdminUser, SessionDep, SettingsDep
from ayni.api.schemas.auth import AdminUserCreate, UserPublic, UserUpdate
from ayni.api.schemas.common import Page
from ayni.domain.lifecycle import Role
from ayni.services import auth, users

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/users")
def list_users(
    admin: AdminUser,
    session: SessionDep,
    role: Role | None = None,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
) -> Page[UserPublic]:
    page = users.list_users(session, admin, role=role.value if role else None, limit=limit, offset=offset)
    return Page[UserPublic](
        items=[UserPublic.model_validate(u) for u in page.items], total=page.total, limit=page.limit, offset=page.offset
    )


@router.post("/users", status_code=status.HTTP_201_CREATED)
def create_user(body: AdminUserCreate, admin: AdminUser, session: SessionDep, settings: SettingsDep) -> UserPublic:
    user = auth.create_user(
        session,
        email=body.email,
        password=body.password,
        role=Role(body.role),
        display_name=body.display_name,
        phone=body.phone,
        settings=settings.auth,
    )
    return UserPublic.model_validate(user)


@router.patch("/users/{user_id}")
def update_user(user_id: int, body: UserUpdate, admin: AdminUser, session: SessionDep) -> UserPublic:
    return UserPublic.model_validate(
        users.update_user(session, admin, user_id, is_active=body.is_active, role=body.role)
    )

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from ayni.api.deps import CurrentUser, SessionDep, SettingsDep, ThrottleDep, TokenDep
from ayni.api.schemas.auth import LoginRequest, TokenPublic, UserCreate, UserPublic
from ayni.domain.lifecycle import Role
from ayni.errors import NotAuthenticated
from ayni.services import auth

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", status_code=status.HTTP_201_CREATED)
def register(body: UserCreate, session: SessionDep, settings: SettingsDep) -> UserPublic:
    user = auth.register(
        session,
        email=body.email,
        password=body.password,
        role=Role(body.role),
        display_name=body.display_name,
        phone=body.phone,
        locale=body.locale,
        settings=settings.auth,
    )
    return UserPublic.model_validate(user)


@router.post("/login")
def login(body: LoginRequest, request: Request, response: Response, session: SessionDep, settings: SettingsDep,
          throttle: ThrottleDep) -> TokenPublic:
    keys = (f"email:{body.email.strip().lower()}", f"ip:{request.client.host if request.client else '-'}")
    throttle.check(*keys)
    try:
        user, token = auth.login(session, email=body.email, password=body.password, kind="bearer",
                                 settings=settings.auth)
    except NotAuthenticated:
        throttle.failed(*keys)
        raise
    throttle.succeeded(keys[0])
    response.set_cookie(
        settings.auth.cookie_name,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.auth.cookie_secure,
        max_age=settings.auth.token_ttl_hours * 3600,
    )
    return TokenPublic(access_token=token, user=UserPublic.model_validate(user))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(user: CurrentUser, token: TokenDep, response: Response, session: SessionDep, settings: SettingsDep) -> None:
    if token:
        auth.logout(session, token)
    response.delete_cookie(settings.auth.cookie_name)


@router.get("/me")
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)

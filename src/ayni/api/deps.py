"""Dependencies injected into routes: settings, a per-request transaction, the current user, the classifier."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from ayni.domain.lifecycle import Role
from ayni.errors import NotAuthenticated, PermissionDenied
from ayni.matching.impact import EmissionFactors
from ayni.services import app_state, auth
from ayni.services.matching import PartnerCatalog, emission_factors
from ayni.services.throttle import LoginThrottle
from ayni.settings import Settings
from ayni.storage.engine import transaction
from ayni.storage.tables import User
from ayni.vision import Classifier


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session_factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


def get_session(request: Request,
                factory: Annotated[sessionmaker[Session], Depends(get_session_factory)]) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent, rolled back on any error.
    GET and HEAD requests read only, so on SQLite they do not queue behind writers."""
    with transaction(factory, read_only=request.method in ("GET", "HEAD")) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    cookie = request.cookies.get(request.app.state.settings.auth.cookie_name)
    return cookie or None


def get_current_user(request: Request, session: SessionDep) -> User:
    token = bearer_token(request)
    if token is None:
        raise NotAuthenticated("Please log in: send 'Authorization: Bearer <token>' from POST /v1/auth/login.")
    user = auth.authenticate(session, token)
    request.state.user_id = user.id
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
TokenDep = Annotated[str | None, Depends(bearer_token)]


def require_admin(user: CurrentUser) -> User:
    if user.role != Role.ADMIN.value:
        raise PermissionDenied("This needs the admin role.")
    return user


AdminUser = Annotated[User, Depends(require_admin)]


def get_classifier(request: Request) -> Classifier | None:
    classifier: Classifier | None = getattr(request.app.state, "classifier", None)
    return classifier


ClassifierDep = Annotated[Classifier | None, Depends(get_classifier)]


def get_partner_catalog(request: Request) -> PartnerCatalog:
    return app_state.partner_catalog(request.app.state)


CatalogDep = Annotated[PartnerCatalog, Depends(get_partner_catalog)]


def get_emission_factors(request: Request) -> EmissionFactors | None:
    """WARM v15 factors from the data directory, read once; ``None`` when the data is not there."""
    return emission_factors(request.app.state.settings.data_dir)


FactorsDep = Annotated[EmissionFactors | None, Depends(get_emission_factors)]


def get_login_throttle(request: Request) -> LoginThrottle:
    return app_state.login_throttle(request.app.state)


ThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]

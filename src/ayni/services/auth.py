"""Registration, log-in, log-out and token authentication."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from ayni.domain.lifecycle import Role
from ayni.errors import Conflict, InvalidInput, NotAuthenticated
from ayni.services._common import audit
from ayni.services.security import hash_password, new_token, token_digest, verify_password
from ayni.settings import AuthSettings
from ayni.storage.tables import AuthToken, User

SELF_SERVICE_ROLES = {Role.PRODUCER, Role.PARTNER}
# Verifying against a real hash when the e-mail is unknown keeps both answers equally slow.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$lIVY9V5HCVWO7Md9p9FxIg$K9lUpjxW3rLGRR35H9Mnv0n48bxjDHinMIuDvceocFI"


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or " " in email:
        raise InvalidInput(f"'{email}' is not a valid e-mail address.", details={"field": "email"})
    return email


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role,
    display_name: str,
    phone: str | None = None,
    locale: str = "es",
    settings: AuthSettings,
) -> User:
    email = normalise_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"An account with the e-mail {email} already exists.", details={"field": "email"})
    if not display_name.strip():
        raise InvalidInput("A name is required.", details={"field": "display_name"})
    user = User(
        email=email,
        password_hash=hash_password(password, settings=settings),
        role=role.value,
        display_name=display_name.strip(),
        phone=phone,
        locale=locale,
    )
    session.add(user)
    session.flush()
    audit(session, actor=user, action="user.created", entity="user", entity_id=user.id, role=role.value)
    return user


def register(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role,
    display_name: str,
    phone: str | None,
    locale: str,
    settings: AuthSettings,
) -> User:
    if role not in SELF_SERVICE_ROLES:
        raise InvalidInput(
            "Only producer and partner accounts can be created by sign-up; an administrator creates the others.",
            details={"field": "role"},
        )
    return create_user(
        session,
        email=email,
        password=password,
        role=role,
        display_name=display_name,
        phone=phone,
        locale=locale,
        settings=settings,
    )


def login(session: Session, *, email: str, password: str, kind: str, settings: AuthSettings) -> tuple[User, str]:
    """The user and a new token, or ``NotAuthenticated`` with one message for every failure."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok or not user.is_active:
        raise NotAuthenticated("The e-mail or the password is wrong, or the account is disabled.")
    token, digest = new_token()
    now = datetime.now(UTC)
    session.add(
        AuthToken(
            user_id=user.id,
            token_hash=digest,
            kind=kind,
            created_at=now,
            expires_at=now + timedelta(hours=settings.token_ttl_hours),
        )
    )
    audit(session, actor=user, action="user.login", entity="user", entity_id=user.id, kind=kind)
    return user, token


@lru_cache(maxsize=1)
def _token_and_user() -> Select[Any]:
    return (select(*User.__table__.columns, AuthToken.revoked_at.label("token_revoked_at"),
                   AuthToken.expires_at.label("token_expires_at"))
            .join(AuthToken, AuthToken.user_id == User.id)
            .where(AuthToken.token_hash == bindparam("digest")))


def check_token(session: Session, token: str) -> dict[str, Any]:
    """The columns of the active user ``token`` belongs to, read with its token in one query (every request
    does this, so as a plain row on the session's connection: loading ORM objects cost about three times
    as much);
    ``NotAuthenticated`` when the token is unknown, revoked or expired, or the account disabled."""
    now = datetime.now(UTC)
    found = session.connection().execute(_token_and_user(), {"digest": token_digest(token)}).first()
    if found is None or found.token_revoked_at is not None or found.token_expires_at <= now:
        raise NotAuthenticated("Your session has expired or was signed out. Please log in again.")
    if not found.is_active:
        raise NotAuthenticated("This account is disabled.")
    row = found._mapping
    return {c.key: row[c.key] for c in User.__table__.columns}


def user_in(session: Session, columns: dict[str, Any]) -> User:
    """``columns`` (from ``check_token``) as the persistent ``User`` of ``session``, without a query."""
    known = session.identity_map.get(identity_key(User, columns["id"]))
    if isinstance(known, User):
        return known
    user = User(**columns)
    make_transient_to_detached(user)  # its attributes count as loaded: no UPDATE, no query
    session.add(user)
    return user


def authenticate(session: Session, token: str) -> User:
    """The active user ``token`` belongs to (``check_token``), in ``session``."""
    return user_in(session, check_token(session, token))


def logout(session: Session, token: str) -> None:
    row = session.scalar(select(AuthToken).where(AuthToken.token_hash == token_digest(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        audit(session, actor=session.get(User, row.user_id), action="user.logout", entity="user", entity_id=row.user_id)


def revoke_all(session: Session, user: User) -> int:
    rows = session.scalars(select(AuthToken).where(AuthToken.user_id == user.id, AuthToken.revoked_at.is_(None))).all()
    now = datetime.now(UTC)
    for row in rows:
        row.revoked_at = now
    return len(rows)

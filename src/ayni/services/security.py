"""Password hashing (argon2) and opaque bearer tokens (only their SHA-256 is stored)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ayni.errors import InvalidInput
from ayni.settings import AuthSettings

_HASHER = PasswordHasher()


def hash_password(password: str, *, settings: AuthSettings) -> str:
    check_password_rules(password, min_length=settings.min_password_length)
    hasher = PasswordHasher(time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib)
    return hasher.hash(password)


def check_password_rules(password: str, *, min_length: int) -> None:
    if len(password) < min_length:
        raise InvalidInput(f"The password must have at least {min_length} characters.", details={"field": "password"})
    if len(password) > 256:
        raise InvalidInput("The password must have at most 256 characters.", details={"field": "password"})
    if password.isdigit() or password.isalpha() and password.lower() == password:
        raise InvalidInput(
            "The password must mix letters with digits, capitals or symbols.", details={"field": "password"}
        )


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, str]:
    """A fresh token and the hash to store."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

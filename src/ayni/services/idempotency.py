"""Idempotency keys: a request sent again with the same ``Idempotency-Key`` gets the first answer back.

A client that timed out cannot know whether its listing was created or its collection recorded; it sends
the same request with the same key and gets the original response (same id, same status) instead of a
second row. Keys belong to one user, expire after ``TTL`` (a user's expired keys are deleted when they
store a new one), and only a successful answer is kept (a failed
request wrote nothing, so it may simply be retried). The key row is written in the request's own
transaction: it exists exactly when the change it describes was committed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ayni.errors import Conflict, IdempotencyKeyReused, InvalidInput
from ayni.storage.tables import IdempotencyKey, User

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
HEADER = "Idempotency-Key"


@dataclass(frozen=True, slots=True)
class Stored:
    status_code: int
    body: dict[str, Any]


def digest(*parts: bytes | str) -> str:
    """A fingerprint of the request body (and anything else that makes two requests different)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\x00")
    return h.hexdigest()


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        raise InvalidInput(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters, e.g. a UUID.",
            details={"field": HEADER},
        )
    return key


def previous(session: Session, user: User, *, key: str, request: str, request_hash: str,
             now: datetime | None = None) -> Stored | None:
    """The response stored for this user's ``key``, or ``None`` when the key is new (or expired).
    ``IdempotencyKeyReused`` when the key was used for a different request."""
    now = now or datetime.now(UTC)
    row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user.id,
                                                      IdempotencyKey.key == check_key(key)))
    if row is None:
        return None
    if row.expires_at <= now:
        session.delete(row)
        session.flush()
        return None
    if row.request != request or row.request_hash != request_hash:
        raise IdempotencyKeyReused(
            f"This {HEADER} was already used for a different request ({row.request} with another body); "
            "use a new key for a new request.",
            details={"field": HEADER},
        )
    return Stored(row.status_code, dict(row.response))


def remember(session: Session, user: User, *, key: str, request: str, request_hash: str, status_code: int,
             body: dict[str, Any], now: datetime | None = None) -> None:
    """Keep the response with the key, in the caller's transaction (and drop the user's expired keys)."""
    now = now or datetime.now(UTC)
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.user_id == user.id, IdempotencyKey.expires_at <= now))
    session.add(IdempotencyKey(user_id=user.id, key=check_key(key), request=request, request_hash=request_hash,
                               status_code=status_code, response=body, created_at=now, expires_at=now + TTL))
    try:
        session.flush()
    except IntegrityError as exc:  # the same key, committed by a concurrent request meanwhile
        raise Conflict(
            f"Another request with this {HEADER} finished while this one ran; nothing was changed by this one. "
            "Send it again to get that request's response.",
            details={"field": HEADER},
        ) from exc


"""The ``Idempotency-Key`` header for the routes that create or pay: replay the stored answer, or keep it.

    once = Once.start(session, user, request, key, body.model_dump_json())
    if once.replay is not None:
        return once.replay
    ...
    return once.keep(public, status=201)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from ayni.services import idempotency
from ayni.storage.tables import User

M = TypeVar("M", bound=BaseModel)

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=idempotency.HEADER,
        max_length=idempotency.MAX_KEY_LENGTH,
        description="Any unique string (a UUID). Sending the same request again with the same key returns the "
        "first response instead of doing it twice; the same key with a different request answers 422. Kept 24 h, "
        "per user.",
    ),
]


@dataclass(frozen=True, slots=True)
class Once:
    session: Session
    user: User
    key: str | None
    request: str
    request_hash: str
    replay: JSONResponse | None

    @classmethod
    def start(cls, session: Session, user: User, request: Request, key: str | None, *payload: bytes | str) -> Once:
        """Look the key up; ``replay`` is the stored response when this request was already done."""
        name = f"{request.method} {request.url.path}"
        fingerprint = idempotency.digest(*payload)
        replay = None
        if key is not None:
            stored = idempotency.previous(session, user, key=key, request=name, request_hash=fingerprint)
            if stored is not None:
                replay = JSONResponse(stored.body, status_code=stored.status_code,
                                      headers={"Idempotent-Replayed": "true"})
        return cls(session, user, key, name, fingerprint, replay)

    def keep(self, response: M, *, status: int = 200) -> M:
        """Store ``response`` under the key (when one was sent) and return it."""
        if self.key is not None:
            idempotency.remember(self.session, self.user, key=self.key, request=self.request,
                                 request_hash=self.request_hash, status_code=status,
                                 body=response.model_dump(mode="json"))
        return response

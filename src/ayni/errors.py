"""One error tree for the whole package.

Domain, services and ML code raise these; ``http_status`` is the one map from an error to its HTTP status,
which the API (``ayni.api.errors``, problem+json) and the web pages (``ayni.web._render``) both use. Each
carries a message a person can understand.
"""

from __future__ import annotations

from typing import Any


class AyniError(Exception):
    """Base of every error Ayni raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInput(AyniError):
    """The request is well-formed but its content is not acceptable (422)."""

    code = "invalid_input"


class NotFound(AyniError):
    """The thing asked for does not exist, or the caller may not know it exists (404)."""

    code = "not_found"


class NotAuthenticated(AyniError):
    """No valid credentials were given (401)."""

    code = "not_authenticated"


class PermissionDenied(AyniError):
    """The caller is known but may not do this (403)."""

    code = "permission_denied"


class Conflict(AyniError):
    """The request clashes with the current state, e.g. an invalid state transition (409)."""

    code = "conflict"


class PayloadTooLarge(AyniError):
    """An upload is larger than allowed (413)."""

    code = "payload_too_large"


class UnsupportedMediaType(AyniError):
    """An upload is not of an accepted type (415)."""

    code = "unsupported_media_type"


class TooManyRequests(AyniError):
    """The caller must slow down (429)."""

    code = "too_many_requests"


class ModelUnavailable(AyniError):
    """A model needed to answer is not loaded or cannot be used (503)."""

    code = "model_unavailable"


class ServiceUnavailable(AyniError):
    """A dependency (database, registry) is not reachable right now (503)."""

    code = "service_unavailable"


class InsufficientStorage(AyniError):
    """The server has no room left to store an upload (507); nothing was written."""

    code = "insufficient_storage"


class IdempotencyKeyReused(InvalidInput):
    """An ``Idempotency-Key`` was sent again with a different request (422)."""

    code = "idempotency_key_reused"


class DataValidationError(AyniError):
    """A batch of input data failed validation; ``details`` holds the report."""

    code = "data_validation"


STATUS: dict[type[AyniError], int] = {
    InvalidInput: 422,
    DataValidationError: 422,
    NotFound: 404,
    NotAuthenticated: 401,
    PermissionDenied: 403,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    TooManyRequests: 429,
    ModelUnavailable: 503,
    ServiceUnavailable: 503,
    InsufficientStorage: 507,
}


def http_status(exc: AyniError) -> int:
    """The HTTP status of ``exc``: its nearest class in ``STATUS``, else 400."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]  # type: ignore[index]
    return 400

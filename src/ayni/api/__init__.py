"""HTTP API v1 (FastAPI)."""

from ayni.api.app import create_app

__all__ = ["create_app"]

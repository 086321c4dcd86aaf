"""Answers serialised inside the endpoint, for the hottest ``def`` routes.

A ``def`` endpoint that returns a model makes FastAPI validate it again in one more trip through the thread
pool before serialising it; under load each trip costs the event loop a wait for the GIL. These routes build
their (already validated) shapes and serialise them here instead, with the same serializer FastAPI uses
(pydantic's ``dump_json``, by alias), so the bytes are the same; the route still declares its
``response_model`` for the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import BaseModel, TypeAdapter


def json_response(value: BaseModel, *, status_code: int = 200) -> Response:
    return Response(value.model_dump_json(by_alias=True), status_code=status_code, media_type="application/json")


def json_list_response(adapter: TypeAdapter[list[Any]], value: list[Any]) -> Response:
    return Response(adapter.dump_json(value, by_alias=True), media_type="application/json")

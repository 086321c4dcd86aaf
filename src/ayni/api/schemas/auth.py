from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from ayni.api.schemas.common import ORM


class UserCreate(BaseModel):
    email: str = Field(max_length=254, examples=["rosa@example.pe"])
    password: str = Field(max_length=256)
    role: Literal["producer", "partner"]
    display_name: str = Field(min_length=1, max_length=120)
    phone: str | None = Field(default=None, max_length=32)
    locale: Literal["es", "en"] = "es"


class AdminUserCreate(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=256)
    role: Literal["producer", "partner", "admin", "analyst"]
    display_name: str = Field(min_length=1, max_length=120)
    phone: str | None = Field(default=None, max_length=32)


class UserUpdate(BaseModel):
    is_active: bool | None = None
    role: Literal["producer", "partner", "admin", "analyst"] | None = None


class LoginRequest(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=256)


class UserPublic(ORM):
    id: int
    email: str
    role: str
    display_name: str
    locale: str
    is_active: bool
    created_at: datetime


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    user: UserPublic

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field


class WeeklySupplyPublic(BaseModel):
    week_start: date
    kg: float
    kg_low: float
    kg_high: float


class ForecastPublic(BaseModel):
    district: str
    material: str
    capture_rate: float
    interval: str
    weeks: list[WeeklySupplyPublic]
    method: str
    model_version: int | None = Field(None, description="the registry's forecaster version; null: the model "
                                                         "fitted by this server from MINAM's tables")

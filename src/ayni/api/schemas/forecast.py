from __future__ import annotations

from datetime import date

from pydantic import BaseModel


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

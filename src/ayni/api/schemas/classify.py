from __future__ import annotations

from pydantic import BaseModel


class ClassProbability(BaseModel):
    material: str
    probability: float


class ClassificationPublic(BaseModel):
    material: str
    name_es: str
    name_en: str
    confidence: float
    top3: list[ClassProbability]
    abstained: bool
    verdict: str
    advice_es: str
    advice_en: str
    typical_value_cents_per_kg: int | None
    typical_value_note: str
    model_version: str

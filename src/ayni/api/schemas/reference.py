from __future__ import annotations

from pydantic import BaseModel

from ayni.api.schemas.common import ORM


class DistrictPublic(ORM):
    ubigeo: str
    departamento: str
    provincia: str
    distrito: str
    region_natural: str | None
    latitude: float | None
    longitude: float | None
    pop_total: int | None
    pop_urban: int | None


class MaterialPublic(BaseModel):
    code: str
    name_es: str
    name_en: str
    parent: str | None
    verdict: str
    market: str
    advice_es: str
    advice_en: str

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from ayni.api.deps import ReferenceCacheDep, SessionDep, run_db
from ayni.api.schemas.common import Page
from ayni.api.schemas.reference import DistrictPublic, MaterialPublic
from ayni.domain.materials import MATERIALS, get_material
from ayni.services import reference

router = APIRouter(tags=["reference"])


@router.get("/districts", response_model=Page[DistrictPublic])
async def list_districts(
    session: SessionDep,
    cache: ReferenceCacheDep,
    q: str | None = Query(None, max_length=80),
    departamento: str | None = None,
    provincia: str | None = None,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
) -> Response:
    def search() -> bytes:  # reference data: the answer is kept a minute per process (``ReferenceCache``)
        page = reference.search_districts(
            session, q=q, departamento=departamento, provincia=provincia, limit=limit, offset=offset
        )
        return Page[DistrictPublic](
            items=[DistrictPublic.model_validate(d) for d in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        ).model_dump_json(by_alias=True).encode()

    body = await run_db(session, lambda: cache.get(("districts", q, departamento, provincia, limit, offset), search))
    return Response(body, media_type="application/json")


@router.get("/districts/{ubigeo}")
def get_district(ubigeo: str, session: SessionDep) -> DistrictPublic:
    return DistrictPublic.model_validate(reference.get_district(session, ubigeo))


def _material(code: str) -> MaterialPublic:
    m = get_material(code)
    return MaterialPublic(
        code=m.code,
        name_es=m.name_es,
        name_en=m.name_en,
        parent=m.parent,
        verdict=m.verdict.value,
        market=m.market,
        advice_es=m.advice_es,
        advice_en=m.advice_en,
    )


@router.get("/materials")
def list_materials(limit: int = Query(100, ge=1, le=200), offset: int = Query(0, ge=0)) -> Page[MaterialPublic]:
    codes = list(MATERIALS)
    return Page[MaterialPublic](
        items=[_material(c) for c in codes[offset : offset + limit]], total=len(codes), limit=limit, offset=offset
    )


@router.get("/materials/{code}")
def get_material_route(code: str) -> MaterialPublic:
    return _material(code)

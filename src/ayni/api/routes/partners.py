from __future__ import annotations

from fastapi import APIRouter, Query, status

from ayni.api.deps import CatalogDep, CurrentUser, SessionDep
from ayni.api.schemas.common import Page
from ayni.api.schemas.profiles import MaterialOfferIn, PartnerCreate, PartnerPublic, PartnerUpdate
from ayni.services import profiles

router = APIRouter(prefix="/partners", tags=["partners"])


def _offers(items: list[MaterialOfferIn] | None) -> list[profiles.MaterialOffer] | None:
    if items is None:
        return None
    return [
        profiles.MaterialOffer(
            material=m.material,
            price_cents_per_kg=m.price_cents_per_kg,
            min_kg=m.min_kg,
            weekly_capacity_kg=m.weekly_capacity_kg,
        )
        for m in items
    ]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_partner(body: PartnerCreate, user: CurrentUser, session: SessionDep, catalog: CatalogDep) -> PartnerPublic:
    partner = profiles.create_partner(
        session,
        user,
        name=body.name,
        kind=body.kind,
        ubigeo=body.ubigeo,
        lat=body.latitude,
        lon=body.longitude,
        service_radius_km=body.service_radius_km,
        pickup_days=body.pickup_days,
        materials=_offers(body.materials) or [],
        description=body.description,
    )
    catalog.invalidate()
    return PartnerPublic.model_validate(partner)


@router.get("/me")
def my_partner(user: CurrentUser, session: SessionDep) -> PartnerPublic:
    return PartnerPublic.model_validate(profiles.my_partner(session, user))


@router.patch("/me")
def update_partner(body: PartnerUpdate, user: CurrentUser, session: SessionDep, catalog: CatalogDep) -> PartnerPublic:
    partner = profiles.update_partner(
        session,
        user,
        name=body.name,
        ubigeo=body.ubigeo,
        lat=body.latitude,
        lon=body.longitude,
        service_radius_km=body.service_radius_km,
        pickup_days=body.pickup_days,
        materials=_offers(body.materials),
        description=body.description,
    )
    catalog.invalidate()
    return PartnerPublic.model_validate(partner)


@router.get("")
def list_partners(
    user: CurrentUser,
    session: SessionDep,
    material: str | None = None,
    ubigeo: str | None = None,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0),
) -> Page[PartnerPublic]:
    page = profiles.list_partners(session, material=material, ubigeo=ubigeo, limit=limit, offset=offset)
    return Page[PartnerPublic](
        items=[PartnerPublic.model_validate(p) for p in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{partner_id}")
def get_partner(partner_id: int, user: CurrentUser, session: SessionDep) -> PartnerPublic:
    return PartnerPublic.model_validate(profiles.get_partner(session, partner_id))

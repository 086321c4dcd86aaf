from __future__ import annotations

from fastapi import APIRouter, status

from ayni.api.deps import CurrentUser, SessionDep
from ayni.api.schemas.profiles import ProducerCreate, ProducerPrivate, ProducerPublic, ProducerUpdate
from ayni.domain.lifecycle import Role
from ayni.services import profiles
from ayni.services._common import require_role

router = APIRouter(prefix="/producers", tags=["producers"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_producer(body: ProducerCreate, user: CurrentUser, session: SessionDep) -> ProducerPrivate:
    producer = profiles.create_producer(
        session,
        user,
        name=body.name,
        kind=body.kind,
        ubigeo=body.ubigeo,
        lat=body.latitude,
        lon=body.longitude,
        address=body.address,
    )
    return ProducerPrivate.model_validate(producer)


@router.get("/me")
def my_producer(user: CurrentUser, session: SessionDep) -> ProducerPrivate:
    return ProducerPrivate.model_validate(profiles.my_producer(session, user))


@router.patch("/me")
def update_producer(body: ProducerUpdate, user: CurrentUser, session: SessionDep) -> ProducerPrivate:
    producer = profiles.update_producer(
        session,
        user,
        name=body.name,
        kind=body.kind,
        ubigeo=body.ubigeo,
        lat=body.latitude,
        lon=body.longitude,
        address=body.address,
    )
    return ProducerPrivate.model_validate(producer)


@router.get("/{producer_id}")
def get_producer(producer_id: int, user: CurrentUser, session: SessionDep) -> ProducerPublic:
    """Admins and analysts only; others see a producer through their listings and matches."""
    require_role(user, Role.ADMIN, Role.ANALYST)
    return ProducerPublic.model_validate(profiles.get_producer(session, producer_id))

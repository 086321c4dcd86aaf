"""50 parallel accepts against a partner with capacity for 10: exactly 10 succeed, the rest get 409."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from ayni.domain.lifecycle import PartnerKind, ProducerKind, Role
from ayni.errors import Conflict
from ayni.services import listings, matches
from ayni.services.auth import create_user
from ayni.services.profiles import MaterialOffer, create_partner, create_producer
from ayni.storage.engine import make_engine, make_session_factory, transaction
from ayni.storage.migrate import upgrade
from ayni.storage.tables import CapacityReservation, District, Match
from tests.integration.conftest import FAST_AUTH, fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url, drop = fresh_database(request.param, tmp_path)
    upgrade(url)
    engine = make_engine(url, pool_size=20)
    yield engine
    engine.dispose()
    drop()


def test_fifty_parallel_accepts_never_overbook(committed_engine: Engine) -> None:
    factory = make_session_factory(committed_engine)
    now = datetime.now(UTC)
    with transaction(factory) as s:
        s.add(
            District(
                ubigeo="140101",
                departamento="LAMBAYEQUE",
                provincia="CHICLAYO",
                distrito="CHICLAYO",
                latitude=-6.77,
                longitude=-79.84,
                pop_total=1,
                pop_urban=1,
            )
        )
        s.flush()
        partner_user = create_user(
            s, email="p@example.pe", password="Partner-pass-1", role=Role.PARTNER, display_name="P", settings=FAST_AUTH
        )
        partner = create_partner(
            s,
            partner_user,
            name="P",
            kind=PartnerKind.RECYCLER,
            ubigeo="140101",
            lat=None,
            lon=None,
            service_radius_km=20,
            pickup_days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            materials=[
                MaterialOffer(
                    material="PET", price_cents_per_kg=100, min_kg=Decimal(0), weekly_capacity_kg=Decimal(100)
                )
            ],
        )
        producer_user = create_user(
            s,
            email="q@example.pe",
            password="Producer-pass-1",
            role=Role.PRODUCER,
            display_name="Q",
            settings=FAST_AUTH,
        )
        create_producer(
            s, producer_user, name="Q", kind=ProducerKind.MARKET, ubigeo="140101", lat=None, lon=None, address=None
        )
        match_ids = []
        for _ in range(50):
            listing = listings.create_listing(
                s,
                producer_user,
                material="PET",
                estimated_kg=Decimal(10),
                available_from=now,
                available_until=now + timedelta(days=2),
            )
            match_ids.append(matches.request_pickup(s, producer_user, listing.id, partner_id=partner.id).id)
    day = now.date() + timedelta(days=1)

    def accept(match_id: int) -> str:
        try:
            with transaction(factory) as s:
                matches.accept(s, partner_user, match_id, pickup_date=day)
            return "ok"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(accept, match_ids))
    assert outcomes.count("ok") == 10
    assert outcomes.count("conflict") == 40
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Match).where(Match.status == "accepted")) == 10
        assert s.scalar(select(func.sum(CapacityReservation.reserved_kg))) == Decimal(100)

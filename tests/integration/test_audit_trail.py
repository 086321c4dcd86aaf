"""Every state change writes an audit event: each write request of the API is watched at the SQL level, and
any INSERT, UPDATE or DELETE must come with an INSERT INTO audit_events in the same request."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event, select
from sqlalchemy.orm import Session, sessionmaker

from ayni.services import listings
from ayni.storage.tables import AuditEvent
from tests.integration.conftest import Actor, Factory

pytestmark = pytest.mark.integration
WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)
NOT_STATE = {"audit_events", "idempotency_keys"}


class Writes:
    def __init__(self) -> None:
        self.tables: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        found = WRITE.match(statement)
        if found:
            self.tables.append(found.group(1).lower())


@pytest.fixture
def writes(db_connection: Connection) -> Iterator[Writes]:
    recorder = Writes()
    event.listen(db_connection, "before_cursor_execute", recorder)
    yield recorder
    event.remove(db_connection, "before_cursor_execute", recorder)


def _audited(writes: Writes, step: str, call: Callable[[], Any]) -> Any:
    writes.tables.clear()
    r = call()
    assert getattr(r, "status_code", 200) < 400, f"{step}: {r.status_code} {r.text}"
    changed = set(writes.tables) - NOT_STATE
    assert not changed or "audit_events" in writes.tables, f"{step} changed {sorted(changed)} without an audit event"
    return r


def test_every_write_request_of_the_api_is_audited(make: Factory, writes: Writes) -> None:
    admin = make.user("admin")
    producer, partner, other = make.producer(), make.partner(), make.partner()
    now = datetime.now(UTC)
    body = {"material": "PET", "estimated_kg": "12", "available_until": (now + timedelta(days=5)).isoformat()}
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("update producer", lambda: producer.patch("/v1/producers/me", json={"address": "Av. Grau 1"})),
        ("update partner", lambda: partner.patch("/v1/partners/me", json={"service_radius_km": 20})),
    ]
    for step, call in steps:
        _audited(writes, step, call)
    listing = _audited(writes, "create listing", lambda: producer.post("/v1/listings", json=body)).json()
    lid = listing["id"]
    _audited(writes, "update listing", lambda: producer.patch(f"/v1/listings/{lid}", json={"estimated_kg": "13"}))
    ask = lambda who: producer.post(f"/v1/listings/{lid}/pickup-requests", json={"partner_id": who.profile_id})  # noqa: E731
    first = _audited(writes, "request pickup", lambda: ask(partner)).json()
    second = _audited(writes, "request pickup", lambda: ask(other)).json()
    _audited(writes, "decline", lambda: other.post(f"/v1/matches/{second['id']}/decline", json={"reason": "far"}))
    _audited(writes, "accept", lambda: partner.post(f"/v1/matches/{first['id']}/accept"))
    _audited(writes, "collect", lambda: partner.post(f"/v1/matches/{first['id']}/collect", json={"weighed_kg": "12"}))
    _audited(writes, "close listing", lambda: producer.post(f"/v1/listings/{lid}/close"))
    cancelled = make.listing(producer)
    _, match = make.match(producer, other)
    _audited(writes, "cancel match", lambda: producer.post(f"/v1/matches/{match['id']}/cancel"))
    _audited(writes, "cancel listing", lambda: producer.post(f"/v1/listings/{cancelled['id']}/cancel"))
    _audited(writes, "admin disables a user",
             lambda: admin.patch(f"/v1/admin/users/{other.user_id}", json={"is_active": False}))
    make.listing(producer)
    _audited(writes, "allocation applied", lambda: admin.post("/v1/allocations", json={"region": "1401", "apply": True}))
    _audited(writes, "log out", lambda: producer.post("/v1/auth/logout"))


def _actions(factory: sessionmaker[Session], entity: str, entity_id: int) -> list[str]:
    with factory() as s:
        return list(s.scalars(select(AuditEvent.action).where(AuditEvent.entity == entity,
                                                              AuditEvent.entity_id == entity_id)))


def test_matches_cancelled_as_a_side_effect_are_audited_each(make: Factory) -> None:
    producer, a, b, c = make.producer(), make.partner(), make.partner(), make.partner()
    listing, first = make.match(producer, a)
    second = producer.post(f"/v1/listings/{listing['id']}/pickup-requests", json={"partner_id": b.profile_id}).json()
    assert a.post(f"/v1/matches/{first['id']}/accept").status_code == 200
    assert _actions(make.session_factory, "match", second["id"]) == ["match.requested", "match.cancelled"]
    other, third = make.match(producer, c)
    assert producer.post(f"/v1/listings/{other['id']}/cancel").status_code == 200
    assert _actions(make.session_factory, "match", third["id"]) == ["match.requested", "match.cancelled"]


def test_expired_listings_are_audited(make: Factory, writes: Writes) -> None:
    producer: Actor = make.producer()
    listing = make.listing(producer, days=1)
    with make.session_factory() as s, s.begin():
        assert listings.expire_listings(s, now=datetime.now(UTC) + timedelta(days=2)) == 1
    assert "listing.expired" in _actions(make.session_factory, "listing", listing["id"])

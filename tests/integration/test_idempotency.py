"""``Idempotency-Key`` on listing creation, photo upload, accept and collect: a retry gets the first answer,
never a second row; the same key with another body is refused; keys belong to one user and expire."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, func, select, update

from ayni.api import create_app
from ayni.errors import Conflict
from ayni.services import idempotency
from ayni.settings import Settings
from ayni.storage.engine import make_engine, make_session_factory, transaction
from ayni.storage.migrate import upgrade
from ayni.storage.tables import AuditEvent, Feedback, IdempotencyKey, Listing, Match, User
from tests.integration.conftest import Actor, Factory, _seed_districts, fresh_database

pytestmark = pytest.mark.integration


def _body(kg: str = "12.5") -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"material": "PET", "estimated_kg": kg, "available_from": now.isoformat(),
            "available_until": (now + timedelta(days=5)).isoformat()}


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _count_listings(producer: Actor) -> int:
    return int(producer.get("/v1/listings").json()["total"])


def test_a_retried_listing_returns_the_first_one_and_creates_no_second_row(make: Factory) -> None:
    producer = make.producer()
    key, body = _key(), _body()
    first = producer.post("/v1/listings", json=body, headers=key)
    again = producer.post("/v1/listings", json=body, headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert _count_listings(producer) == 1


def test_without_a_key_each_post_creates_a_listing(make: Factory) -> None:
    producer = make.producer()
    body = _body()
    ids = {producer.post("/v1/listings", json=body).json()["id"] for _ in range(2)}
    assert len(ids) == 2


def test_the_same_key_with_a_different_body_is_refused_clearly(make: Factory) -> None:
    producer = make.producer()
    key = _key()
    assert producer.post("/v1/listings", json=_body("12.5"), headers=key).status_code == 201
    r = producer.post("/v1/listings", json=_body("99"), headers=key)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["code"] == "idempotency_key_reused" and problem["field"] == "Idempotency-Key"
    assert "different request" in problem["detail"]
    assert _count_listings(producer) == 1


def test_a_key_reused_on_another_operation_is_refused(make: Factory) -> None:
    producer = make.producer()
    key = _key()
    listing = producer.post("/v1/listings", json=_body(), headers=key).json()
    r = producer.put(f"/v1/listings/{listing['id']}/photo", files={"file": ("p.jpg", _photo(), "image/jpeg")},
                     headers=key)
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_reused"
    assert "POST /v1/listings" in r.json()["detail"]


def test_keys_belong_to_one_user(make: Factory) -> None:
    a, b = make.producer(), make.producer()
    key, body = _key(), _body()
    first = a.post("/v1/listings", json=body, headers=key).json()
    second = b.post("/v1/listings", json=body, headers=key)
    assert second.status_code == 201 and second.json()["id"] != first["id"]
    assert "Idempotent-Replayed" not in second.headers


def test_a_failed_request_keeps_no_key_so_it_can_be_retried(make: Factory) -> None:
    producer = make.producer()
    key = _key()
    bad = {**_body(), "material": "no-such-material"}
    assert producer.post("/v1/listings", json=bad, headers=key).status_code == 422
    assert producer.post("/v1/listings", json=_body(), headers=key).status_code == 201


def test_an_expired_key_is_forgotten(make: Factory) -> None:
    producer = make.producer()
    key, body = _key(), _body()
    first = producer.post("/v1/listings", json=body, headers=key).json()
    with make.session_factory() as s, s.begin():
        s.execute(update(IdempotencyKey).where(IdempotencyKey.key == key["Idempotency-Key"])
                  .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    again = producer.post("/v1/listings", json=body, headers=key)
    assert again.status_code == 201 and again.json()["id"] != first["id"]
    with make.session_factory() as s:
        rows = s.scalars(select(IdempotencyKey).where(IdempotencyKey.key == key["Idempotency-Key"])).all()
        assert len(rows) == 1 and rows[0].expires_at > datetime.now(UTC) + timedelta(hours=23)


def test_a_key_that_is_not_printable_ascii_is_refused(make: Factory) -> None:
    producer = make.producer()
    r = producer.post("/v1/listings", json=_body(), headers={"Idempotency-Key": "x" * 256})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert _count_listings(producer) == 0


def test_accept_and_collect_retried_with_their_keys_happen_once(make: Factory) -> None:
    producer, partner = make.producer(), make.partner()
    _, match = make.match(producer, partner)
    accept_key, collect_key = _key(), _key()
    accepted = [partner.post(f"/v1/matches/{match['id']}/accept", headers=accept_key) for _ in range(2)]
    assert [r.status_code for r in accepted] == [200, 200] and accepted[0].json() == accepted[1].json()
    body = {"weighed_kg": "11.2", "paid_cents": 896}
    collected = [partner.post(f"/v1/matches/{match['id']}/collect", json=body, headers=collect_key) for _ in range(2)]
    assert [r.status_code for r in collected] == [200, 200], collected[1].text
    assert collected[1].json() == collected[0].json() and collected[1].json()["paid_cents"] == 896
    assert partner.post(f"/v1/matches/{match['id']}/collect", json=body).status_code == 409  # no key: refused
    with make.session_factory() as s:
        events = s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "match",
                                                           AuditEvent.entity_id == match["id"])).all()
        outcomes = s.scalar(select(func.count()).select_from(Feedback).where(Feedback.match_id == match["id"]))
    assert events.count("match.accepted") == 1 and events.count("match.collected") == 1
    assert outcomes == 1


def test_a_retried_pickup_request_creates_one_match(make: Factory) -> None:
    producer, partner = make.producer(), make.partner()
    listing = make.listing(producer)
    key = _key()
    body = {"partner_id": partner.profile_id}
    sent = [producer.post(f"/v1/listings/{listing['id']}/pickup-requests", json=body, headers=key) for _ in range(2)]
    assert [r.status_code for r in sent] == [201, 201], sent[1].text
    assert sent[0].json() == sent[1].json()
    with make.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Match).where(Match.listing_id == listing["id"])) == 1
    again = producer.post(f"/v1/listings/{listing['id']}/pickup-requests", json=body)  # no key: a new request
    assert again.status_code == 409, again.text


def _photo() -> bytes:
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, size=(120, 160, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def test_a_retried_photo_upload_stores_one_file(make: Factory, app_settings: Settings) -> None:
    producer = make.producer()
    listing = make.listing(producer)
    key, photo = _key(), _photo()
    answers = [producer.put(f"/v1/listings/{listing['id']}/photo", files={"file": ("p.jpg", photo, "image/jpeg")},
                            headers=key) for _ in range(2)]
    assert [r.status_code for r in answers] == [200, 200] and answers[0].json() == answers[1].json()
    assert len(list(app_settings.media_path.rglob("*.jpg"))) == 1


# --- concurrent retries, with real commits --------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_app(request: pytest.FixtureRequest, tmp_path: Path, app_settings: Settings) -> Iterator[TestClient]:
    url, drop = fresh_database(request.param, tmp_path)
    upgrade(url)
    engine: Engine = make_engine(url, pool_size=10)
    with engine.begin() as conn:
        _seed_districts(conn)
    app = create_app(app_settings, engine=engine, session_factory=make_session_factory(engine), classifier=None)
    try:
        with TestClient(app) as client:
            yield client
    finally:
        engine.dispose()
        drop()


def test_parallel_retries_with_one_key_create_exactly_one_listing(committed_app: TestClient) -> None:
    make = Factory(committed_app, make_session_factory(committed_app.app.state.engine))  # type: ignore[attr-defined]
    producer = make.producer()
    key, body = _key(), _body()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: producer.post("/v1/listings", json=body, headers=key), range(8)))
    codes = sorted(r.status_code for r in answers)
    assert set(codes) <= {201, 409}, [r.text for r in answers]
    created = {r.json()["id"] for r in answers if r.status_code == 201}
    assert len(created) == 1, created
    with transaction(make.session_factory) as s:
        assert s.scalar(select(func.count()).select_from(Listing)) == 1
    retry = producer.post("/v1/listings", json=body, headers=key)  # a 409 told the loser to send it again
    assert retry.status_code == 201 and retry.json()["id"] in created


def test_a_key_committed_by_a_concurrent_request_rolls_the_other_back_with_409(tmp_path: Path) -> None:
    """PostgreSQL: two transactions store the same key; the second waits on the unique index, then is refused."""
    url, drop = fresh_database("postgresql", tmp_path)
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        with transaction(factory) as s:
            user = User(email="k@example.pe", password_hash="x", role="producer", display_name="K")
            s.add(user)
        first, second = factory(), factory()
        first.begin()
        idempotency.remember(first, first.get(User, user.id), key="k1", request="POST /v1/listings",
                             request_hash="h", status_code=201, body={"id": 1})
        outcome: list[BaseException | None] = []

        def other() -> None:
            with second.begin():
                try:
                    idempotency.remember(second, second.get(User, user.id), key="k1", request="POST /v1/listings",
                                         request_hash="h", status_code=201, body={"id": 2})
                    outcome.append(None)
                except Conflict as exc:
                    outcome.append(exc)
                    raise

        with ThreadPoolExecutor(max_workers=1) as pool:
            waiting = pool.submit(other)
            time.sleep(0.5)  # the second one is now blocked on the unique index
            first.commit()
            with pytest.raises(Conflict):
                waiting.result(timeout=30)
        assert isinstance(outcome[0], Conflict) and "send it again" in outcome[0].message.lower()
        with transaction(factory) as s:
            assert s.scalars(select(IdempotencyKey.response)).all() == [{"id": 1}]
        first.close()
        second.close()
    finally:
        engine.dispose()
        drop()

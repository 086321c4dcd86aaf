"""Integration fixtures: real databases (SQLite and PostgreSQL), migrations run once per session, and each
test inside a transaction that is rolled back at the end."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from ayni.api import create_app
from ayni.settings import AuthSettings, Settings
from ayni.storage.engine import make_engine
from ayni.storage.migrate import upgrade
from ayni.storage.tables import District

PG_ADMIN_URL = os.environ.get("AYNI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "Test-password-1"
FAST_AUTH = AuthSettings(min_password_length=10, argon2_time_cost=1, argon2_memory_kib=1024)


def _pg_available() -> bool:
    try:
        eng = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with eng.connect():
            pass
        eng.dispose()
        return True
    except Exception:  # noqa: BLE001
        return False


def create_pg_database(prefix: str) -> tuple[str, Any]:
    """A fresh PostgreSQL database; returns its URL and a function that drops it."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def fresh_database(kind: str, tmp_dir: Path) -> tuple[str, Any]:
    if kind == "sqlite":
        return f"sqlite:///{tmp_dir / f'ayni-{uuid.uuid4().hex[:6]}.db'}", lambda: None
    if not _pg_available():
        if os.environ.get("AYNI_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required here but not reachable at {PG_ADMIN_URL}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    return create_pg_database("ayni_test")


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url, drop = fresh_database(request.param, tmp_path_factory.mktemp("db"))
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        _seed_districts(conn)
    yield engine
    engine.dispose()
    drop()


DISTRICTS = [
    ("140101", "LAMBAYEQUE", "CHICLAYO", "CHICLAYO", -6.7714, -79.8409, 300000, 290000),
    ("140105", "LAMBAYEQUE", "CHICLAYO", "JOSE LEONARDO ORTIZ", -6.7536, -79.8372, 200000, 200000),
    ("140106", "LAMBAYEQUE", "CHICLAYO", "LA VICTORIA", -6.7906, -79.8433, 90000, 90000),
    ("150101", "LIMA", "LIMA", "LIMA", -12.0464, -77.0306, 270000, 270000),
]


def _seed_districts(conn: Connection) -> None:
    conn.execute(
        District.__table__.insert(),
        [  # type: ignore[attr-defined]
            {
                "ubigeo": u,
                "departamento": d,
                "provincia": p,
                "distrito": n,
                "latitude": la,
                "longitude": lo,
                "pop_total": pt,
                "pop_urban": pu,
                "in_minam_2023": True,
            }
            for u, d, p, n, la, lo, pt, pu in DISTRICTS
        ],
    )


@pytest.fixture
def db_connection(db_engine: Engine) -> Iterator[Connection]:
    conn = db_engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def session_factory(db_connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(
        bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False, autoflush=False
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path / "var", data_dir=tmp_path / "data", log_json=False, auth=FAST_AUTH)


@pytest.fixture
def client(db_engine: Engine, session_factory: sessionmaker[Session], app_settings: Settings) -> Iterator[TestClient]:
    app = create_app(app_settings, engine=db_engine, session_factory=session_factory, classifier=None)
    with TestClient(app) as c:
        yield c


@dataclass
class Actor:
    """A signed-in user and helpers to call the API as them."""

    client: TestClient
    token: str
    user_id: int
    email: str
    profile_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def patch(self, url: str, **kw: Any) -> Any:
        return self.client.patch(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def put(self, url: str, **kw: Any) -> Any:
        return self.client.put(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)


def login(client: TestClient, email: str) -> tuple[str, int]:
    r = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    return body["access_token"], body["user"]["id"]


class Factory:
    """Creates users, profiles and listings through the real API with sensible defaults."""

    def __init__(self, client: TestClient, session_factory: sessionmaker[Session]) -> None:
        self.client = client
        self.session_factory = session_factory
        self.n = 0

    def _email(self, role: str) -> str:
        self.n += 1
        return f"{role}{self.n}-{uuid.uuid4().hex[:6]}@example.pe"

    def user(self, role: str) -> Actor:
        email = self._email(role)
        if role in ("producer", "partner"):
            r = self.client.post(
                "/v1/auth/register",
                json={
                    "email": email,
                    "password": PASSWORD,
                    "role": role,
                    "display_name": f"Test {role}",
                    "phone": "+51 999 111 222",
                },
            )
            assert r.status_code == 201, r.text
        else:
            from ayni.domain.lifecycle import Role
            from ayni.services.auth import create_user

            with self.session_factory() as s, s.begin():
                create_user(
                    s, email=email, password=PASSWORD, role=Role(role), display_name=f"Test {role}", settings=FAST_AUTH
                )
        token, uid = login(self.client, email)
        return Actor(self.client, token, uid, email)

    def producer(self, *, ubigeo: str = "140101", lat: float | None = -6.77, lon: float | None = -79.84) -> Actor:
        actor = self.user("producer")
        r = actor.post(
            "/v1/producers",
            json={
                "name": "Bodega Rosa",
                "kind": "bodega",
                "ubigeo": ubigeo,
                "latitude": lat,
                "longitude": lon,
                "address": "Av. Balta 123",
            },
        )
        assert r.status_code == 201, r.text
        actor.profile_id = r.json()["id"]
        return actor

    def partner(
        self, *, materials: list[dict[str, Any]] | None = None, days: list[str] | None = None, radius: float = 15.0
    ) -> Actor:
        actor = self.user("partner")
        mats = materials or [
            {"material": "plastic", "price_cents_per_kg": 80, "min_kg": "1", "weekly_capacity_kg": "500"},
            {"material": "cardboard", "price_cents_per_kg": 30, "min_kg": "0", "weekly_capacity_kg": "1000"},
        ]
        r = actor.post(
            "/v1/partners",
            json={
                "name": "Recicla Chiclayo",
                "kind": "recycler",
                "ubigeo": "140101",
                "latitude": -6.78,
                "longitude": -79.85,
                "service_radius_km": radius,
                "pickup_days": days or ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "materials": mats,
            },
        )
        assert r.status_code == 201, r.text
        actor.profile_id = r.json()["id"]
        return actor

    def listing(self, producer: Actor, *, material: str = "PET", kg: str = "12.5", days: int = 10) -> dict[str, Any]:
        now = datetime.now(UTC)
        r = producer.post(
            "/v1/listings",
            json={
                "material": material,
                "estimated_kg": kg,
                "available_from": now.isoformat(),
                "available_until": (now + timedelta(days=days)).isoformat(),
            },
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def match(self, producer: Actor, partner: Actor, *, kg: str = "12.5") -> tuple[dict[str, Any], dict[str, Any]]:
        listing = self.listing(producer, kg=kg)
        r = producer.post(f"/v1/listings/{listing['id']}/pickup-requests", json={"partner_id": partner.profile_id})
        assert r.status_code == 201, r.text
        return listing, dict(r.json())


@pytest.fixture
def make(client: TestClient, session_factory: sessionmaker[Session]) -> Factory:
    return Factory(client, session_factory)


__all__ = ["Actor", "Decimal", "Factory", "PASSWORD"]

"""The web app under test: a temporary SQLite database seeded through the services, the app served
by uvicorn on a free loopback port in a background thread, and (for browser tests) Debian's Chromium
driven by Playwright. Screenshots and accessibility reports go to ``test-artifacts/e2e/``."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ayni.api import create_app
from ayni.domain.lifecycle import PartnerKind, ProducerKind, Role
from ayni.services import auth, listings, profiles
from ayni.services.profiles import MaterialOffer
from ayni.settings import AuthSettings, Settings
from ayni.storage.engine import make_engine, make_session_factory
from ayni.storage.migrate import upgrade
from ayni.storage.tables import District
from tests.conftest import shared_data_dir

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "Prueba-clave-2026"
FAST_AUTH = AuthSettings(argon2_time_cost=1, argon2_memory_kib=1024)
DISTRICTS = [
    ("140101", "LAMBAYEQUE", "CHICLAYO", "CHICLAYO", -6.7714, -79.8409),
    ("140105", "LAMBAYEQUE", "CHICLAYO", "JOSE LEONARDO ORTIZ", -6.7536, -79.8372),
    ("140106", "LAMBAYEQUE", "CHICLAYO", "LA VICTORIA", -6.7906, -79.8433),
    ("150101", "LIMA", "LIMA", "LIMA", -12.0464, -77.0306),
]


@dataclass
class Prediction:
    """What ``Classifier.predict`` returns, for a model that is sure of one material."""

    material: str
    confidence: float
    top3: list[tuple[str, float]]
    abstained: bool
    verdict: str
    model_version: str


class FixedClassifier:
    """A stand-in model: always answers ``material`` (tests decide whether it is right)."""

    version = "test-fixed-1"

    def __init__(self, material: str, confidence: float = 0.91) -> None:
        self.material, self.confidence = material, confidence

    def predict(self, data: bytes) -> Prediction:
        rest = (1 - self.confidence) / 2
        return Prediction(
            self.material,
            self.confidence,
            [(self.material, self.confidence), ("plastic", rest), ("paper", rest)],
            abstained=False,
            verdict="recyclable",
            model_version=self.version,
        )


@dataclass
class LiveServer:
    url: str
    app: Any
    session_factory: sessionmaker[Session]
    settings: Settings

    def set_classifier(self, classifier: Any) -> None:
        self.app.state.classifier = classifier

    def seed_partner(self, **kw: Any) -> str:
        return seed_partner(self.session_factory, app=self.app, **kw)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed_districts(engine: Engine) -> None:
    rows = [
        {
            "ubigeo": u,
            "departamento": d,
            "provincia": p,
            "distrito": n,
            "latitude": la,
            "longitude": lo,
            "pop_total": 100000,
            "pop_urban": 90000,
            "in_minam_2023": True,
        }
        for u, d, p, n, la, lo in DISTRICTS
    ]
    with engine.begin() as conn:
        conn.execute(District.__table__.insert(), rows)  # type: ignore[attr-defined]


def new_email(role: str) -> str:
    return f"{role}-{uuid.uuid4().hex[:8]}@example.pe"


def seed_user(factory: sessionmaker[Session], role: Role, *, phone: str | None = None) -> str:
    email = new_email(role.value)
    with factory() as s, s.begin():
        auth.create_user(
            s, email=email, password=PASSWORD, role=role, display_name=f"Test {role.value}", phone=phone, settings=FAST_AUTH
        )
    return email


def seed_partner(
    factory: sessionmaker[Session], *, app: Any, name: str = "Recicla Chiclayo", price_cents: int = 90
) -> str:
    """A partner in Chiclayo that takes plastic and cardboard every day within 15 km (and is ranked at once)."""
    email = new_email("partner")
    with factory() as s, s.begin():
        user = auth.create_user(
            s, email=email, password=PASSWORD, role=Role.PARTNER, display_name=name, phone="+51 999 222 333",
            settings=FAST_AUTH,
        )
        profiles.create_partner(
            s,
            user,
            name=name,
            kind=PartnerKind.RECYCLER,
            ubigeo="140101",
            lat=-6.78,
            lon=-79.85,
            service_radius_km=15,
            pickup_days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            materials=[
                MaterialOffer("plastic", price_cents, Decimal(0), Decimal(1000)),
                MaterialOffer("cardboard", 30, Decimal(0), Decimal(1000)),
            ],
        )
    catalog = getattr(app.state, "partner_catalog", None)
    if catalog is not None:  # the ranker caches partners; a partner made outside the pages must be seen
        catalog.invalidate()
    return email


def seed_open_listing(factory: sessionmaker[Session], *, material: str = "PET", kg: str = "30") -> int:
    """A producer in Chiclayo with one open listing for a week."""
    email = new_email("producer")
    with factory() as s, s.begin():
        user = auth.create_user(
            s, email=email, password=PASSWORD, role=Role.PRODUCER, display_name="Bodega Lote", settings=FAST_AUTH
        )
        profiles.create_producer(
            s, user, name="Bodega Lote", kind=ProducerKind.BODEGA, ubigeo="140101", lat=-6.772, lon=-79.842, address=None
        )
        return listings.create_listing(s, user, material=material, estimated_kg=kg).id


def photo_bytes(colour: tuple[int, int, int] = (40, 120, 200), size: tuple[int, int] = (1600, 1200)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    import uvicorn

    tmp = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{tmp / 'ayni.db'}"
    upgrade(url)
    engine = make_engine(url)
    seed_districts(engine)
    factory = make_session_factory(engine)
    data_dir = shared_data_dir() or tmp / "data"  # read-only: the WARM factors for CO2e when present
    settings = Settings(var_dir=tmp / "var", data_dir=data_dir, log_json=False, log_level="WARNING", auth=FAST_AUTH)
    app = create_app(settings, engine=engine, session_factory=factory, classifier=None)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    live = LiveServer(f"http://127.0.0.1:{port}", app, factory, settings)
    live.set_classifier(None)  # the lifespan may have loaded a real model; each test chooses
    yield live
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


# ---------------------------------------------------------------- browser


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: apt-get install -y chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: pip install playwright==1.65.2 (never 'playwright install')"
    if not AXE.exists():
        return f"{AXE} is missing: npm ci (axe-core from package-lock.json)"
    return None


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = _browser_missing()
    if reason:
        if os.environ.get("AYNI_REQUIRE_TOOLS"):
            pytest.fail(f"browser tests are required here (AYNI_REQUIRE_TOOLS=1): {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


class AxeLog:
    """Runs axe-core in the page and keeps every page's serious/critical violations for the report."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pages: dict[str, dict[str, Any]] = {}

    def check(self, page: Any, name: str) -> list[dict[str, Any]]:
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
            " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,"
            " targets: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
        )
        bad = [v for v in result if v["impact"] in ("serious", "critical")]
        self.pages[name] = {"url": page.url, "violations": result, "serious_or_critical": len(bad)}
        self.path.write_text(json.dumps(self.pages, indent=1), encoding="utf-8")
        return bad


@pytest.fixture(scope="session")
def axe(artifacts: Path) -> AxeLog:
    return AxeLog(artifacts / "axe.json")

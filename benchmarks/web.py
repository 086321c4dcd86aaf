"""Web pages: weight (HTML + the CSS/JS/icon every page loads) and the server's render time per page.

A temporary SQLite database gets four districts and a small community built through the services
(one producer with 12 listings, 5 of them collected, 5 accepted for today, 2 open with requests; one
partner; an admin and an analyst). Each page is fetched ``--n`` times through the ASGI app (no network)
as the user who would see it; render time is the app's own ``Server-Timing`` (handler + template +
database), reported as the median and the 95th percentile. Photos are excluded from the weight.

    python -m benchmarks.web [--n 40]
"""

from __future__ import annotations

import argparse
import gzip
import logging
import re
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks._report import write_section

log = logging.getLogger("benchmarks.web")
PASSWORD = "Bench-password-1"
BUDGET_BYTES = 150 * 1024


@dataclass(frozen=True)
class PageResult:
    name: str
    path: str
    status: int
    html: int
    html_gz: int
    total: int
    total_gz: int
    p50_ms: float
    p95_ms: float
    client_p50_ms: float


def _seed(url: str) -> dict[str, Any]:
    from ayni.domain.lifecycle import PartnerKind, ProducerKind, Role
    from ayni.services import auth, listings, matches, profiles
    from ayni.services.profiles import MaterialOffer
    from ayni.settings import AuthSettings
    from ayni.storage.engine import make_engine, make_session_factory
    from ayni.storage.migrate import upgrade
    from ayni.storage.tables import District

    fast = AuthSettings(argon2_time_cost=1, argon2_memory_kib=1024)
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            District.__table__.insert(),  # type: ignore[attr-defined]
            [
                {"ubigeo": u, "departamento": "LAMBAYEQUE", "provincia": "CHICLAYO", "distrito": n,
                 "latitude": la, "longitude": lo, "pop_total": 1, "pop_urban": 1, "in_minam_2023": True}
                for u, n, la, lo in [("140101", "CHICLAYO", -6.7714, -79.8409), ("140105", "JOSE LEONARDO ORTIZ", -6.7536, -79.8372),
                                     ("140106", "LA VICTORIA", -6.7906, -79.8433), ("140112", "PIMENTEL", -6.8367, -79.9342)]
            ],
        )
    factory = make_session_factory(engine)
    ids: dict[str, Any] = {}
    with factory() as s, s.begin():
        users = {r: auth.create_user(s, email=f"{r.value}@bench.pe", password=PASSWORD, role=r, display_name=r.value,
                                     phone="+51 900 000 000", settings=fast) for r in Role}
        profiles.create_producer(s, users[Role.PRODUCER], name="Bodega Bench", kind=ProducerKind.BODEGA, ubigeo="140105",
                                 lat=None, lon=None, address="Av. Bench 1")
        partner = profiles.create_partner(
            s, users[Role.PARTNER], name="Recicla Bench", kind=PartnerKind.RECYCLER, ubigeo="140101", lat=-6.78, lon=-79.85,
            service_radius_km=20, pickup_days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            materials=[MaterialOffer(m, 50 + 10 * i, Decimal(0), Decimal(5000))
                       for i, m in enumerate(["plastic", "cardboard", "paper", "metal", "glass"])],
        )
        now = datetime.now(UTC)
        for i in range(12):
            listing = listings.create_listing(s, users[Role.PRODUCER], material=["plastic", "cardboard", "paper"][i % 3],
                                              estimated_kg=Decimal(5 + i), available_from=now,
                                              available_until=now + timedelta(days=10))
            ids.setdefault("listing", listing.id)
            if i >= 10:
                continue  # open, no request
            match = matches.request_pickup(s, users[Role.PRODUCER], listing.id, partner_id=partner.id)
            if i >= 8:
                continue  # requested, waiting for the partner
            matches.accept(s, users[Role.PARTNER], match.id, pickup_date=now.date())
            if i < 3:
                matches.collect(s, users[Role.PARTNER], match.id, weighed_kg=Decimal(5 + i))
        ids["open_listing"] = listing.id
    ids["factory"], ids["engine"] = factory, engine
    return ids


PAGES: list[tuple[str, str, str | None]] = [
    ("landing", "/", None),
    ("login", "/login", None),
    ("sign-up producer (search)", "/signup/producer?q=chic", None),
    ("sign-up partner", "/signup/partner", None),
    ("producer home", "/producer", "producer"),
    ("choose material", "/producer/new", "producer"),
    ("listing + partners", "/producer/listings/{open_listing}", "producer"),
    ("partner opportunities", "/partner", "partner"),
    ("partner route (5 stops)", "/partner/route", "partner"),
    ("admin", "/admin", "admin"),
    ("analyst", "/analyst", "analyst"),
    ("404 page", "/no-such-page", None),
]


def _assets(client: Any, html: str) -> tuple[int, int]:
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    raw = gz = 0
    for url in dict.fromkeys(urls):
        body = client.get(url).content
        raw += len(body)
        gz += len(gzip.compress(body, 6))
    return raw, gz


def measure(n: int) -> list[PageResult]:
    from fastapi.testclient import TestClient

    from ayni.api import create_app
    from ayni.settings import AuthSettings, Settings

    tmp = Path(tempfile.mkdtemp(prefix="ayni-web-bench-"))
    ids = _seed(f"sqlite:///{tmp / 'bench.db'}")
    settings = Settings(var_dir=tmp / "var", data_dir=tmp / "data", log_json=False, log_level="WARNING",
                        auth=AuthSettings(argon2_time_cost=1, argon2_memory_kib=1024))
    app = create_app(settings, engine=ids["engine"], session_factory=ids["factory"], classifier=None)
    results = []
    with TestClient(app, base_url="http://127.0.0.1") as client:
        app.state.classifier = None
        for name, path, role in PAGES:
            client.cookies.clear()
            if role:
                client.get("/login")
                client.post("/login", data={"csrf_token": client.cookies.get("ayni_csrf"),
                                            "email": f"{role}@bench.pe", "password": PASSWORD})
            url = path.format(**ids)
            for _ in range(3):  # warm-up: template compilation, first queries
                client.get(url, headers={"Accept": "text/html"})
            server, wall, html, status = [], [], "", 0
            for _ in range(n):
                t0 = time.perf_counter()
                r = client.get(url, headers={"Accept": "text/html"})
                wall.append((time.perf_counter() - t0) * 1000)
                server.append(float(r.headers["server-timing"].split("dur=")[1]))
                html, status = r.text, r.status_code
            body = html.encode()
            raw, gz = _assets(client, html)
            q = statistics.quantiles(server, n=20)
            results.append(PageResult(name, url, status, len(body), len(gzip.compress(body, 6)), len(body) + raw,
                                      len(gzip.compress(body, 6)) + gz, statistics.median(server), q[18],
                                      statistics.median(wall)))
    ids["engine"].dispose()
    return results


def report(results: list[PageResult], n: int) -> str:
    lines = [
        "## Web pages: weight and server render time",
        "",
        f"Each page fetched {n} times through the ASGI app on SQLite; render = the app's `Server-Timing` "
        "(handler, queries, template). Weight = HTML + the CSS, JS and icon it loads (photos excluded); "
        f"budget {BUDGET_BYTES // 1024} KB per page.",
        "",
        "| page | status | HTML (KB) | page total (KB) | gzip total (KB) | render p50 (ms) | render p95 (ms) | round trip p50 (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.status} | {r.html / 1024:.1f} | {r.total / 1024:.1f} | {r.total_gz / 1024:.1f} | "
            f"{r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.client_p50_ms:.1f} |"
        )
    heaviest = max(results, key=lambda r: r.total)
    verdict = "within" if heaviest.total <= BUDGET_BYTES else "OVER"
    lines += ["", f"Heaviest page: {heaviest.name}, {heaviest.total / 1024:.1f} KB uncompressed ({verdict} budget)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=40, help="requests per page")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    md = report(measure(args.n), args.n)
    print(md)
    write_section("web", md, command="python -m benchmarks.web")


if __name__ == "__main__":
    main()

"""Top-10 matches through the real service and database: 5,000 partners, 200,000 producers.

    python -m benchmarks.matching_db            # SQLite in a temp dir (or AYNI_DATABASE__URL)
    python -m benchmarks.matching_db --quick    # 500 partners, 20,000 producers

Builds the data with bulk inserts (partners and producers around Lima Metropolitana's 43 districts when
the shared data is present, else around one point), warms the partner catalogue once, then times
``services.matching.recommend`` (listing load + spatial candidates + live capacity + scoring) for random
listings, and ``opportunities`` for random partners. Figures go to docs/benchmarks.md ("matching-db").
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ayni.services.matching import PartnerCatalog, opportunities, recommend
from ayni.settings import get_settings
from ayni.storage.engine import make_engine, make_session_factory
from ayni.storage.migrate import upgrade
from ayni.storage.tables import District, Listing, Partner, PartnerMaterial, Producer, User
from benchmarks._report import write_section

MATERIALS = ["plastic", "PET", "cardboard", "paper", "glass", "metal", "aluminium", "organic"]
LISTING_MATERIALS = ["PET", "HDPE", "cardboard_corrugated", "paper_mixed", "glass_clear", "aluminium", "food_waste"]


def _districts(data_dir: Path) -> list[tuple[str, float, float]]:
    path = data_dir / "peru" / "districts.csv"
    if path.is_file():
        import pandas as pd

        d = pd.read_csv(path, dtype={"ubigeo": "string"})
        lima = d[(d.departamento == "LIMA") & (d.provincia == "LIMA") & d.latitude.notna()]
        return [(str(r.ubigeo), float(r.latitude), float(r.longitude)) for r in lima.itertuples()]
    return [("150101", -12.0464, -77.0306)]


def build(session: Session, *, partners: int, producers: int, listings: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    districts = _districts(get_settings().data_dir)
    session.execute(insert(District), [{"ubigeo": u, "departamento": "LIMA", "provincia": "LIMA", "distrito": u,
                                        "latitude": la, "longitude": lo} for u, la, lo in districts])
    n_users = partners + producers
    session.execute(insert(User), [{"id": i + 1, "email": f"u{i}@bench.pe", "password_hash": "x",
                                    "role": "partner" if i < partners else "producer", "display_name": f"U{i}",
                                    "locale": "es", "is_active": True, "created_at": datetime.now(UTC)}
                                   for i in range(n_users)])
    d_idx = rng.integers(len(districts), size=n_users)
    jitter = rng.normal(0, 0.02, size=(n_users, 2))
    now = datetime.now(UTC)
    session.execute(insert(Partner), [
        {"id": i + 1, "user_id": i + 1, "name": f"P{i}", "kind": ["recycler", "collection_centre", "upcycler",
                                                                   "composter", "eors_operator",
                                                                   "recicladores_association"][i % 6],
         "ubigeo": districts[d_idx[i]][0], "latitude": districts[d_idx[i]][1] + jitter[i, 0],
         "longitude": districts[d_idx[i]][2] + jitter[i, 1], "service_radius_km": float(rng.choice([3, 5, 8, 12, 20])),
         "pickup_days": "mon,wed,fri" if i % 2 else "tue,thu,sat", "created_at": now} for i in range(partners)])
    offers = []
    for i in range(partners):
        for m in rng.choice(MATERIALS, size=int(rng.integers(1, 4)), replace=False):
            offers.append({"partner_id": i + 1, "material": str(m), "price_cents_per_kg": int(rng.integers(5, 300)),
                           "min_kg": 0, "weekly_capacity_kg": int(rng.integers(100, 5000))})
    session.execute(insert(PartnerMaterial), offers)
    session.execute(insert(Producer), [
        {"id": j + 1, "user_id": partners + j + 1, "name": f"R{j}", "kind": "household",
         "ubigeo": districts[d_idx[partners + j]][0], "latitude": districts[d_idx[partners + j]][1] + jitter[partners + j, 0],
         "longitude": districts[d_idx[partners + j]][2] + jitter[partners + j, 1], "created_at": now}
        for j in range(producers)])
    owners = rng.choice(producers, size=listings, replace=False)
    rows = session.execute(select(Producer.id, Producer.ubigeo, Producer.latitude, Producer.longitude)).all()
    by_id = {r[0]: r for r in rows}
    session.execute(insert(Listing), [
        {"producer_id": int(o) + 1, "material": str(rng.choice(LISTING_MATERIALS)),
         "estimated_kg": round(float(rng.uniform(2, 60)), 1), "available_from": now,
         "available_until": now + timedelta(days=10), "status": "open", "ubigeo": by_id[int(o) + 1][1],
         "latitude": by_id[int(o) + 1][2], "longitude": by_id[int(o) + 1][3], "created_at": now, "updated_at": now}
        for o in owners])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    partners, producers = (500, 20_000) if args.quick else (5_000, 200_000)
    listings = producers // 10
    with tempfile.TemporaryDirectory() as tmp:
        url = get_settings().database.url or f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        t0 = time.perf_counter()
        with factory() as s, s.begin():
            build(s, partners=partners, producers=producers, listings=listings)
        build_s = time.perf_counter() - t0
        with factory() as s:
            admin = User(id=10**9, email="admin@bench.pe", password_hash="x", role="admin", display_name="A")
            listing_ids = list(s.scalars(select(Listing.id)))
            partner_users = list(s.scalars(select(User).where(User.role == "partner").limit(200)))
        catalog = PartnerCatalog(ttl_s=3600)
        with factory() as s:
            t0 = time.perf_counter()
            catalog.index(s)
            catalog_s = time.perf_counter() - t0
        random.seed(0)
        times, counts = [], []
        for lid in random.sample(listing_ids, min(args.requests, len(listing_ids))):
            with factory() as s:
                t0 = time.perf_counter()
                recs = recommend(s, admin, lid, catalog=catalog, top_k=10)
                times.append((time.perf_counter() - t0) * 1000)
                counts.append(len(recs))
        opp = []
        for user in partner_users[:100]:
            with factory() as s:
                t0 = time.perf_counter()
                opportunities(s, user, limit=50)
                opp.append((time.perf_counter() - t0) * 1000)
        engine.dispose()
    p = np.percentile(times, [50, 99])
    q = np.percentile(opp, [50, 99])
    backend = url.split(":", 1)[0]
    body = (
        "## Matching through the database\n\n"
        f"{partners:,} partners, {producers:,} producers, {listings:,} open listings on {backend} "
        f"(built in {build_s:.0f} s). Partner catalogue (spatial index) built once in {catalog_s * 1000:.0f} ms "
        "and cached per process.\n\n"
        "| request | n | p50 ms | p99 ms | target |\n|---|---|---|---|---|\n"
        f"| top-10 partners for a listing (`recommend`) | {len(times)} | {p[0]:.2f} | {p[1]:.2f} | p99 ≤ 25 ms |\n"
        f"| opportunities for a partner (`opportunities`) | {len(opp)} | {q[0]:.2f} | {q[1]:.2f} | – |\n\n"
        f"Median candidates returned: {statistics.median(counts):.0f} (of at most 10).\n"
    )
    print(body)
    write_section("matching-db", body, command="python -m benchmarks.matching_db" + (" --quick" if args.quick else ""))


if __name__ == "__main__":
    main()

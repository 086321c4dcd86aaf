"""Sustained mixed traffic against a real Ayni server on loopback, bounded in time.

    python -m benchmarks.load                    # 30 s, 32 connections, 1 worker, SQLite demo community
    python -m benchmarks.load --seconds 600      # the soak: memory of the server at start and end

Starts ``ayni serve`` on a fresh SQLite database in a temp dir (migrated, reference data loaded when the
shared data is present, demo community seeded), logs in as the demo producer, and sends a mix with the
classification at its real share: browse listings 45 %, one listing 15 %, ranked partners 15 %,
create a listing 10 %, classify a photo 5 %, district search 10 %. The client runs on the same 2 cores,
so the figures are a lower bound. Results go to docs/benchmarks.md ("load").
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from benchmarks._report import write_section

MIX = [("browse", 45), ("listing", 15), ("matches", 15), ("create", 10), ("classify", 5), ("districts", 10)]


def _photo() -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _rss_kb(pid: int) -> int:
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


async def _worker(client: httpx.AsyncClient, token: str, listing_ids: list[int], photo: bytes, deadline: float,
                  out: list[tuple[str, float, int]]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    kinds = [k for k, w in MIX for _ in range(w)]
    while time.perf_counter() < deadline:
        kind = random.choice(kinds)
        start = time.perf_counter()
        if kind == "browse":
            r = await client.get("/v1/listings", params={"limit": 20}, headers=headers)
        elif kind == "listing":
            r = await client.get(f"/v1/listings/{random.choice(listing_ids)}", headers=headers)
        elif kind == "matches":
            r = await client.get(f"/v1/listings/{random.choice(listing_ids)}/matches", headers=headers)
        elif kind == "create":
            r = await client.post("/v1/listings", json={"material": "PET", "estimated_kg": "4.5"}, headers=headers)
        elif kind == "classify":
            r = await client.post("/v1/classify", files={"file": ("p.jpg", photo, "image/jpeg")}, headers=headers)
        else:
            r = await client.get("/v1/districts", params={"q": "chic"}, headers=headers)
        out.append((kind, (time.perf_counter() - start) * 1000, r.status_code))


async def _run(base: str, seconds: float, connections: int) -> tuple[list[tuple[str, float, int]], float]:
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=connections)) as c:
        r = await c.post("/v1/auth/login", json={"email": "productor@demo.ayni.pe", "password": "ayni-demo-2026"})
        token = r.json()["access_token"]
        page = (await c.get("/v1/listings", params={"limit": 200}, headers={"Authorization": f"Bearer {token}"})).json()
        ids = [x["id"] for x in page["items"]] or [1]
        out: list[tuple[str, float, int]] = []
        start = time.perf_counter()
        await asyncio.gather(*[_worker(c, token, ids, _photo(), start + seconds, out) for _ in range(connections)])
        return out, time.perf_counter() - start


def _serve(tmp: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AYNI_VAR_DIR": str(tmp / "var"), "AYNI_LOG_LEVEL": "WARNING",
           "AYNI_VISION__REGISTRY_REFRESH_S": "0"}
    ayni = str(Path(sys.executable).with_name("ayni"))
    for cmd in (["db", "upgrade"], ["data", "load"], ["demo"]):
        subprocess.run([ayni, *cmd], env=env, check=True, capture_output=True)
    proc = subprocess.Popen([ayni, "serve", "--port", str(port), "--workers", str(workers)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(120):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("server did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    random.seed(0)
    with tempfile.TemporaryDirectory() as d:
        proc = _serve(Path(d), args.port, args.workers)
        try:
            time.sleep(2)
            rss_start = _rss_kb(proc.pid)
            results, wall = asyncio.run(_run(f"http://127.0.0.1:{args.port}", args.seconds, args.connections))
            rss_end = _rss_kb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    lat = np.array([r[1] for r in results])
    errors = sum(1 for r in results if r[2] >= 500 or r[2] in (0, 429))
    rows = []
    for kind, _ in MIX:
        sel = [r for r in results if r[0] == kind]
        if sel:
            ms = np.array([r[1] for r in sel])
            codes = sorted({r[2] for r in sel})
            rows.append(f"| {kind} | {len(sel)} | {np.percentile(ms, 50):.1f} | {np.percentile(ms, 99):.1f} | {codes} |")
    growth = (rss_end - rss_start) / rss_start * 100 if rss_start else float("nan")
    body = (
        "## Load: mixed traffic on loopback\n\n"
        f"{args.connections} concurrent connections for {wall:.0f} s against `ayni serve --workers {args.workers}` "
        "(SQLite, demo community); the async client runs on the same 2 cores.\n\n"
        f"**{len(results) / wall:.0f} requests/s**, p50 {np.percentile(lat, 50):.1f} ms, p99 "
        f"{np.percentile(lat, 99):.1f} ms, server errors {errors} of {len(results)} "
        f"(targets: ≥ 300 req/s, p99 ≤ 250 ms, 0 errors). Server memory (RSS) {rss_start / 1024:.0f} MB → "
        f"{rss_end / 1024:.0f} MB ({growth:+.1f} %).\n\n"
        "| request | n | p50 ms | p99 ms | statuses |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
        f"\nMedian over all: {statistics.median(lat):.1f} ms.\n"
    )
    print(body)
    write_section("load", body, command=f"python -m benchmarks.load --seconds {args.seconds:g} "
                                        f"--connections {args.connections} --workers {args.workers}")


if __name__ == "__main__":
    main()

"""The fallback load generator of ``benchmarks.load`` when ``wrk`` is not installed: a lean HTTP/1.1
keep-alive client on raw asyncio streams (an order of magnitude less CPU per request than httpx), run as
its own process so its CPU time can be read apart from the server's.

    python -m benchmarks._load_client --port 8765 --seconds 30 --connections 32 TOKEN IDS_FILE PHOTO_FILE

Prints one line ``AYNI_CLIENT {json}`` with every request's kind, latency and status, summarised.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path

import numpy as np

from benchmarks._load_mix import BOUNDARY, MIX, multipart_body

Result = tuple[str, float, int]


class Requests:
    """Raw request bytes for each kind of the mix (only the listing id changes between two of a kind)."""

    def __init__(self, host: str, token: str, ids: list[str], photo: bytes) -> None:
        self.head = f"Host: {host}\r\nAuthorization: Bearer {token}\r\n"
        self.ids = ids
        self.create = self._raw("POST", "/v1/listings", b'{"material": "PET", "estimated_kg": "4.5"}',
                                "application/json")
        self.classify = self._raw("POST", "/v1/classify", multipart_body(photo),
                                  f"multipart/form-data; boundary={BOUNDARY}")

    def _raw(self, method: str, path: str, body: bytes = b"", content_type: str | None = None) -> bytes:
        extra = f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n" if content_type else ""
        return f"{method} {path} HTTP/1.1\r\n{self.head}{extra}\r\n".encode() + body

    def build(self, kind: str) -> bytes:
        if kind == "browse":
            return self._raw("GET", "/v1/listings?limit=20")
        if kind == "listing":
            return self._raw("GET", f"/v1/listings/{random.choice(self.ids)}")
        if kind == "matches":
            return self._raw("GET", f"/v1/listings/{random.choice(self.ids)}/matches")
        if kind == "create":
            return self.create
        if kind == "classify":
            return self.classify
        return self._raw("GET", "/v1/districts?q=chic")


async def _response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; its status and whether the server keeps the connection open."""
    status = int((await reader.readline()).split(b" ", 2)[1])
    length, chunked, keep = 0, False, True
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep = b"close" not in value.lower()
    if chunked:
        while size := int((await reader.readline()).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    elif length:
        await reader.readexactly(length)
    return status, keep


async def _connection(host: str, port: int, requests: Requests, deadline: float, out: list[Result],
                      kinds: list[str]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            kind = random.choice(kinds)
            start = time.perf_counter()
            try:
                writer.write(requests.build(kind))
                status, keep = await _response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                status, keep = 0, False
            out.append((kind, (time.perf_counter() - start) * 1000, status))
            if not keep:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def run(host: str, port: int, *, seconds: float, connections: int, requests: Requests,
              only: str | None = None) -> list[Result]:
    out: list[Result] = []
    deadline = time.perf_counter() + seconds
    kinds = [only] if only else [k for k, w in MIX for _ in range(w)]
    await asyncio.gather(*[_connection(host, port, requests, deadline, out, kinds) for _ in range(connections)])
    return out


def summary(results: list[Result], wall_s: float) -> dict[str, object]:
    lat = np.array([r[1] for r in results]) if results else np.zeros(1)
    kinds: dict[str, object] = {}
    for kind, _ in MIX:
        ms = np.array([r[1] for r in results if r[0] == kind])
        if ms.size:
            seen = sorted({r[2] for r in results if r[0] == kind})
            kinds[kind] = {"n": int(ms.size), "p50_ms": float(np.percentile(ms, 50)),
                           "p99_ms": float(np.percentile(ms, 99)), "statuses": seen}
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r[2])] = statuses.get(str(r[2]), 0) + 1
    return {"requests": len(results), "seconds": wall_s, "p50_ms": float(np.percentile(lat, 50)),
            "p90_ms": float(np.percentile(lat, 90)), "p99_ms": float(np.percentile(lat, 99)),
            "max_ms": float(lat.max()), "statuses": statuses, "kinds": kinds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=[k for k, _ in MIX], help="send only this kind of request")
    parser.add_argument("token")
    parser.add_argument("ids_file", type=Path)
    parser.add_argument("photo_file", type=Path)
    args = parser.parse_args()
    random.seed(args.seed)
    requests = Requests(f"{args.host}:{args.port}", args.token, args.ids_file.read_text().split(","),
                        args.photo_file.read_bytes())
    start = time.perf_counter()
    results = asyncio.run(run(args.host, args.port, seconds=args.seconds, connections=args.connections,
                              requests=requests, only=args.only))
    print("AYNI_CLIENT " + json.dumps(summary(results, time.perf_counter() - start)), flush=True)  # noqa: T201


if __name__ == "__main__":
    main()

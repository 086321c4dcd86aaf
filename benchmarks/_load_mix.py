"""The request mix of ``benchmarks.load``, shared by its two clients (``load_mix.lua`` repeats the weights)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

# (kind, requests per 100): classification at its real share of the traffic.
MIX = [("browse", 45), ("listing", 15), ("matches", 15), ("create", 10), ("classify", 5), ("districts", 10)]
BOUNDARY = "ayniloadboundary7MA4YWxkTrZu0gW"


def photo() -> bytes:
    """A 640×480 JPEG (random pixels, so every decode does the full work)."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def multipart_body(data: bytes) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{BOUNDARY}--\r\n".encode()

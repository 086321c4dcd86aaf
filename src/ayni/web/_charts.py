"""Geometry for the small inline SVG charts and the route map (no tiles, no scripts)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: float


def bars(values: Sequence[tuple[str, float]], *, width: int = 320, height: int = 140, pad: int = 18) -> list[Bar]:
    """Vertical bars scaled to the largest value, leaving ``pad`` pixels for the labels below."""
    if not values:
        return []
    top = max(v for _, v in values) or 1.0
    slot = width / len(values)
    bar_w = min(48.0, max(4.0, slot * 0.7))
    usable = height - pad - 4
    out = []
    for i, (label, value) in enumerate(values):
        h = usable * (value / top) if value > 0 else 0.0
        out.append(Bar(i * slot + (slot - bar_w) / 2, 4 + usable - h, bar_w, h, label, value))
    return out


@dataclass(frozen=True, slots=True)
class MapPoint:
    x: float
    y: float
    label: str
    lat: float
    lon: float


def project(points: Sequence[tuple[str, float, float]], *, width: int = 320, height: int = 240, pad: int = 20) -> list[MapPoint]:
    """Equirectangular projection of (label, lat, lon) into the box, keeping the aspect ratio."""
    if not points:
        return []
    lats = [p[1] for p in points]
    lons = [p[2] for p in points]
    k = math.cos(math.radians(sum(lats) / len(lats)))
    span_x = max((max(lons) - min(lons)) * k, 1e-4)
    span_y = max(max(lats) - min(lats), 1e-4)
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    cx = (max(lons) + min(lons)) / 2
    cy = (max(lats) + min(lats)) / 2
    return [
        MapPoint(width / 2 + (lon - cx) * k * scale, height / 2 - (lat - cy) * scale, label, lat, lon)
        for label, lat, lon in points
    ]

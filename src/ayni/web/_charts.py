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


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above ``value`` (a round number for the top of an axis)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value)


@dataclass(frozen=True, slots=True)
class BandChart:
    """A line with a shaded interval: SVG ``points`` for the band polygon and the line, a few x labels."""

    band: str
    line: str
    dots: list[tuple[float, float, str, float]]  # x, y, label, value (each point's tooltip)
    labels: list[tuple[float, str]]  # x, text under the axis
    top: float  # the value at the top of the plot area
    axis_y: float


def band(
    points: Sequence[tuple[str, float, float, float]],
    *,
    width: int = 320,
    height: int = 160,
    pad: int = 18,
    side: int = 18,
    max_labels: int = 6,
) -> BandChart | None:
    """(label, value, low, high) per step, scaled to the largest ``high``; ``None`` without points."""
    if not points:
        return None
    top = nice_ceiling(max(max(p[3], p[1]) for p in points))
    usable_h = height - pad - 4
    usable_w = width - 2 * side
    step = usable_w / max(len(points) - 1, 1)

    def y(value: float) -> float:
        return 4 + usable_h * (1 - max(value, 0.0) / top)

    xs = [side + i * step if len(points) > 1 else side + usable_w / 2 for i in range(len(points))]
    upper = [f"{x:.1f},{y(p[3]):.1f}" for x, p in zip(xs, points, strict=True)]
    lower = [f"{x:.1f},{y(p[2]):.1f}" for x, p in zip(xs, points, strict=True)]
    line = " ".join(f"{x:.1f},{y(p[1]):.1f}" for x, p in zip(xs, points, strict=True))
    every = max(1, math.ceil(len(points) / max_labels))
    labels = [(xs[i], points[i][0]) for i in range(0, len(points), every)]
    dots = [(x, y(p[1]), p[0], p[1]) for x, p in zip(xs, points, strict=True)]
    return BandChart(" ".join(upper + lower[::-1]), line, dots, labels, top, 4 + usable_h)

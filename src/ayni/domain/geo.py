"""Geography: coordinates, Peru's bounding box, great-circle distance."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ayni.errors import InvalidInput

EARTH_RADIUS_KM = 6371.0088

# Peru's territory lies within this box (mainland + islands, with a small margin).
PERU_LAT = (-18.4, -0.0)
PERU_LON = (-81.4, -68.6)


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lon: float


def validate_in_peru(lat: float, lon: float) -> Point:
    """A ``Point`` for these coordinates, or ``InvalidInput`` if they fall outside Peru."""
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise InvalidInput("Coordinates must be finite numbers.", details={"field": "lat/lon"})
    if not (PERU_LAT[0] <= lat <= PERU_LAT[1] and PERU_LON[0] <= lon <= PERU_LON[1]):
        raise InvalidInput(
            f"The location ({lat:.4f}, {lon:.4f}) is outside Peru. "
            "Latitude must be between -18.4 and 0, longitude between -81.4 and -68.6.",
            details={"field": "lat/lon"},
        )
    return Point(lat, lon)


def haversine_km(a: Point, b: Point) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))

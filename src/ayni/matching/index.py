"""Spatial indexes on the unit sphere: KD-trees over 3-D unit vectors, queried by great-circle radius.

A point (lat, lon) becomes the unit vector (cos φ cos λ, cos φ sin λ, sin φ); two points at great-circle
distance d are at chord distance 2·sin(d / 2R), which is monotone in d, so a Euclidean ball query on
the chord is an exact great-circle query (no scan of every point, no distortion near the poles or the
antimeridian). ``PartnerIndex`` keeps one tree per material class, so a listing of PET only ever
visits partners that buy plastic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from ayni.domain.geo import EARTH_RADIUS_KM
from ayni.domain.materials import MATERIALS
from ayni.matching.entities import ListingInput, MaterialOffer, PartnerOffer

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def unit_vectors(lat: FloatArray, lon: FloatArray) -> FloatArray:
    """Rows of unit vectors for arrays of latitudes and longitudes in degrees."""
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)))


def chord_for_km(km: float) -> float:
    return float(2.0 * np.sin(min(km, np.pi * EARTH_RADIUS_KM) / (2.0 * EARTH_RADIUS_KM)))


def haversine_km_vec(*, lat: float, lon: float, lats: FloatArray, lons: FloatArray) -> FloatArray:
    """Great-circle distances (km) from one point to many, vectorised."""
    p1, p2 = np.radians(lat), np.radians(lats)
    dp, dl = p2 - p1, np.radians(lons - lon)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))


def haversine_km_pairs(lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray) -> FloatArray:
    """Great-circle distances (km) between paired points, vectorised."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h))), dtype=np.float64)


class SphereIndex:
    """A KD-tree over points on the sphere; ``within`` returns positions and great-circle distances."""

    def __init__(self, lats: Sequence[float] | FloatArray, lons: Sequence[float] | FloatArray) -> None:
        self.lats = np.asarray(lats, dtype=np.float64)
        self.lons = np.asarray(lons, dtype=np.float64)
        self._tree = cKDTree(unit_vectors(self.lats, self.lons)) if len(self.lats) else None

    def __len__(self) -> int:
        return len(self.lats)

    def within(self, *, lat: float, lon: float, radius_km: float) -> tuple[IntArray, FloatArray]:
        """Positions of the points within ``radius_km`` of (lat, lon) and their distances, nearest first."""
        if self._tree is None:
            return np.empty(0, dtype=np.int64), np.empty(0)
        q = unit_vectors(np.array([lat]), np.array([lon]))[0]
        pos = np.asarray(self._tree.query_ball_point(q, chord_for_km(radius_km) * (1 + 1e-9)), dtype=np.int64)
        dist = haversine_km_vec(lat=lat, lon=lon, lats=self.lats[pos], lons=self.lons[pos])
        keep = dist <= radius_km
        pos, dist = pos[keep], dist[keep]
        order = np.argsort(dist, kind="stable")
        return pos[order], dist[order]


@dataclass(frozen=True)
class OfferTable:
    """Per partner (same order as the class members): the offer covering one listing material."""

    partners: tuple[PartnerOffer, ...]
    offers: tuple[MaterialOffer | None, ...]
    has_offer: NDArray[np.bool_]
    min_kg: FloatArray
    capacity_left_kg: FloatArray
    weekday_mask: IntArray
    fill_rate: tuple[float, ...]

    @classmethod
    def build(cls, partners: Sequence[PartnerOffer], material: str) -> OfferTable:
        offers = tuple(p.offer_for(material) for p in partners)
        return cls(
            tuple(partners), offers, np.array([o is not None for o in offers], dtype=bool),
            np.array([float(o.min_kg) if o else np.inf for o in offers]),
            np.array([float(o.capacity_left_kg) if o else -1.0 for o in offers]),
            np.array([sum(1 << d for d in p.pickup_weekdays) for p in partners], dtype=np.int64),
            tuple(o.fill_rate if o else 1.0 for o in offers))


class PartnerIndex:
    """Partners indexed by material class and base location; each partner's own radius is respected."""

    def __init__(self, partners: Sequence[PartnerOffer]) -> None:
        self.partners: tuple[PartnerOffer, ...] = tuple(partners)
        self.by_id = {p.partner_id: p for p in self.partners}
        self._class_members: dict[str, IntArray] = {}
        self._class_index: dict[str, SphereIndex] = {}
        self._class_max_radius: dict[str, float] = {}
        radius = np.array([p.radius_km for p in self.partners], dtype=np.float64)
        self._radius = radius
        self._tables: dict[str, OfferTable | None] = {}
        for cls in {MATERIALS[o.material].class_code for p in self.partners for o in p.materials}:
            members = np.array(
                [i for i, p in enumerate(self.partners)
                 if any(MATERIALS[o.material].class_code == cls for o in p.materials)], dtype=np.int64)
            self._class_members[cls] = members
            self._class_index[cls] = SphereIndex([self.partners[i].lat for i in members],
                                                 [self.partners[i].lon for i in members])
            self._class_max_radius[cls] = float(radius[members].max())
        for material in MATERIALS:  # eager, so that no request pays for building a table
            self.offer_table(material)

    def __len__(self) -> int:
        return len(self.partners)

    def offer_table(self, material: str) -> OfferTable | None:
        """Arrays describing, for every partner buying ``material``'s class, its offer for ``material``."""
        if material not in self._tables:
            cls = MATERIALS[material].class_code if material in MATERIALS else material
            members = self._class_members.get(cls)
            self._tables[material] = None if members is None else OfferTable.build(
                [self.partners[i] for i in members], material)
        return self._tables[material]

    def near_positions(self, *, lat: float, lon: float, material: str) -> tuple[IntArray, FloatArray]:
        """Positions (in ``offer_table(material)``) of partners within their radius, and distances."""
        cls = MATERIALS[material].class_code if material in MATERIALS else material
        index = self._class_index.get(cls)
        if index is None:
            return np.empty(0, dtype=np.int64), np.empty(0)
        pos, dist = index.within(lat=lat, lon=lon, radius_km=self._class_max_radius[cls])
        keep = dist <= self._radius[self._class_members[cls][pos]]
        return pos[keep], dist[keep]

    def serving(self, *, lat: float, lon: float, material: str) -> list[tuple[PartnerOffer, float]]:
        """Partners buying ``material``'s class whose own service radius covers (lat, lon), nearest first."""
        cls = MATERIALS[material].class_code if material in MATERIALS else material
        index = self._class_index.get(cls)
        if index is None:
            return []
        pos, dist = index.within(lat=lat, lon=lon, radius_km=self._class_max_radius[cls])
        members = self._class_members[cls][pos]
        keep = dist <= self._radius[members]
        return [(self.partners[i], float(d)) for i, d in zip(members[keep], dist[keep], strict=True)]


class ListingIndex:
    """Open listings indexed by location, for a partner's opportunities (with arrays for fast filters)."""

    def __init__(self, listings: Sequence[ListingInput]) -> None:
        self.listings: tuple[ListingInput, ...] = tuple(listings)
        self._index = SphereIndex([x.lat for x in self.listings], [x.lon for x in self.listings])
        self.material_names: tuple[str, ...] = tuple(sorted({x.material for x in self.listings}))
        code = {m: k for k, m in enumerate(self.material_names)}
        self.material_code = np.array([code[x.material] for x in self.listings], dtype=np.int64)
        self.kg = np.array([float(x.kg) for x in self.listings])
        self.window_mask = np.array([window_mask(x.available_from, x.available_until) for x in self.listings],
                                    dtype=np.int64)

    def near_positions(self, *, lat: float, lon: float, radius_km: float) -> tuple[IntArray, FloatArray]:
        return self._index.within(lat=lat, lon=lon, radius_km=radius_km)

    def __len__(self) -> int:
        return len(self.listings)

    def near(self, *, lat: float, lon: float, radius_km: float) -> list[tuple[ListingInput, float]]:
        pos, dist = self._index.within(lat=lat, lon=lon, radius_km=radius_km)
        return [(self.listings[i], float(d)) for i, d in zip(pos, dist, strict=True)]


def window_mask(start: date, end: date) -> int:
    """Bit d set when weekday d occurs in [start, end]."""
    mask = 0
    for offset in range(min(7, max(0, (end - start).days + 1))):
        mask |= 1 << (start + timedelta(days=offset)).weekday()
    return mask

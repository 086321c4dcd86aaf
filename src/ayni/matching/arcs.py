"""The allocation graph: every feasible (listing, partner offer) pair as arrays, built without Python loops
over pairs.

Per listing material, the partner offers that cover it (an exact sub-material price wins over the
class price of the same partner) query a KD-tree of those listings with each partner's own radius;
the other four candidate rules (capacity, minimum, pickup weekday, material) are applied as array
masks, with exactly the semantics of ``ayni.matching.candidates.check_pair``. Arc values are expected
net céntimos (``scoring``): P from the cold-start rule unless the caller supplies P per arc.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from ayni.domain.materials import MATERIALS
from ayni.matching.entities import ListingInput, PartnerOffer
from ayni.matching.index import chord_for_km, haversine_km_pairs, unit_vectors, window_mask
from ayni.matching.scoring import KIND_PRIOR, ScoringConfig, rule_p

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
ArcP = Callable[["ArcTable"], FloatArray]


@dataclass(frozen=True)
class ArcTable:
    """Arcs (one row each) and capacity keys. Kilograms are integer grams, money integer céntimos."""

    listing_ids: IntArray  # per listing position
    listing_grams: IntArray
    listing_order: IntArray  # positions sorted by created_at (first come first)
    key_partner: IntArray  # per capacity key (partner, offer material)
    key_material: tuple[str, ...]
    key_capacity_grams: IntArray
    arc_listing: IntArray  # listing position
    arc_key: IntArray
    arc_partner: IntArray
    arc_distance_km: FloatArray
    arc_price: IntArray
    arc_gross: IntArray
    arc_transport: IntArray
    arc_p: FloatArray
    arc_value: IntArray  # expected net céntimos

    @property
    def n_arcs(self) -> int:
        return len(self.arc_listing)

    def with_p(self, p: FloatArray) -> ArcTable:
        """The same arcs re-valued with another P(accept) per arc."""
        value = np.rint(p * self.arc_gross).astype(np.int64) - self.arc_transport
        return ArcTable(**{**self.__dict__, "arc_p": p, "arc_value": value})


def build_arcs(listings: Sequence[ListingInput], partners: Sequence[PartnerOffer], *,
               config: ScoringConfig | None = None, not_before: date | None = None) -> ArcTable:
    """All feasible arcs between ``listings`` and ``partners`` with rule-based expected values."""
    config = config or ScoringConfig()
    lat = np.array([x.lat for x in listings])
    lon = np.array([x.lon for x in listings])
    grams = np.array([int(x.kg * 1000) for x in listings], dtype=np.int64)
    masks = np.array([window_mask(max(x.available_from, not_before) if not_before else x.available_from,
                                  x.available_until) for x in listings], dtype=np.int64)
    conf = np.array([np.nan if x.photo_confidence is None else x.photo_confidence for x in listings])
    order = np.array(sorted(range(len(listings)), key=lambda i: (listings[i].created_at, listings[i].listing_id)),
                     dtype=np.int64)
    keys: list[tuple[int, str]] = []
    key_of: dict[tuple[int, str], int] = {}
    cap: list[int] = []
    for pi, p in enumerate(partners):
        for o in p.materials:
            key_of[(pi, o.material)] = len(keys)
            keys.append((pi, o.material))
            cap.append(int(o.capacity_left_kg * 1000))
    parts: list[tuple[IntArray, IntArray, FloatArray]] = []
    by_material: dict[str, list[int]] = {}
    for i, x in enumerate(listings):
        by_material.setdefault(x.material, []).append(i)
    for material, members in by_material.items():
        parts.append(_arcs_for_material(material, np.array(members, dtype=np.int64), lat, lon, partners, key_of))
    arc_l = np.concatenate([a for a, _, _ in parts]) if parts else np.empty(0, dtype=np.int64)
    arc_k = np.concatenate([b for _, b, _ in parts]) if parts else np.empty(0, dtype=np.int64)
    arc_d = np.concatenate([c for _, _, c in parts]) if parts else np.empty(0)
    key_partner = np.array([k[0] for k in keys], dtype=np.int64)
    offers = [partners[pi].offer_for(m) or partners[pi].materials[0] for pi, m in keys]
    price = np.array([o.price_cents_per_kg for o in offers], dtype=np.int64)
    min_g = np.array([int(o.min_kg * 1000) for o in offers], dtype=np.int64)
    weekly = np.array([float(o.weekly_capacity_kg) for o in offers])
    fill = np.where(weekly > 0, 1.0 - np.array(cap) / 1000.0 / np.maximum(weekly, 1e-9), 1.0)
    pmask = np.array([sum(1 << d for d in p.pickup_weekdays) for p in partners], dtype=np.int64)
    cap_arr = np.array(cap, dtype=np.int64)
    ap = key_partner[arc_k]
    ok = ((grams[arc_l] <= cap_arr[arc_k]) & (grams[arc_l] >= min_g[arc_k])
          & ((masks[arc_l] & pmask[ap]) != 0))
    arc_l, arc_k, arc_d, ap = arc_l[ok], arc_k[ok], arc_d[ok], ap[ok]
    gross = np.rint(grams[arc_l] * price[arc_k] / 1000.0).astype(np.int64)
    transport = np.rint(arc_d * config.trip_factor * config.transport_cents_per_km).astype(np.int64)
    radius = np.array([p.radius_km for p in partners])
    prior = np.array([KIND_PRIOR.get(p.kind, 0.6) for p in partners])
    p_arc = np.clip(rule_p(kind_prior=prior[ap], distance_km=arc_d, radius_km=radius[ap],
                           kg=grams[arc_l] / 1000.0, min_kg=min_g[arc_k] / 1000.0,
                           photo_confidence=conf[arc_l], fill_rate=fill[arc_k]), config.min_p, config.max_p)
    value = np.rint(p_arc * gross).astype(np.int64) - transport
    return ArcTable(
        listing_ids=np.array([x.listing_id for x in listings], dtype=np.int64), listing_grams=grams,
        listing_order=order, key_partner=np.array([partners[k].partner_id for k in key_partner], dtype=np.int64),
        key_material=tuple(k[1] for k in keys), key_capacity_grams=cap_arr, arc_listing=arc_l, arc_key=arc_k,
        arc_partner=np.array([partners[k].partner_id for k in ap], dtype=np.int64), arc_distance_km=arc_d,
        arc_price=price[arc_k], arc_gross=gross, arc_transport=transport, arc_p=p_arc, arc_value=value)


def _arcs_for_material(material: str, members: IntArray, lat: FloatArray, lon: FloatArray,
                       partners: Sequence[PartnerOffer],
                       key_of: dict[tuple[int, str], int]) -> tuple[IntArray, IntArray, FloatArray]:
    cls = MATERIALS[material].class_code if material in MATERIALS else material
    rows: list[tuple[int, int]] = []  # (partner position, key)
    for pi in range(len(partners)):
        if (pi, material) in key_of:
            rows.append((pi, key_of[(pi, material)]))
        elif (pi, cls) in key_of and cls != material:
            rows.append((pi, key_of[(pi, cls)]))
    empty = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0))
    if not rows or len(members) == 0:
        return empty
    tree = cKDTree(unit_vectors(lat[members], lon[members]))
    plat = np.array([partners[pi].lat for pi, _ in rows])
    plon = np.array([partners[pi].lon for pi, _ in rows])
    r = np.array([chord_for_km(partners[pi].radius_km) * (1 + 1e-9) for pi, _ in rows])
    hits = tree.query_ball_point(unit_vectors(plat, plon), r)
    counts = np.array([len(h) for h in hits], dtype=np.int64)
    if counts.sum() == 0:
        return empty
    row_idx = np.repeat(np.arange(len(rows)), counts)
    lpos = members[np.concatenate([np.asarray(h, dtype=np.int64) for h in hits if h])]
    d = haversine_km_pairs(plat[row_idx], plon[row_idx], lat[lpos], lon[lpos])
    radius = np.array([partners[pi].radius_km for pi, _ in rows])[row_idx]
    keep = d <= radius
    keys = np.array([k for _, k in rows], dtype=np.int64)[row_idx]
    return lpos[keep], keys[keep], d[keep]


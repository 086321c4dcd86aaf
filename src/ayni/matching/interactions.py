"""The interaction log as a table: one row per (listing, candidate partner), and back to ``ListingEvent``s.

A row holds the listing, the candidate as the engine saw it when the listing was published, and — when
the listing was offered to that partner — the offer's order, time and outcome. Candidates that were
never offered are kept (``offered`` false, ``accepted``/``collected`` false): the ranker's context
features (price over the best price, distance beyond the nearest) need the listing's whole pool.
``weighed_kg`` / ``paid_cents`` are filled for collected offers (the simulator weighs exactly the listed kg
and pays the offered price); the table passes ``ayni.mlops.validation.INTERACTIONS``.
``events_from_frame(interactions_frame(weeks))`` gives back the same weeks of events, so a pipeline
stage can write the log to CSV and the next stage can train on it with ``training_set``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from ayni.domain.lifecycle import PartnerKind, ProducerKind
from ayni.errors import InvalidInput
from ayni.matching.entities import Candidate, ListingInput
from ayni.matching.history import ListingEvent, Offer

COLUMNS: tuple[str, ...] = (
    "week", "listing_id", "producer_id", "producer_kind", "material", "kg", "lat", "lon", "available_from",
    "available_until", "created_at", "photo_confidence", "partner_id", "partner_kind", "offer_material",
    "distance_km", "price_cents_per_kg", "gross_cents", "pickup_date", "capacity_left_kg", "radius_km",
    "min_kg", "offer_fill_rate", "offered", "position", "decided_at", "accepted", "collected", "weighed_kg",
    "paid_cents",
)


def _rows(e: ListingEvent) -> list[dict[str, Any]]:
    x = e.listing
    offers = {o.position: (rank, o) for rank, o in enumerate(e.offers)}
    out = []
    for pos, c in enumerate(e.candidates):
        rank, offer = offers.get(pos, (None, None))
        collected = bool(offer and offer.collected)
        out.append({
            "week": e.week, "listing_id": x.listing_id, "producer_id": x.producer_id,
            "producer_kind": str(x.producer_kind), "material": x.material, "kg": str(x.kg), "lat": x.lat,
            "lon": x.lon, "available_from": x.available_from.isoformat(),
            "available_until": x.available_until.isoformat(), "created_at": x.created_at.isoformat(),
            "photo_confidence": x.photo_confidence, "partner_id": c.partner_id,
            "partner_kind": str(c.partner_kind), "offer_material": c.offer_material, "distance_km": c.distance_km,
            "price_cents_per_kg": c.price_cents_per_kg, "gross_cents": c.gross_cents,
            "pickup_date": c.pickup_date.isoformat(), "capacity_left_kg": str(c.capacity_left_kg),
            "radius_km": c.radius_km, "min_kg": str(c.min_kg), "offer_fill_rate": c.offer_fill_rate,
            "offered": offer is not None, "position": rank,
            "decided_at": offer.decided_at.isoformat() if offer else None,
            "accepted": bool(offer and offer.accepted), "collected": collected,
            "weighed_kg": str(x.kg) if collected else None, "paid_cents": c.gross_cents if collected else None,
        })
    return out


def interactions_frame(weeks: Sequence[Sequence[ListingEvent]]) -> pd.DataFrame:
    """The log of ``weeks`` (as ``simulate_history`` returns them) as one table with ``COLUMNS``."""
    frame = pd.DataFrame([r for events in weeks for e in events for r in _rows(e)], columns=list(COLUMNS))
    return frame.astype({"position": "Int64", "paid_cents": "Int64"})


def _listing(r: Any) -> ListingInput:
    conf = None if pd.isna(r.photo_confidence) else float(r.photo_confidence)
    return ListingInput(int(r.listing_id), int(r.producer_id), str(r.material), Decimal(str(r.kg)), float(r.lat),
                        float(r.lon), date.fromisoformat(str(r.available_from)),
                        date.fromisoformat(str(r.available_until)), datetime.fromisoformat(str(r.created_at)),
                        conf, ProducerKind(str(r.producer_kind)))


def _candidate(r: Any) -> Candidate:
    return Candidate(int(r.listing_id), int(r.partner_id), str(r.offer_material), float(r.distance_km),
                     int(r.price_cents_per_kg), Decimal(str(r.kg)), int(r.gross_cents),
                     date.fromisoformat(str(r.pickup_date)), Decimal(str(r.capacity_left_kg)),
                     PartnerKind(str(r.partner_kind)), float(r.radius_km), Decimal(str(r.min_kg)),
                     float(r.offer_fill_rate))


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1")


def events_from_frame(frame: pd.DataFrame) -> list[list[ListingEvent]]:
    """Weeks of ``ListingEvent`` from a table written by :func:`interactions_frame` (e.g. read from CSV)."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInput(f"The interaction log has no column(s) {', '.join(missing)}.")
    frame = frame.sort_values(["week", "listing_id"], kind="stable")
    n_weeks = int(frame["week"].max()) + 1 if len(frame) else 0
    weeks: list[list[ListingEvent]] = [[] for _ in range(n_weeks)]
    for _, rows in frame.groupby(["week", "listing_id"], sort=False):
        recs: list[Any] = list(rows.itertuples(index=False))
        offers = sorted(((int(float(r.position)), Offer(i, datetime.fromisoformat(str(r.decided_at)),
                                                        _flag(r.accepted), _flag(r.collected)))
                         for i, r in enumerate(recs) if _flag(r.offered)), key=lambda t: t[0])
        weeks[int(recs[0].week)].append(ListingEvent(int(recs[0].week), _listing(recs[0]),
                                                     tuple(_candidate(r) for r in recs),
                                                     tuple(o for _, o in offers)))
    return weeks

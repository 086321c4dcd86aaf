"""What the MLOps loop reads from the database: feedback, recent predictions and match outcomes, as tables.

The only bridge between ``ayni.storage`` and ``ayni.mlops``: each function returns a pandas frame shaped
for ``ayni.mlops.feedback`` / ``ayni.mlops.drift`` / ``ayni.mlops.validation``, so the ML code never sees
an ORM object. Photos are identified by the SHA-256 of their bytes (``photo_sha256``), the key that
de-duplicates feedback against the training and evaluation data.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from ayni.matching.index import haversine_km_pairs
from ayni.mlops.feedback import FEEDBACK_COLUMNS, collection_outcomes
from ayni.storage.tables import Feedback, Listing, Match, Partner, Producer

log = logging.getLogger(__name__)


def _sha256(media_dir: Path, rel: str | None) -> tuple[str | None, str | None]:
    if not rel:
        return None, None
    path = (media_dir / rel).resolve()
    if media_dir.resolve() not in path.parents or not path.is_file():
        return None, None
    return hashlib.sha256(path.read_bytes()).hexdigest(), str(path)


def _num(payload: dict[str, Any], key: str) -> float | None:
    value = payload.get(key)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def feedback_frame(session: Session, *, media_dir: Path, since: datetime | None = None) -> pd.DataFrame:
    """Every feedback row (corrections and collection outcomes) with its photo's hash and path."""
    stmt = select(Feedback, Listing.photo_path).outerjoin(Listing, Listing.id == Feedback.listing_id)
    if since is not None:
        stmt = stmt.where(Feedback.created_at >= since)
    rows = []
    for fb, listing_photo in session.execute(stmt.order_by(Feedback.id)):
        sha, path = _sha256(media_dir, fb.photo_path or listing_photo)
        payload = fb.payload or {}
        outcome = fb.kind == "collection_outcome"
        paid = _num(payload, "paid_cents")
        rows.append({
            "id": fb.id, "kind": fb.kind, "listing_id": fb.listing_id, "match_id": fb.match_id,
            "predicted_material": fb.predicted_material, "corrected_material": fb.corrected_material,
            "confidence": fb.confidence, "model_version": fb.model_version, "photo_sha256": sha,
            "accepted": True if outcome else None, "collected": True if outcome else None,
            "weighed_kg": _num(payload, "weighed_kg"), "paid_cents": int(paid) if paid is not None else None,
            "created_at": fb.created_at, "path": path, "user_id": fb.user_id,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=[*FEEDBACK_COLUMNS, "path", "user_id"])


def prediction_window(session: Session, *, since: datetime, media_dir: Path | None = None,
                      model_version: str | None = None) -> pd.DataFrame:
    """Listings classified since ``since``: the production window for classifier drift."""
    stmt = select(Listing).where(Listing.created_at >= since, Listing.predicted_material.is_not(None))
    if model_version is not None:
        stmt = stmt.where(Listing.model_version == model_version)
    rows = []
    for listing in session.scalars(stmt.order_by(Listing.created_at)):
        path = None
        if media_dir is not None and listing.photo_path:
            candidate = (media_dir / listing.photo_path).resolve()
            path = str(candidate) if candidate.is_file() and media_dir.resolve() in candidate.parents else None
        rows.append({
            "listing_id": listing.id, "predicted_class": listing.predicted_material,
            "confidence": listing.predicted_confidence, "model_version": listing.model_version,
            "material": listing.material, "kg": float(listing.estimated_kg), "latitude": listing.latitude,
            "longitude": listing.longitude, "created_at": listing.created_at, "path": path,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["listing_id", "predicted_class", "confidence", "model_version", "material",
                                       "kg", "latitude", "longitude", "created_at", "path"])


def match_outcomes(session: Session, *, since: datetime | None = None) -> pd.DataFrame:
    """Decided offers (accepted, declined, collected) as ``ayni.mlops.validation.INTERACTIONS`` rows.

    Each row also carries what the ranker can use from the database (match id, partner radius and kind,
    producer kind, the photo's confidence, when the listing was published)."""
    decided = ("accepted", "declined", "collected", "cancelled")
    stmt = select(Match, Listing, Partner, Producer).join(Listing, Listing.id == Match.listing_id).join(
        Partner, Partner.id == Match.partner_id).join(Producer, Producer.id == Listing.producer_id).where(
        Match.status.in_(decided))
    if since is not None:
        stmt = stmt.where(Match.updated_at >= since)
    rows = []
    for match, listing, partner, producer in session.execute(stmt.order_by(Match.id)):
        dist = float(haversine_km_pairs(np.array([listing.latitude]), np.array([listing.longitude]),
                                        np.array([partner.latitude]), np.array([partner.longitude]))[0])
        rows.append({
            "match_id": match.id, "listing_id": listing.id, "partner_id": partner.id,
            "producer_id": listing.producer_id, "material": match.material, "kg": float(listing.estimated_kg),
            "distance_km": dist, "price_cents_per_kg": match.agreed_price_cents_per_kg,
            "accepted": match.status in ("accepted", "collected"), "collected": match.status == "collected",
            "weighed_kg": float(match.weighed_kg) if match.weighed_kg is not None else None,
            "paid_cents": match.paid_cents, "decided_at": match.updated_at,
            "radius_km": float(partner.service_radius_km), "partner_kind": partner.kind, "producer_kind": producer.kind,
            "photo_confidence": listing.predicted_confidence, "created_at": listing.created_at,
        })  # fmt: skip
    return pd.DataFrame(rows)


def ranker_outcomes(session: Session, *, media_dir: Path, since: datetime | None = None) -> pd.DataFrame:
    """The ranker's real labels: decided matches, with weighed kg and price paid from collection feedback.

    One row per match: a collection-outcome feedback row (the producer confirmed the hand-over, weighed kg,
    soles paid) overrides what the match row says; its id is kept as ``feedback_id`` (provenance)."""
    matches = match_outcomes(session, since=since)
    if matches.empty:
        return matches
    outcomes = collection_outcomes(feedback_frame(session, media_dir=media_dir, since=since))
    outcomes = outcomes[outcomes["match_id"].notna()].drop_duplicates("match_id", keep="last")
    fb = outcomes.set_index(outcomes["match_id"].astype(int))
    ids = matches["match_id"].astype(int)
    hit = ids.isin(fb.index)
    for col in ("collected", "weighed_kg", "paid_cents"):
        matches.loc[hit, col] = fb.loc[ids[hit], col].to_numpy()
    matches.loc[hit, "accepted"] = True
    matches["feedback_id"] = ids.map(fb["id"]) if len(fb) else None
    return matches

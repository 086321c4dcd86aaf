"""Training sets from interaction logs, and ranking metrics (NDCG@k, recall@k).

``training_set`` walks the log week by week: each week's rows get features from the history of the
weeks *before* it, then the week's outcomes join the history (and the collaborative factors are
refitted). The label is 1 when the partner accepted and the producer handed the waste over.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ayni.matching.history import InteractionHistory, ListingEvent, Outcome
from ayni.matching.ranker import FEATURES, pair_features

FloatArray = NDArray[np.float64]
_AGE = FEATURES.index("listing_age_days")


def outcomes_of(events: Sequence[ListingEvent]) -> list[Outcome]:
    """The events' offers as history ``Outcome`` records."""
    return [Outcome(e.listing.producer_id, e.candidates[o.position].partner_id, e.listing.producer_kind,
                    o.accepted, o.collected) for e in events for o in e.offers]


def training_set(weeks: Sequence[Sequence[ListingEvent]], *, history: InteractionHistory | None = None,
                 latent_rank: int = 8) -> tuple[FloatArray, NDArray[np.int64], InteractionHistory]:
    """(X, y, the history after the last week) from a time-ordered log, without look-ahead."""
    history = history or InteractionHistory()
    rows: list[FloatArray] = []
    labels: list[int] = []
    for events in weeks:
        for e in events:
            if not e.offers:
                continue
            x = pair_features(e.listing, e.candidates, history=history, now=e.listing.created_at)
            for o in e.offers:
                row = x[o.position].copy()
                row[_AGE] = (o.decided_at - e.listing.created_at).total_seconds() / 86400.0
                rows.append(row)
                labels.append(int(o.collected))
        history.add(outcomes_of(events))
        history.refresh_latent(rank=latent_rank)
    X = np.vstack(rows) if rows else np.empty((0, len(FEATURES)))
    return X, np.asarray(labels, dtype=np.int64), history


def ndcg_at_k(ranked_gains: FloatArray, *, k: int) -> float:
    """NDCG@k of one ranked list of non-negative gains (the ideal is the same gains sorted)."""
    gains = np.asarray(ranked_gains, dtype=np.float64)
    discounts = 1.0 / np.log2(np.arange(2, min(k, len(gains)) + 2))
    ideal = np.sort(gains)[::-1][:k]
    idcg = float(ideal @ discounts[: len(ideal)])
    return float(gains[:k] @ discounts[: min(k, len(gains))]) / idcg if idcg > 0 else 0.0


def recall_at_k(ranked_relevant: NDArray[np.bool_], *, k: int) -> float:
    """Share of the relevant items that appear in the first k."""
    rel = np.asarray(ranked_relevant, dtype=bool)
    total = int(rel.sum())
    return float(rel[:k].sum()) / total if total else 0.0

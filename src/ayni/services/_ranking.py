"""Ranking one listing's candidates at live capacity with any acceptance estimator (``services.matching``'s
engine room): the rule's shortcut (full-capacity values bound live ones, P never rises as capacity fills)
and the exact path for any P (a learnt one), which bounds values by ``max_p`` instead; P for a partner's
(listing, candidate) pairs in one model call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from ayni.matching.entities import Candidate, ListingInput, Recommendation
from ayni.matching.index import PartnerIndex
from ayni.matching.ranker import LearntAcceptance, context_of, pair_features
from ayni.matching.scoring import AcceptanceEstimator, ScoringConfig, rank_candidates, transport_cents
from ayni.storage.tables import CapacityReservation


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


@lru_cache(maxsize=1)
def _reserved_query() -> Select[Any]:
    """Reserved kg of some partners in some weeks (a Core statement built once: a request only binds it)."""
    t = CapacityReservation.__table__.c
    return select(t.partner_id, t.material, t.week_start, t.reserved_kg).where(
        t.partner_id.in_(bindparam("partners", expanding=True)), t.week_start.in_(bindparam("weeks", expanding=True)))


def _reserved(session: Session, keys: set[tuple[int, str, date]]) -> dict[tuple[int, str, date], Decimal]:
    if not keys:
        return {}
    rows = session.connection().execute(_reserved_query(), {"partners": sorted({k[0] for k in keys}),
                                                            "weeks": sorted({k[2] for k in keys})})
    return {(p, m, w): kg for p, m, w, kg in rows if (p, m, w) in keys}


def _live(candidates: list[Candidate], reserved: dict[tuple[int, str, date], Decimal], index: PartnerIndex,
          listing: ListingInput) -> list[Candidate]:
    """The candidates that still have room for the listing, with their live capacity and fill rate (a
    candidate with nothing reserved keeps the catalogue's full capacity and zero fill rate as they are)."""
    out = []
    for c in candidates:
        taken = reserved.get((c.partner_id, c.offer_material, week_start(c.pickup_date))) if reserved else None
        if not taken:
            out.append(c)
            continue
        offer = index.by_id[c.partner_id].offer_for(listing.material)
        assert offer is not None
        left = offer.weekly_capacity_kg - taken
        if left >= listing.kg:
            fill = float(1 - left / offer.weekly_capacity_kg) if offer.weekly_capacity_kg > 0 else 1.0
            out.append(replace(c, capacity_left_kg=left, offer_fill_rate=fill))
    return out


def rank_monotone(session: Session, li: ListingInput, optimistic: list[Candidate], index: PartnerIndex,
                  estimator: AcceptanceEstimator, *, now: datetime, top_k: int) -> tuple[list[Recommendation], int]:
    """Ranking for an estimator whose P never rises as capacity fills (the rule).

    Candidates come from the cached index at full capacity, so their values are optimistic (reserved
    capacity only lowers P(accept) through the fill rate, or removes a candidate). Live capacity is then
    read in batches, best optimistic value first, until the k-th best live value beats every optimistic
    value left: the result equals ranking every candidate at live capacity, for a few rows read."""
    config = ScoringConfig()
    p = estimator.p_accept(li, optimistic, now=now)
    values = [round(float(pi) * c.gross_cents) - transport_cents(c.distance_km, config=config)
              for pi, c in zip(p, optimistic, strict=True)]
    order = sorted(range(len(optimistic)), key=lambda i: -values[i])
    live: list[Candidate] = []
    batch = max(2 * top_k, 20)
    for start in range(0, len(order), batch):
        chunk = [optimistic[i] for i in order[start:start + batch]]
        keys = {(c.partner_id, c.offer_material, week_start(c.pickup_date)) for c in chunk}
        live += _live(chunk, _reserved(session, keys), index, li)
        nxt = start + batch
        if len(live) >= top_k and nxt < len(order):
            live_values = sorted((v for v in _values(li, live, estimator, now, config)), reverse=True)
            if live_values[top_k - 1] >= values[order[nxt]]:
                break
    return rank_candidates(li, live, estimator=estimator, now=now, config=config, top_k=top_k), len(live)


def rank_exact(session: Session, li: ListingInput, optimistic: list[Candidate], index: PartnerIndex,
               estimator: AcceptanceEstimator, *, now: datetime, top_k: int) -> tuple[list[Recommendation], int]:
    """Ranking for any estimator (a learnt P need not fall as capacity fills, so full-capacity values bound
    nothing). P ≤ ``max_p`` does: candidates are taken in batches by ``round(max_p × gross) − transport``
    and scored at live capacity, until the k-th best value beats the best bound left. Exact, and only the
    candidates that can reach the top k are scored; the capacity reserved for all of them is read in one
    query (one round trip: a batch costs a model call, not a query). The listing's full candidate list
    stays the context of the learnt features (best price, nearest partner)."""
    config = ScoringConfig()
    bound = _bounds(optimistic, config)
    order = np.argsort(-bound, kind="stable").tolist()
    weeks = {day: week_start(day) for day in {c.pickup_date for c in optimistic}}
    reserved = _reserved(session, {(c.partner_id, c.offer_material, weeks[c.pickup_date]) for c in optimistic})
    scorer = _Pooled(estimator, optimistic)
    live: list[Candidate] = []
    values: list[int] = []
    batch = max(4 * top_k, 64)
    for start in range(0, len(order), batch):
        fresh = _live([optimistic[i] for i in order[start:start + batch]], reserved, index, li)
        values += _values(li, fresh, scorer, now, config)
        live += fresh
        nxt = start + batch
        if len(values) >= top_k and nxt < len(order) and sorted(values, reverse=True)[top_k - 1] > bound[order[nxt]]:
            break
    return rank_candidates(li, live, estimator=scorer, now=now, config=config, top_k=top_k), len(live)


def _bounds(candidates: Sequence[Candidate], config: ScoringConfig) -> NDArray[np.int64]:
    """``round(max_p × gross) − transport_cents(distance)`` for each candidate, vectorised (``np.rint`` rounds
    half to even, as ``round`` does, on the same float products)."""
    gross = np.array([c.gross_cents for c in candidates], dtype=np.float64)
    dist = np.array([c.distance_km for c in candidates], dtype=np.float64)
    transport = np.rint(dist * config.trip_factor * config.transport_cents_per_km)
    return (np.rint(config.max_p * gross) - transport).astype(np.int64)


class _Pooled:
    """An estimator whose context features always see the listing's full candidate list, and that scores
    each candidate once per request (``rank_candidates`` asks again for the ones already scored)."""

    def __init__(self, estimator: AcceptanceEstimator, pool: Sequence[Candidate]) -> None:
        self.estimator = estimator
        # the learnt features read only the pool's best price and nearest distance: pass just what carries them
        self.pool = context_of(pool) if isinstance(estimator, LearntAcceptance) else pool
        self.source = estimator.source
        self._p: dict[tuple[int, str], float] = {}

    def p_accept(self, listing: ListingInput, candidates: Sequence[Candidate], *, now: datetime,
                 pool: Sequence[Candidate] | None = None) -> NDArray[np.float64]:
        todo = [c for c in candidates if (c.partner_id, c.offer_material) not in self._p]
        if todo:
            p = self.estimator.p_accept(listing, todo, now=now, pool=self.pool)
            self._p.update(((c.partner_id, c.offer_material), float(v)) for c, v in zip(todo, p, strict=True))
        return np.array([self._p[(c.partner_id, c.offer_material)] for c in candidates], dtype=np.float64)


def scorer_label(ranked: Sequence[Recommendation]) -> Literal["rule", "ranker"]:
    return "ranker" if ranked and ranked[0].p_source == LearntAcceptance.source else "rule"


def _values(listing: ListingInput, candidates: list[Candidate], estimator: AcceptanceEstimator, now: datetime,
            config: ScoringConfig) -> list[int]:
    p = estimator.p_accept(listing, candidates, now=now)
    return [round(float(pi) * c.gross_cents) - transport_cents(c.distance_km, config=config)
            for pi, c in zip(p, candidates, strict=True)]


def p_pairs(estimator: AcceptanceEstimator, pairs: Sequence[tuple[ListingInput, Candidate]], *,
            now: datetime) -> list[float]:
    """P for each (listing, candidate) pair, the pair alone as context; one model call for all the pairs
    when the estimator is the learnt one (a call per pair would walk every tree once per listing)."""
    if not pairs:
        return []
    if isinstance(estimator, LearntAcceptance):
        x = np.vstack([pair_features(li, [c], history=estimator.history, now=now) for li, c in pairs])
        p = estimator.model.predict_proba(x)[:, 1]
        return [float(v) for v in np.clip(p, estimator.config.min_p, estimator.config.max_p)]
    return [float(estimator.p_accept(li, [c], now=now)[0]) for li, c in pairs]

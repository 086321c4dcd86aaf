"""The exact top-k for any acceptance estimator (``services._ranking.rank_exact``): the same answer as
scoring every candidate at live capacity, for a fraction of the scoring."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ayni.matching.candidates import candidates_for_listing
from ayni.matching.entities import Candidate, ListingInput
from ayni.matching.index import PartnerIndex
from ayni.matching.scoring import rank_candidates
from ayni.services._ranking import rank_exact, week_start
from tests.unit.matching._factories import LIMA, MONDAY, listing, offer, partner

NOW = datetime(2026, 3, 1, 12)


class Erratic:
    """A P with no order at all: pseudo-random per partner, and *higher* when the offer is fuller."""

    source = "model"

    def __init__(self) -> None:
        self.scored = 0

    def p_accept(self, listing: ListingInput, candidates: Sequence[Candidate], *, now: datetime,
                 pool: Sequence[Candidate] | None = None) -> NDArray[np.float64]:
        self.scored += len(candidates)
        base = np.array([((c.partner_id * 7919) % 101) / 101 for c in candidates])
        return np.clip(0.1 + 0.6 * base + 0.3 * np.array([c.offer_fill_rate for c in candidates]), 0.02, 0.98)


class Reservations:
    """A session stand-in whose only query, the capacity reservations, answers ``rows`` (and counts itself)."""

    def __init__(self, rows: list[tuple[int, str, Any, Decimal]]) -> None:
        self.rows = rows
        self.queries = 0

    def connection(self) -> Reservations:
        return self

    def execute(self, _statement: object, _params: object = None) -> Iterator[tuple[int, str, Any, Decimal]]:
        self.queries += 1
        return iter(self.rows)


def test_rank_exact_equals_scoring_every_candidate_at_live_capacity() -> None:
    rng = np.random.default_rng(3)
    partners = [partner(i, lat=LIMA[0] + rng.normal(0, 0.03), lon=LIMA[1] + rng.normal(0, 0.03), radius_km=20,
                        offers=(offer(price=int(rng.integers(20, 300)), min_kg="0", capacity="100"),))
                for i in range(1, 301)]
    index = PartnerIndex(partners)
    li = listing(kg="10")
    candidates = candidates_for_listing(li, index, not_before=MONDAY)
    assert len(candidates) > 200
    week = week_start(candidates[0].pickup_date)
    reserved = {c.partner_id: Decimal(int(rng.integers(0, 100))) for c in candidates[::3]}
    session = Reservations([(p, "PET", week, kg) for p, kg in reserved.items()])

    estimator = Erratic()
    got, _ = rank_exact(session, li, candidates, index, estimator, now=NOW, top_k=10)  # type: ignore[arg-type]

    live = [replace(c, capacity_left_kg=Decimal(100) - reserved.get(c.partner_id, Decimal(0)),
                    offer_fill_rate=float(reserved.get(c.partner_id, Decimal(0)) / 100)) for c in candidates]
    live = [c for c in live if c.capacity_left_kg >= li.kg]
    want = rank_candidates(li, live, estimator=Erratic(), now=NOW, top_k=10)
    assert [(r.partner_id, r.expected_net_cents) for r in got] == [(r.partner_id, r.expected_net_cents) for r in want]
    assert all(r.p_source == "model" for r in got)
    assert estimator.scored < len(candidates) / 2  # each candidate scored once, and most never
    assert session.queries == 1  # the reservations of every candidate in one round trip, not one per batch

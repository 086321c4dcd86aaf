from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import numpy as np
import pytest

from ayni.matching.allocation import capacity_violations, greedy, lp_bound, milp_optimum, optimise
from ayni.matching.arcs import ArcTable, build_arcs

from ._factories import LIMA, listing, offer, partner


def _world(seed: int, *, n_listings: int = 7, n_partners: int = 3):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    partners = [partner(i + 1, lat=LIMA[0] + float(rng.normal(0, 0.02)), lon=LIMA[1] + float(rng.normal(0, 0.02)),
                        offers=(offer("PET", price=int(rng.integers(80, 160)), capacity="40",
                                      left=str(int(rng.integers(10, 40)))),))
                for i in range(n_partners)]
    listings = [listing(j + 1, kg=str(int(rng.integers(3, 20))), lat=LIMA[0] + float(rng.normal(0, 0.02)),
                        lon=LIMA[1] + float(rng.normal(0, 0.02)), created=datetime(2026, 3, 1, 8) + timedelta(hours=j))
                for j in range(n_listings)]
    return listings, partners


def _brute_force(table: ArcTable) -> int:
    arcs = np.flatnonzero(table.arc_value > 0)
    options = [[None] + [int(a) for a in arcs if table.arc_listing[a] == i] for i in range(len(table.listing_ids))]
    best = 0
    for combo in itertools.product(*options):
        chosen = np.array([a for a in combo if a is not None], dtype=np.int64)
        if not capacity_violations(table, chosen):
            best = max(best, int(table.arc_value[chosen].sum()))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_optimiser_equals_brute_force_and_milp_on_tiny_instances(seed: int) -> None:
    table = build_arcs(*_world(seed))
    result = optimise(table, time_limit_s=5)
    assert result.status == "OPTIMAL"
    assert result.total_value_cents == _brute_force(table) == milp_optimum(table)
    assert result.total_value_cents <= lp_bound(table) + 1e-6


@pytest.mark.parametrize("seed", range(4))
def test_no_method_ever_overbooks(seed: int) -> None:
    table = build_arcs(*_world(seed, n_listings=60, n_partners=6))
    for result in [optimise(table, time_limit_s=5)] + [greedy(table, rule=r) for r in ("nearest", "highest_price",
                                                                                       "fcfs")]:
        assert capacity_violations(table, result.chosen) == []
        assert result.total_value_cents == int(table.arc_value[result.chosen].sum())


def test_large_instances_are_bounded_by_the_lp() -> None:
    table = build_arcs(*_world(9, n_listings=120, n_partners=8))
    result = optimise(table, time_limit_s=5, exact_arc_limit=0)
    assert result.status == "BOUNDED" and capacity_violations(table, result.chosen) == []
    assert result.bound_cents is not None and result.total_value_cents <= result.bound_cents
    assert result.bound_cents == pytest.approx(lp_bound(table), abs=1)


def test_optimiser_beats_or_ties_every_greedy_baseline() -> None:
    table = build_arcs(*_world(3, n_listings=40, n_partners=4))
    best = optimise(table, time_limit_s=5).total_value_cents
    assert all(best >= greedy(table, rule=r).total_value_cents for r in ("nearest", "highest_price", "fcfs"))


def test_capacity_violations_detects_an_overbooking() -> None:
    listings = [listing(1, kg="10"), listing(2, kg="10")]
    table = build_arcs(listings, [partner(offers=(offer(capacity="15"),))])
    assert len(capacity_violations(table, np.arange(table.n_arcs))) == 1


def test_greedy_nearest_takes_the_nearest_and_highest_price_the_best_payer() -> None:
    near = partner(1, lat=LIMA[0] + 0.011, offers=(offer(price=90),))
    far = partner(2, lat=LIMA[0] + 0.04, offers=(offer(price=150),))
    table = build_arcs([listing(lat=LIMA[0] + 0.01)], [near, far])
    nearest, priciest = greedy(table, rule="nearest"), greedy(table, rule="highest_price")
    assert table.arc_partner[nearest.chosen].tolist() == [1]
    assert table.arc_partner[priciest.chosen].tolist() == [2]


def test_first_come_first_served_gives_scarce_capacity_to_the_earliest_listing() -> None:
    early = listing(1, kg="10", created=datetime(2026, 3, 1, 8))
    late = listing(2, kg="10", created=datetime(2026, 3, 1, 9))
    table = build_arcs([late, early], [partner(offers=(offer(capacity="12"),))])
    fcfs = greedy(table, rule="fcfs")
    assert table.listing_ids[table.arc_listing[fcfs.chosen]].tolist() == [1]


def test_unknown_greedy_rule_is_refused() -> None:
    table = build_arcs([listing()], [partner()])
    with pytest.raises(ValueError, match="unknown greedy rule"):
        greedy(table, rule="random")

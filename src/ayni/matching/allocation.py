"""Capacity-aware allocation of all open listings to partners, and the baselines it must beat.

Listings are unsplittable (a bag goes to one partner), so this is a generalised assignment problem —
an integer program, not a min-cost flow (a flow would split a listing's kilograms across partners and
its optimum can be infeasible). Two reductions that cannot change the optimum come first:

1. a capacity key (partner, offer material) whose every profitable arc fits at once is *slack*: its
   constraint is dropped;
2. a listing whose best arc goes to a slack key takes it (it earns its maximum and uses no scarce
   capacity); for the others, arcs worth no more than their best slack arc are dominated and dropped.

What is left goes to OR-Tools CP-SAT when it is small enough to solve in the time limit (exact,
status ``OPTIMAL`` when proven). A city-sized remainder is a multi-knapsack with thousands of
binding capacities that CP-SAT (and HiGHS/SCIP) do not close in seconds on two cores; it is solved
by a portfolio of capacity-aware greedy orders plus an LP-guided rounding, and reported with the LP
relaxation optimum as a proven bound (status ``BOUNDED``), so the gap to optimal is always known.
Only arcs with positive expected net value are eligible (a negative arc lowers the objective).
``lp_bound`` (SciPy/HiGHS linear relaxation) and ``milp_optimum`` (SciPy/HiGHS branch and bound) are
independent checks.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from numpy.typing import NDArray
from ortools.sat.python import cp_model
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_matrix, vstack

from ayni.matching.arcs import ArcTable

log = logging.getLogger(__name__)
IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Assignment:
    listing_id: int
    partner_id: int
    offer_material: str
    kg: Decimal
    expected_net_cents: int
    distance_km: float


@dataclass(frozen=True)
class AllocationResult:
    method: str
    chosen: IntArray  # arc indices into the ArcTable
    total_value_cents: int
    kg_placed: Decimal
    status: str
    bound_cents: int | None
    seconds: float

    @property
    def n_assigned(self) -> int:
        return len(self.chosen)

    def assignments(self, table: ArcTable) -> list[Assignment]:
        return [Assignment(int(table.listing_ids[table.arc_listing[a]]), int(table.arc_partner[a]),
                           table.key_material[table.arc_key[a]],
                           Decimal(int(table.listing_grams[table.arc_listing[a]])) / 1000,
                           int(table.arc_value[a]), float(table.arc_distance_km[a])) for a in self.chosen]


def _result(table: ArcTable, chosen: IntArray, *, method: str, status: str, bound: int | None,
            start: float) -> AllocationResult:
    chosen = np.sort(np.asarray(chosen, dtype=np.int64))
    grams = int(table.listing_grams[table.arc_listing[chosen]].sum())
    return AllocationResult(method, chosen, int(table.arc_value[chosen].sum()), Decimal(grams) / 1000,
                            status, bound, time.perf_counter() - start)


def capacity_violations(table: ArcTable, chosen: IntArray) -> list[tuple[int, str, int, int]]:
    """(partner id, material, grams used, grams available) for every overbooked key; also checks that
    no listing is assigned twice (reported as key −1)."""
    chosen = np.asarray(chosen, dtype=np.int64)
    used = np.bincount(table.arc_key[chosen], weights=table.listing_grams[table.arc_listing[chosen]],
                       minlength=len(table.key_capacity_grams)).astype(np.int64)
    over = np.flatnonzero(used > table.key_capacity_grams)
    out = [(int(table.key_partner[k]), table.key_material[k], int(used[k]), int(table.key_capacity_grams[k]))
           for k in over]
    dup = np.bincount(table.arc_listing[chosen], minlength=len(table.listing_ids))
    out += [(-1, f"listing {int(table.listing_ids[i])} assigned {int(dup[i])} times", 0, 0)
            for i in np.flatnonzero(dup > 1)]
    return out


def greedy(table: ArcTable, *, rule: str, only_profitable: bool = True) -> AllocationResult:
    """Baselines. Listings in arrival order; each takes, among arcs with capacity left, the
    ``nearest`` partner, the ``highest_price`` one (ties: nearest) or — ``fcfs`` — its best expected value."""
    start = time.perf_counter()
    rank = np.empty(len(table.listing_ids), dtype=np.int64)
    rank[table.listing_order] = np.arange(len(table.listing_order))
    arcs = np.flatnonzero(table.arc_value > 0) if only_profitable else np.arange(table.n_arcs)
    if rule == "nearest":
        keys: tuple[NDArray[np.generic], ...] = (table.arc_distance_km[arcs],)
    elif rule == "highest_price":
        keys = (table.arc_distance_km[arcs], -table.arc_price[arcs])
    elif rule == "fcfs":
        keys = (table.arc_distance_km[arcs], -table.arc_value[arcs])
    else:
        raise ValueError(f"unknown greedy rule {rule!r}: use nearest, highest_price or fcfs")
    arcs = arcs[np.lexsort((*keys, rank[table.arc_listing[arcs]]))]
    chosen = _greedy_order(table, arcs, table.key_capacity_grams)
    return _result(table, chosen, method=rule, status="heuristic", bound=None, start=start)


def optimise(table: ArcTable, *, time_limit_s: float = 10.0, workers: int = 2, random_state: int = 0,
             exact_arc_limit: int = 20_000) -> AllocationResult:
    """The allocation maximising total expected net value without exceeding any capacity.

    After the exact reductions, a problem with at most ``exact_arc_limit`` arcs goes whole to CP-SAT,
    hinted with the best greedy solution (status ``OPTIMAL`` when proven, else ``FEASIBLE`` with the
    solver's bound). A larger one (a whole city) is a multi-knapsack that no exact solver here closes
    within seconds on two cores, so it gets the best of a portfolio of capacity-aware greedy orders
    (value per gram of capacity^α) and an LP-guided rounding, status ``BOUNDED``, with the LP relaxation
    optimum as the proven upper bound: the reported gap is the most the answer can be from optimal.
    """
    start = time.perf_counter()
    arcs = np.flatnonzero(table.arc_value > 0)
    demand = np.bincount(table.arc_key[arcs], weights=table.listing_grams[table.arc_listing[arcs]],
                         minlength=len(table.key_capacity_grams))
    slack = demand <= table.key_capacity_grams
    fixed, rest = _reduce(table, arcs, slack)
    log.info("allocation: %d arcs, %d listings fixed by slack capacity, %d arcs left", len(arcs), len(fixed),
             len(rest))
    fixed_arr = np.asarray(fixed, dtype=np.int64)
    fixed_value = int(table.arc_value[fixed_arr].sum())
    if len(rest) == 0:
        return _result(table, fixed_arr, method="optimal", status="OPTIMAL", bound=fixed_value, start=start)
    capacity = table.key_capacity_grams.copy()
    best = _portfolio(table, rest, capacity)
    if len(rest) <= exact_arc_limit:
        picked, status, bound = _cp_sat(table, rest, capacity, slack, hint=best, time_limit_s=time_limit_s,
                                        workers=workers, random_state=random_state)
        if int(table.arc_value[picked].sum()) < int(table.arc_value[best].sum()):
            picked = best
        return _result(table, np.concatenate((fixed_arr, picked)), method="optimal", status=status,
                       bound=fixed_value + bound, start=start)
    x, lp_value = _lp(table, rest, capacity)
    guided = _lp_rounding(table, rest, x)
    if int(table.arc_value[guided].sum()) > int(table.arc_value[best].sum()):
        best = guided
    return _result(table, np.concatenate((fixed_arr, best)), method="optimal", status="BOUNDED",
                   bound=fixed_value + int(np.floor(lp_value + 1e-6)), start=start)


def _greedy_order(table: ArcTable, order: IntArray, capacity: IntArray) -> IntArray:
    cap = capacity.copy()
    done = np.zeros(len(table.listing_ids), dtype=bool)
    out: list[int] = []
    for a, lpos, k in zip(order.tolist(), table.arc_listing[order].tolist(), table.arc_key[order].tolist(),
                          strict=True):
        g = int(table.listing_grams[lpos])
        if not done[lpos] and g <= cap[k]:
            cap[k] -= g
            done[lpos] = True
            out.append(a)
    return np.array(out, dtype=np.int64)


def _portfolio(table: ArcTable, arcs: IntArray, capacity: IntArray) -> IntArray:
    """Best of global greedy orders by value / grams^α, α ∈ {0, 0.5, 0.7, 0.85, 1}."""
    value = table.arc_value[arcs].astype(np.float64)
    grams = table.listing_grams[table.arc_listing[arcs]].astype(np.float64)
    best = np.empty(0, dtype=np.int64)
    for alpha in (0.0, 0.5, 0.7, 0.85, 1.0):
        chosen = _greedy_order(table, arcs[np.argsort(-value / grams**alpha, kind="stable")], capacity)
        if int(table.arc_value[chosen].sum()) > int(table.arc_value[best].sum()):
            best = chosen
    return best


def _lp_rounding(table: ArcTable, arcs: IntArray, x: NDArray[np.float64]) -> IntArray:
    """Arcs in decreasing LP weight (ties: value per gram), packed greedily."""
    value = table.arc_value[arcs].astype(np.float64)
    grams = table.listing_grams[table.arc_listing[arcs]].astype(np.float64)
    order = arcs[np.lexsort((-value / grams, -np.round(x, 6)))]
    return _greedy_order(table, order, table.key_capacity_grams)


def _cp_sat(table: ArcTable, arcs: IntArray, capacity: IntArray, slack: NDArray[np.bool_], *,
            hint: IntArray, time_limit_s: float, workers: int,
            random_state: int) -> tuple[IntArray, str, int]:
    """CP-SAT on ``arcs``: chosen arcs, status name and the proven objective bound (céntimos)."""
    if len(arcs) == 0:
        return np.empty(0, dtype=np.int64), "OPTIMAL", 0
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{a}") for a in arcs.tolist()]
    by_listing: dict[int, list[int]] = {}
    by_key: dict[int, list[int]] = {}
    for j, (lpos, k) in enumerate(zip(table.arc_listing[arcs].tolist(), table.arc_key[arcs].tolist(),
                                      strict=True)):
        by_listing.setdefault(lpos, []).append(j)
        if not slack[k]:
            by_key.setdefault(k, []).append(j)
    for js in by_listing.values():
        if len(js) > 1:
            model.add_at_most_one(x[j] for j in js)
    grams = table.listing_grams[table.arc_listing[arcs]].tolist()
    for k, js in by_key.items():
        model.add(sum(grams[j] * x[j] for j in js) <= int(capacity[k]))
    model.maximize(sum(v * xi for v, xi in zip(table.arc_value[arcs].tolist(), x, strict=True)))
    hinted = set(hint.tolist())
    for a, xi in zip(arcs.tolist(), x, strict=True):
        model.add_hint(xi, a in hinted)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = random_state
    code = solver.solve(model)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise RuntimeError(f"CP-SAT found no allocation (status {solver.status_name(code)})")
    picked = np.array([a for a, xi in zip(arcs.tolist(), x, strict=True) if solver.boolean_value(xi)],
                      dtype=np.int64)
    return picked, solver.status_name(code), int(np.floor(solver.best_objective_bound + 1e-6))


def _lp(table: ArcTable, arcs: IntArray, capacity: IntArray) -> tuple[NDArray[np.float64], float]:
    j = np.arange(len(arcs))
    a = vstack([
        csr_matrix((np.ones(len(arcs)), (table.arc_listing[arcs], j)), shape=(len(table.listing_ids), len(arcs))),
        csr_matrix((table.listing_grams[table.arc_listing[arcs]].astype(float), (table.arc_key[arcs], j)),
                   shape=(len(capacity), len(arcs))),
    ]).tocsr()
    ub = np.concatenate((np.ones(len(table.listing_ids)), capacity.astype(float)))
    res = linprog(-table.arc_value[arcs].astype(float), A_ub=a, b_ub=ub, bounds=(0, 1), method="highs")
    if not res.success:
        raise RuntimeError(f"LP relaxation failed: {res.message}")
    return np.asarray(res.x, dtype=np.float64), float(-res.fun)


def _reduce(table: ArcTable, arcs: IntArray, slack: NDArray[np.bool_]) -> tuple[list[int], IntArray]:
    """Exact reductions 1–2 of the module docstring: (arcs fixed in the solution, arcs left to solve)."""
    n = len(table.listing_ids)
    best_slack = np.full(n, -1, dtype=np.int64)
    best_slack_value = np.zeros(n, dtype=np.int64)
    best_any = np.zeros(n, dtype=np.int64)
    lpos, val = table.arc_listing[arcs], table.arc_value[arcs]
    np.maximum.at(best_any, lpos, val)
    s_arcs = arcs[slack[table.arc_key[arcs]]]
    order = np.lexsort((-table.arc_value[s_arcs], table.arc_listing[s_arcs]))
    s_sorted = s_arcs[order]
    first = np.unique(table.arc_listing[s_sorted], return_index=True)
    best_slack[first[0]] = s_sorted[first[1]]
    best_slack_value[first[0]] = table.arc_value[s_sorted[first[1]]]
    has_slack = best_slack >= 0
    fix = has_slack & (best_slack_value >= best_any)
    fixed = best_slack[fix].tolist()
    keep = ~fix[lpos] & ((~has_slack[lpos]) | (val > best_slack_value[lpos]) | (arcs == best_slack[lpos]))
    return fixed, arcs[keep]


def _lp_parts(table: ArcTable) -> tuple[IntArray, csr_matrix, NDArray[np.float64]]:
    arcs = np.flatnonzero(table.arc_value > 0)
    j = np.arange(len(arcs))
    a_listing = csr_matrix((np.ones(len(arcs)), (table.arc_listing[arcs], j)),
                           shape=(len(table.listing_ids), len(arcs)))
    a_key = csr_matrix((table.listing_grams[table.arc_listing[arcs]].astype(float), (table.arc_key[arcs], j)),
                       shape=(len(table.key_capacity_grams), len(arcs)))
    ub = np.concatenate((np.ones(len(table.listing_ids)), table.key_capacity_grams.astype(float)))
    return arcs, vstack([a_listing, a_key]).tocsr(), ub


def lp_bound(table: ArcTable) -> float:
    """Upper bound on the optimum from the linear relaxation (SciPy linprog / HiGHS), in céntimos."""
    arcs, a, ub = _lp_parts(table)
    if len(arcs) == 0:
        return 0.0
    res = linprog(-table.arc_value[arcs].astype(float), A_ub=a, b_ub=ub, bounds=(0, 1), method="highs")
    if not res.success:
        raise RuntimeError(f"LP relaxation failed: {res.message}")
    return float(-res.fun)


def milp_optimum(table: ArcTable, *, time_limit_s: float = 60.0) -> int:
    """The exact integer optimum from SciPy's HiGHS MILP: an independent check for small instances."""
    arcs, a, ub = _lp_parts(table)
    if len(arcs) == 0:
        return 0
    res = milp(-table.arc_value[arcs].astype(float), constraints=LinearConstraint(a, -np.inf, ub),
               integrality=np.ones(len(arcs)), bounds=Bounds(0, 1), options={"time_limit": time_limit_s})
    if res.status != 0:
        raise RuntimeError(f"MILP did not prove optimality: {res.message}")
    return int(round(-res.fun))

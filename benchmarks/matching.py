"""Matching engine benchmark: ranking quality, Lima allocation, speed.

    python -m benchmarks.matching            # full (≈ 10 min on 2 quiet cores; 27 min at load 9)
    python -m benchmarks.matching --quick    # smaller instances, same code paths
    python -m benchmarks.matching --only ranking --behaviour v1   # the first behavioural model (printed)

All interactions are *simulated* (ayni.matching.simulate / behaviour); the city, its districts,
population, generation and composition are real (MINAM 2023, INEI). Figures go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import numpy as np

from ayni.matching.allocation import capacity_violations, greedy, lp_bound, milp_optimum, optimise
from ayni.matching.arcs import build_arcs
from ayni.matching.behaviour import (
    handover_probability,
    sample_outcome,
    simulate_history,
    true_accept_probability,
)
from ayni.matching.candidates import candidates_for_listing, listings_for_partner
from ayni.matching.evaluation import ndcg_at_k, outcomes_of, recall_at_k, select_hyperparameters, training_set
from ayni.matching.history import ListingEvent
from ayni.matching.index import ListingIndex, PartnerIndex
from ayni.matching.ranker import AcceptanceModel, LearntAcceptance, pair_features
from ayni.matching.routing import RouteConfig, Stop, plan_route
from ayni.matching.scoring import (
    RuleAcceptance,
    ScoringConfig,
    rank_candidates,
    rank_opportunities,
    transport_cents,
)
from ayni.matching.simulate import Community, SimPartner, SimProducer, lima_community, listings_for_week
from ayni.settings import get_settings

log = logging.getLogger("benchmarks.matching")
K = 10


@dataclass(frozen=True)
class Scale:
    rank_producers: int
    rank_partners: int
    rank_weeks: int
    test_weeks: int
    alloc_producers: int
    alloc_partners: int
    small_producers: int
    small_partners: int
    speed_partners: int
    speed_producers: int
    speed_queries: int


FULL = Scale(3000, 400, 10, 2, 12000, 600, 400, 25, 5000, 200_000, 1000)
QUICK = Scale(1500, 400, 6, 1, 12000, 600, 150, 10, 5000, 60_000, 300)


def _community(n_producers: int, n_partners: int, seed: int, behaviour: str = "v2") -> Community:
    return lima_community(get_settings().data_dir, n_producers=n_producers, n_partners=n_partners,
                          random_state=seed, behaviour=behaviour)


GRID: tuple[dict[str, float | int | None], ...] = tuple(
    {"learning_rate": lr, "max_leaf_nodes": leaves, "min_samples_leaf": msl, "max_iter": 400, "max_depth": None}
    for lr in (0.05, 0.1) for leaves in (15, 63) for msl in (40, 200))


def ranking(scale: Scale, seed: int = 11, behaviour: str = "v2") -> tuple[str, dict[str, float]]:
    """Learnt ranker vs baselines on the last ``test_weeks`` weeks (held out by time).

    Hyperparameters are chosen on the last training week (log loss of its logged offers, fitting on the
    weeks before it), then the model is refitted on every training week. Test listings are ranked with the
    history of every week before theirs (the logged offers of an earlier test week included, as in
    serving); the model is not refitted. Candidates: those whose lot is worth more than the trip (the only
    ones that can ever be relevant)."""
    config = ScoringConfig()
    community = _community(scale.rank_producers, scale.rank_partners, seed, behaviour)
    t0 = time.perf_counter()
    weeks = simulate_history(community, weeks=scale.rank_weeks, random_state=seed, config=config)
    train_weeks, test_weeks = weeks[: -scale.test_weeks], weeks[-scale.test_weeks:]
    X, y, history = training_set(train_weeks)
    n_fit = len(y) - sum(len(e.offers) for e in train_weeks[-1])
    params, tried = select_hyperparameters(X, y, n_fit=n_fit, grid=GRID, random_state=seed)
    model = AcceptanceModel(**params, random_state=seed).fit(X, y)
    log.info("ranking: simulated, tuned and fitted in %.1fs, %d training offers (positive rate %.3f), params %s",
             time.perf_counter() - t0, len(y), y.mean(), params)
    popularity: dict[int, int] = dict(history.partner_s)
    partners = {p.offer.partner_id: p for p in community.partners}
    producers = {p.producer_id: p for p in community.producers}
    rng = np.random.default_rng(seed + 1)
    rule = RuleAcceptance(config=config)
    scores: dict[str, list[tuple[float, float, float, float]]] = {m: [] for m in RANKERS}
    n_lists = n_cands = n_all = 0
    for events in test_weeks:
        for e in events:
            n_all += len(e.candidates)
            truth = _simulated_truth(e, partners=partners, producers=producers, rng=rng)
            keep = [i for i, c in enumerate(e.candidates) if c.gross_cents > transport_cents(c.distance_km, config=config)]
            if len(keep) < 2:
                continue
            cands = [e.candidates[i] for i in keep]
            p_true, p_hand, success = (t[keep] for t in truth)
            now = e.listing.created_at
            gross = np.array([c.gross_cents for c in cands], dtype=np.float64)
            transport = np.array([transport_cents(c.distance_km, config=config) for c in cands], dtype=np.float64)
            net = gross - transport
            gain = np.where(success, net / 100, 0.0)
            relevant = gain > 0
            if not relevant.any():
                continue
            n_lists += 1
            n_cands += len(cands)
            dist = np.array([c.distance_km for c in cands])
            price = np.array([c.price_cents_per_kg for c in cands])
            p_learnt = model.predict_proba(pair_features(e.listing, cands, history=history, now=now))[:, 1]
            p_rule = rule.p_accept(e.listing, cands, now=now)
            pop = np.array([popularity.get(c.partner_id, 0) for c in cands])
            orders = {
                "learnt": np.lexsort((dist, -(p_learnt * gross - transport))),
                "learnt, P × net": np.lexsort((dist, -(p_learnt * net))),
                "rule": np.lexsort((dist, -(p_rule * gross - transport))),
                "nearest": np.argsort(dist, kind="stable"),
                "highest_price": np.lexsort((dist, -price)),
                "popularity": np.lexsort((dist, -pop)),
                "oracle (hidden truth)": np.lexsort((dist, -(p_true * p_hand * net))),
            }
            for name, order in orders.items():
                scores[name].append((ndcg_at_k(gain[order], k=K), recall_at_k(relevant[order], k=K),
                                     recall_at_k(relevant[order], k=K, capped=False), float(len(cands) > K)))
        history.add(outcomes_of(events))
        history.refresh_latent()
    means = _means(scores, more_than_k=True)
    means_all = _means(scores, more_than_k=False)
    n_big = int(sum(s[3] for s in scores["learnt"]))
    grid_txt = "; ".join(f"lr {p['learning_rate']}, {p['max_leaf_nodes']} leaves, min leaf {p['min_samples_leaf']}: "
                         f"{p['max_iter']} trees, log loss {loss:.4f}" for p, loss in tried)
    lines = [
        f"Lima Metropolitana community ({behaviour} behaviour): {scale.rank_producers:,} producers, "
        f"{scale.rank_partners} partners, {scale.rank_weeks} simulated weeks; trained on weeks "
        f"1–{scale.rank_weeks - scale.test_weeks} ({len(y):,} logged offers, {y.mean():.1%} accepted and "
        f"collected), evaluated on the last {scale.test_weeks} week(s): {n_lists:,} listings with at least "
        f"one partner that would accept and collect, {n_cands:,} (listing, partner) candidates whose lot is "
        f"worth more than the trip (of {n_all:,} eligible), each with a simulated outcome.",
        "",
        f"Hyperparameters chosen on week {scale.rank_weeks - scale.test_weeks} (fit on the weeks before it; "
        f"log loss of its logged offers), then refitted on all training weeks: {grid_txt}.",
        "",
        "Gain = realised net soles (price × kg − transport) when the partner accepts and the producer hands "
        "over, else 0; relevant = gain > 0. NDCG@10 with those graded gains; recall@10 = relevant in the top "
        "10 / min(10, relevant) (capped; the uncapped form, / relevant, is in the last column). `learnt` ranks "
        "by P × price × kg − transport, as `rank_candidates` does; `learnt, P × net` by P × (price × kg − "
        "transport); the oracle by the hidden P(accept) × P(hand over) × net. In brackets: 95 % paired bootstrap "
        "interval over listings (1,000 resamples).",
        "",
    ]
    lines += [f"**Listings with more than {K} candidates** ({n_big:,}; where the top 10 is a real choice):", ""]
    lines += _table(means, _intervals(scores, more_than_k=True))
    lines += ["", f"All {n_lists:,} listings (those with ≤ {K} candidates have recall 1 under any order):", ""]
    lines += _table(means_all, _intervals(scores, more_than_k=False))
    figures = ({f"ndcg_{m}": v[0] for m, v in means.items()} | {f"recall_{m}": v[1] for m, v in means.items()}
               | {f"recall_uncapped_{m}": v[2] for m, v in means.items()})
    return "\n".join(lines), figures


def _simulated_truth(e: ListingEvent, *, partners: dict[int, SimPartner], producers: dict[int, SimProducer],
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every eligible candidate of a test listing: the hidden P(accept), P(hand over) and one simulated
    outcome (accepted and handed over) — possible only in simulation."""
    producer = producers[e.listing.producer_id]
    now = e.listing.created_at
    p_true = np.array([true_accept_probability(partners[c.partner_id], producer, e.listing,
                                               distance_km=c.distance_km, now=now) for c in e.candidates])
    p_hand = np.array([handover_probability(producer, e.listing, pickup=c.pickup_date,
                                            price_cents_per_kg=c.price_cents_per_kg) for c in e.candidates])
    success = np.array([sample_outcome(rng, float(pt), producer, p_handover=float(ph))[1]
                        for pt, ph in zip(p_true, p_hand, strict=True)], dtype=bool)
    return p_true, p_hand, success


RANKERS = ("learnt", "learnt, P × net", "rule", "nearest", "highest_price", "popularity", "oracle (hidden truth)")


def _means(scores: dict[str, list[tuple[float, float, float, float]]], *,
           more_than_k: bool) -> dict[str, tuple[float, float, float]]:
    out = {}
    for m, rows in _rows(scores, more_than_k=more_than_k).items():
        mean = rows.mean(axis=0) if len(rows) else np.full(3, np.nan)
        out[m] = (float(mean[0]), float(mean[1]), float(mean[2]))
    return out


def _rows(scores: dict[str, list[tuple[float, float, float, float]]], *, more_than_k: bool) -> dict[str, np.ndarray]:
    return {m: np.array([r[:3] for r in v if r[3] or not more_than_k]).reshape(-1, 3) for m, v in scores.items()}


def _intervals(scores: dict[str, list[tuple[float, float, float, float]]], *, more_than_k: bool,
               n_boot: int = 1000, seed: int = 0) -> dict[str, tuple[tuple[float, float], tuple[float, float]]]:
    """95 % paired bootstrap intervals (listings resampled) of learnt's relative gain over each ranker, for
    NDCG@10 and recall@10."""
    rows = _rows(scores, more_than_k=more_than_k)
    n = len(rows["learnt"])
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    learnt = rows["learnt"][:, :2][idx].mean(axis=1)
    out = {}
    for m, r in rows.items():
        ratio = learnt / r[:, :2][idx].mean(axis=1) - 1
        lo, hi = np.percentile(ratio, [2.5, 97.5], axis=0)
        out[m] = ((float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1])))
    return out


def _table(means: dict[str, tuple[float, float, float]],
           intervals: dict[str, tuple[tuple[float, float], tuple[float, float]]]) -> list[str]:
    lines = ["| ranker | NDCG@10 | recall@10 | learnt vs it (NDCG) | learnt vs it (recall) | recall@10 uncapped |",
             "|---|---:|---:|---:|---:|---:|"]
    ln, lr, _ = means["learnt"]
    for name, (nd, rc, ru) in means.items():
        (nlo, nhi), (rlo, rhi) = intervals[name]
        vs_n = f"{(ln / nd - 1):+.1%} [{nlo:+.1%}, {nhi:+.1%}]" if name != "learnt" and nd > 0 else "—"
        vs_r = f"{(lr / rc - 1):+.1%} [{rlo:+.1%}, {rhi:+.1%}]" if name != "learnt" and rc > 0 else "—"
        lines.append(f"| {name} | {nd:.4f} | {rc:.4f} | {vs_n} | {vs_r} | {ru:.4f} |")
    return lines


def allocation(scale: Scale, seed: int = 5) -> str:
    community = _community(scale.alloc_producers, scale.alloc_partners, seed)
    listings = listings_for_week(community, 0, random_state=seed)
    t0 = time.perf_counter()
    table = build_arcs(listings, community.partner_offers)
    build_s = time.perf_counter() - t0
    results = [optimise(table, time_limit_s=10.0)] + [greedy(table, rule=r) for r in
                                                     ("fcfs", "nearest", "highest_price")]
    lp = lp_bound(table)
    base = results[0].total_value_cents
    lines = [
        f"Lima Metropolitana: {len(community.districts)} districts, {len(listings):,} open listings "
        f"({sum(float(x.kg) for x in listings):,.0f} kg), {len(community.partners)} partners, "
        f"{len(table.key_capacity_grams):,} (partner, material) capacities, {table.n_arcs:,} feasible arcs "
        f"({int((table.arc_value > 0).sum()):,} with positive expected value); arcs built in {build_s:.2f} s.",
        "",
        "| method | expected net income | kg placed | listings placed | capacity violations | time |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        viol = len(capacity_violations(table, r.chosen))
        rel = "" if r is results[0] else f" ({base / r.total_value_cents - 1:+.1%} for the optimiser)"
        lines.append(f"| {r.method} ({r.status}) | S/ {r.total_value_cents / 100:,.2f}{rel} | {r.kg_placed:,.0f} | "
                     f"{r.n_assigned:,} | {viol} | {r.seconds:.2f} s |")
    lines += ["", f"LP relaxation bound (SciPy HiGHS, independent): S/ {lp / 100:,.2f}; the optimiser is within "
              f"{1 - base / lp:.2%} of it (an upper bound on the distance to the true optimum)."]
    lines += ["", _small_instance(scale, seed)]
    return "\n".join(lines)


def _small_instance(scale: Scale, seed: int) -> str:
    community = _community(scale.small_producers, scale.small_partners, seed + 100)
    listings = listings_for_week(community, 0, random_state=seed)
    table = build_arcs(listings, community.partner_offers)
    opt = optimise(table, time_limit_s=30.0)
    t0 = time.perf_counter()
    exact = milp_optimum(table, time_limit_s=120.0)
    milp_s = time.perf_counter() - t0
    lp = lp_bound(table)
    return (f"Smaller instance ({len(listings)} listings, {len(community.partners)} partners, "
            f"{int((table.arc_value > 0).sum())} profitable arcs): CP-SAT {opt.status} S/ "
            f"{opt.total_value_cents / 100:,.2f} in {opt.seconds:.2f} s; independent SciPy/HiGHS MILP optimum "
            f"S/ {exact / 100:,.2f} ({milp_s:.1f} s) — {'equal' if exact == opt.total_value_cents else 'DIFFERENT'}; "
            f"LP relaxation S/ {lp / 100:,.2f}; capacity violations "
            f"{len(capacity_violations(table, opt.chosen))}.")


def speed(scale: Scale, seed: int = 3) -> str:
    community = _community(scale.speed_producers // 2, scale.speed_partners, seed)
    partners = community.partner_offers
    t0 = time.perf_counter()
    index = PartnerIndex(partners)
    index_s = time.perf_counter() - t0
    listings = []
    week = 0
    while len(listings) < scale.speed_producers:
        listings += listings_for_week(community, week, random_state=seed, first_id=len(listings) + 1)
        week += 1
    listings = listings[: scale.speed_producers]
    weeks = simulate_history(_community(800, 120, seed), weeks=3, random_state=seed)
    X, y, history = training_set(weeks)
    model = AcceptanceModel(random_state=seed).fit(X, y)
    learnt = LearntAcceptance(model, history)
    rng = np.random.default_rng(seed)
    queries = [listings[i] for i in rng.choice(len(listings), scale.speed_queries, replace=False)]
    lat_ms, cpu_ms, n_cand = [], [], []
    for x in queries:
        t, c = time.perf_counter(), time.process_time()
        cands = candidates_for_listing(x, index)
        rank_candidates(x, cands, estimator=learnt, now=x.created_at + timedelta(hours=1), top_k=K)
        lat_ms.append((time.perf_counter() - t) * 1000)
        cpu_ms.append((time.process_time() - c) * 1000)
        n_cand.append(len(cands))
    t0 = time.perf_counter()
    lindex = ListingIndex(listings)
    lindex_s = time.perf_counter() - t0
    opp_ms = []
    for p in partners[:200]:
        t = time.perf_counter()
        pairs = listings_for_partner(p, lindex, limit=200)
        rank_opportunities(pairs, estimator=learnt, now=queries[0].created_at, top_k=20)
        opp_ms.append((time.perf_counter() - t) * 1000)
    route_s, n_trips = _route_time(community, seed)
    lat = np.array(lat_ms)
    return "\n".join([
        f"Top-10 matches for a listing (candidates via the per-material KD-tree + learnt P + explanations), "
        f"{len(partners):,} partners in Lima, {len(queries)} random listings out of {len(listings):,}: "
        f"p50 {np.percentile(lat, 50):.1f} ms, p95 {np.percentile(lat, 95):.1f} ms, "
        f"**p99 {np.percentile(lat, 99):.1f} ms** wall; process CPU time p50 {np.percentile(cpu_ms, 50):.1f} ms, "
        f"p99 {np.percentile(cpu_ms, 99):.1f} ms (median {int(np.median(n_cand))} eligible candidates, "
        f"max {max(n_cand)}; load average during the run {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores); "
        f"partner index built in {index_s * 1000:.0f} ms. In memory — the database-backed figure is measured "
        "by the services layer.",
        f"Opportunities for a partner over {len(listings):,} open listings (KD-tree on listings, built in "
        f"{lindex_s:.2f} s), the 200 largest eligible listings ranked by expected kg with the learnt P, top 20: "
        f"p50 {np.percentile(opp_ms, 50):.1f} ms, p99 {np.percentile(opp_ms, 99):.1f} ms (200 partners).",
        f"Pickup route, 40 stops, vehicle 500 kg (OR-Tools routing, guided local search, 1 s limit): "
        f"{route_s:.2f} s wall, {n_trips} trip(s).",
    ])


def _route_time(community: Community, seed: int) -> tuple[float, int]:
    rng = np.random.default_rng(seed)
    base = community.partners[0].offer
    stops = [Stop(i, base.lat + float(rng.normal(0, 0.02)), base.lon + float(rng.normal(0, 0.02)),
                  Decimal(str(round(float(rng.uniform(2, 40)), 1)))) for i in range(40)]
    t = time.perf_counter()
    route = plan_route(depot_lat=base.lat, depot_lon=base.lon, stops=stops, config=RouteConfig())
    return time.perf_counter() - t, len(route.trips)


def main() -> None:
    from benchmarks._report import write_section

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["ranking", "allocation", "speed"], default=None)
    parser.add_argument("--behaviour", choices=["v1", "v2"], default="v2",
                        help="hidden behaviour of the ranking benchmark's community (v1: the first model)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    scale = QUICK if args.quick else FULL
    parts = []
    if args.only in (None, "ranking"):
        text, _ = ranking(scale, behaviour=args.behaviour)
        parts.append("### Ranking (time-held-out simulated interactions)\n\n" + text)
    if args.only in (None, "allocation"):
        parts.append("### Allocation (Lima Metropolitana)\n\n" + allocation(scale))
    if args.only in (None, "speed"):
        parts.append("### Speed\n\n" + speed(scale))
    body = "## Matching engine" + (" (quick)" if args.quick else "") + "\n\n" + (
        "Interactions are simulated (docs/matching.md states the behavioural model); districts, population, "
        "generation and composition are MINAM/INEI data; prices and capacities are demo assumptions.\n\n")
    body += "\n\n".join(parts)
    log.info("\n%s", body)
    if args.only is None and args.behaviour == "v2":
        cmd = "python -m benchmarks.matching" + (" --quick" if args.quick else "")
        write_section("matching", body, command=cmd)


if __name__ == "__main__":
    main()

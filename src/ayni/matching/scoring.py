"""Expected value to the producer, the cold-start acceptance rule, and explanations.

``expected_net_cents = round(P(accept and collect) × price × kg) − transport_cents`` where transport is
``distance × trip_factor × transport_cents_per_km`` (default: a round trip at S/ 0.20 per km — a demo
assumption, configurable; there is no public Peru tariff for small pickups). P comes from an
``AcceptanceEstimator``: the learnt one in ``ayni.matching.ranker`` when there is history, else
``RuleAcceptance`` below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from ayni.domain.lifecycle import PartnerKind
from ayni.domain.materials import MATERIALS
from ayni.domain.money import format_soles
from ayni.matching.entities import Candidate, Explanation, ListingInput, Recommendation

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    transport_cents_per_km: int = 20
    trip_factor: float = 2.0  # out and back
    min_p: float = 0.02
    max_p: float = 0.98


class AcceptanceEstimator(Protocol):
    """Anything that gives P(partner accepts and collects) for each candidate of one listing."""

    source: str

    def p_accept(self, listing: ListingInput, candidates: Sequence[Candidate], *, now: datetime,
                 pool: Sequence[Candidate] | None = None) -> FloatArray:
        """P for each of ``candidates``; ``pool`` is the listing's full candidate list (context features)
        when ``candidates`` is a subset of it."""
        ...


# Cold-start prior by partner kind: a reasoned guess, replaced by the learnt model once history exists.
KIND_PRIOR: dict[PartnerKind, float] = {
    PartnerKind.COLLECTION_CENTRE: 0.80,
    PartnerKind.RECYCLER: 0.75,
    PartnerKind.RECICLADORES_ASSOCIATION: 0.72,
    PartnerKind.EORS_OPERATOR: 0.70,
    PartnerKind.COMPOSTER: 0.70,
    PartnerKind.UPCYCLER: 0.55,
}


class RuleAcceptance:
    """Cold-start P: kind prior × distance within radius × size vs minimum × photo confidence × headroom."""

    source = "rule"

    def __init__(self, *, config: ScoringConfig | None = None) -> None:
        self.config = config or ScoringConfig()

    def p_accept(self, listing: ListingInput, candidates: Sequence[Candidate], *, now: datetime,
                 pool: Sequence[Candidate] | None = None) -> FloatArray:
        conf = np.nan if listing.photo_confidence is None else listing.photo_confidence
        p = rule_p(
            kind_prior=np.array([KIND_PRIOR.get(c.partner_kind, 0.6) for c in candidates]),
            distance_km=np.array([c.distance_km for c in candidates]),
            radius_km=np.array([c.radius_km for c in candidates]),
            kg=np.full(len(candidates), float(listing.kg)),
            min_kg=np.array([float(c.min_kg) for c in candidates]),
            photo_confidence=np.full(len(candidates), conf),
            fill_rate=np.array([c.offer_fill_rate for c in candidates]),
        )
        return np.clip(p, self.config.min_p, self.config.max_p)


def rule_p(*, kind_prior: FloatArray, distance_km: FloatArray, radius_km: FloatArray, kg: FloatArray,
           min_kg: FloatArray, photo_confidence: FloatArray, fill_rate: FloatArray) -> FloatArray:
    """The cold-start rule, vectorised (NaN photo confidence = no photo, counted as 0.85)."""
    dist = 1.0 - 0.4 * np.minimum(1.0, distance_km / np.maximum(radius_km, 1e-9))
    size = np.where(min_kg > 0, 0.7 + 0.3 * np.minimum(1.0, kg / np.maximum(3 * min_kg, 1e-9)), 1.0)
    conf = np.where(np.isnan(photo_confidence), 0.85, 0.6 + 0.4 * np.nan_to_num(photo_confidence))
    return np.asarray(kind_prior * dist * size * conf * (1.0 - 0.3 * fill_rate), dtype=np.float64)


def transport_cents(distance_km: float, *, config: ScoringConfig) -> int:
    return int(round(distance_km * config.trip_factor * config.transport_cents_per_km))


def expected_net_cents(*, p_accept: float, gross_cents: int, transport: int) -> int:
    return int(round(p_accept * gross_cents)) - transport


def rank_candidates(
    listing: ListingInput,
    candidates: Sequence[Candidate],
    *,
    estimator: AcceptanceEstimator,
    now: datetime,
    config: ScoringConfig | None = None,
    top_k: int | None = 10,
) -> list[Recommendation]:
    """Candidates scored by expected net value to the producer, best first, each with an explanation."""
    config = config or ScoringConfig()
    if not candidates:
        return []
    transport = [transport_cents(c.distance_km, config=config) for c in candidates]
    p, net, order = _score(listing, candidates, transport, estimator=estimator, now=now, config=config,
                           top_k=top_k)
    context = _Context(best_price=max(c.price_cents_per_kg for c in candidates),
                       nearest_km=min(c.distance_km for c in candidates))
    return [
        Recommendation(rank=r + 1, candidate=candidates[i], p_accept=p[i], p_source=estimator.source,
                       transport_cents=transport[i], expected_net_cents=net[i],
                       explanation=explain(candidates[i], p_accept=p[i], transport=transport[i],
                                           net=net[i], rank=r + 1, context=context, source=estimator.source))
        for r, i in enumerate(order)
    ]


def _score(listing: ListingInput, candidates: Sequence[Candidate], transport: list[int], *,
           estimator: AcceptanceEstimator, now: datetime, config: ScoringConfig,
           top_k: int | None) -> tuple[dict[int, float], dict[int, int], list[int]]:
    """P and net for the candidates that can reach the top k, and the top-k order (exact).

    Threshold pruning: P ≤ ``max_p``, so ``round(max_p × gross) − transport`` bounds a candidate's
    value; candidates are scored in batches by decreasing bound until the k-th best value found beats
    the best bound left. Without ``top_k`` every candidate is scored."""
    n = len(candidates)
    bound = [int(round(config.max_p * c.gross_cents)) - t for c, t in zip(candidates, transport, strict=True)]
    by_bound = sorted(range(n), key=lambda i: -bound[i])
    batch = n if top_k is None else max(4 * top_k, 64)
    p: dict[int, float] = {}
    net: dict[int, int] = {}
    start = 0
    while start < n:
        chunk = by_bound[start:start + batch]
        start += len(chunk)
        subset = [candidates[i] for i in chunk]
        probs = (estimator.p_accept(listing, subset, now=now) if len(chunk) == n
                 else estimator.p_accept(listing, subset, now=now, pool=candidates))
        for i, pi in zip(chunk, probs.tolist(), strict=True):
            p[i] = pi
            net[i] = expected_net_cents(p_accept=pi, gross_cents=candidates[i].gross_cents, transport=transport[i])
        if top_k is not None and start < n and len(net) >= top_k:
            kth = sorted(net.values(), reverse=True)[top_k - 1]
            if kth > bound[by_bound[start]]:
                break
    order = sorted(net, key=lambda i: (-net[i], candidates[i].distance_km, candidates[i].partner_id))
    return p, net, order[:top_k] if top_k is not None else order


@dataclass(frozen=True, slots=True)
class _Context:
    best_price: int
    nearest_km: float


def explain(c: Candidate, *, p_accept: float, transport: int, net: int, rank: int,
            context: _Context, source: str) -> Explanation:
    """Reasons as codes, the figures behind them, and one sentence in Spanish and one in English."""
    reasons: list[str] = []
    if rank == 1:
        reasons.append("highest_expected_income")
    if c.price_cents_per_kg >= context.best_price:
        reasons.append("best_price")
    if c.distance_km <= context.nearest_km + 1e-9:
        reasons.append("nearest")
    if p_accept >= 0.75:
        reasons.append("likely_to_collect")
    elif p_accept < 0.4:
        reasons.append("unlikely_to_collect")
    if net < 0:
        reasons.append("transport_exceeds_value")
    mat = MATERIALS.get(c.offer_material)
    price = format_soles(c.price_cents_per_kg)
    es_why = {"best_price": "el mejor precio", "nearest": "el más cercano", "likely_to_collect": "suele recoger",
              "unlikely_to_collect": "acepta pocas veces", "transport_exceeds_value": "el transporte cuesta más"}
    en_why = {"best_price": "best price", "nearest": "nearest", "likely_to_collect": "usually collects",
              "unlikely_to_collect": "rarely accepts", "transport_exceeds_value": "transport costs more"}
    why_es = ", ".join(es_why[r] for r in reasons if r in es_why)
    why_en = ", ".join(en_why[r] for r in reasons if r in en_why)
    text_es = (f"Paga {price}/kg de {mat.name_es if mat else c.offer_material} por {c.kg} kg "
               f"({format_soles(c.gross_cents)}); está a {c.distance_km:.1f} km (transporte "
               f"{format_soles(transport)}); probabilidad de recojo {p_accept:.0%}; ingreso esperado "
               f"{format_soles(net)}" + (f" — {why_es}." if why_es else "."))
    text_en = (f"Pays {price}/kg of {mat.name_en if mat else c.offer_material} for {c.kg} kg "
               f"({format_soles(c.gross_cents)}); {c.distance_km:.1f} km away (transport "
               f"{format_soles(transport)}); {p_accept:.0%} chance of pickup; expected income "
               f"{format_soles(net)}" + (f" — {why_en}." if why_en else "."))
    fields = {"distance_km": round(c.distance_km, 3), "price_cents_per_kg": c.price_cents_per_kg,
              "gross_cents": c.gross_cents, "transport_cents": transport, "p_accept": round(p_accept, 4),
              "p_source": source, "expected_net_cents": net, "pickup_date": c.pickup_date.isoformat(),
              "capacity_left_kg": str(c.capacity_left_kg)}
    return Explanation(tuple(reasons), text_es, text_en, fields)


def rank_opportunities(
    pairs: Sequence[tuple[ListingInput, Candidate]],
    *,
    estimator: AcceptanceEstimator,
    now: datetime,
    config: ScoringConfig | None = None,
    top_k: int | None = 20,
) -> list[Recommendation]:
    """A partner's opportunities (from ``listings_for_partner``), best first.

    Ranked by expected kilograms collected, P × kg, then by distance; each carries the producer-side
    expected value and explanation too. P is estimated with the pair alone as context (the listing's
    other candidates are not looked up), which is what a partner-side view can afford."""
    config = config or ScoringConfig()
    scored: list[tuple[float, float, ListingInput, Candidate, float]] = []
    for listing, c in pairs:
        p = float(estimator.p_accept(listing, [c], now=now)[0])
        scored.append((-p * float(c.kg), c.distance_km, listing, c, p))
    scored.sort(key=lambda s: (s[0], s[1], s[3].listing_id))
    out: list[Recommendation] = []
    for rank, (_, _, _listing, c, p) in enumerate(scored[:top_k] if top_k is not None else scored, start=1):
        t = transport_cents(c.distance_km, config=config)
        net = expected_net_cents(p_accept=p, gross_cents=c.gross_cents, transport=t)
        context = _Context(best_price=c.price_cents_per_kg, nearest_km=c.distance_km)
        out.append(Recommendation(rank, c, p, estimator.source, t, net,
                                  explain(c, p_accept=p, transport=t, net=net, rank=rank, context=context,
                                          source=estimator.source)))
    return out

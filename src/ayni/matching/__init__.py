"""The matching engine: pure code, no database — plain dataclasses in, plain dataclasses out.

For a listing: ``candidates_for_listing`` (spatial index + five eligibility rules) then
``rank_candidates`` (expected value to the producer, learnt or cold-start P, explanations).
For a partner: ``listings_for_partner`` then ``rank_opportunities``. For a region: ``build_arcs`` then
``optimise`` (capacity-aware, never overbooks) vs ``greedy`` baselines. Routes: ``plan_route``.
Impact: ``load_emission_factors`` + ``co2e_avoided``. See docs/matching.md.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ayni.matching.allocation import (
        AllocationResult,
        Assignment,
        capacity_violations,
        greedy,
        lp_bound,
        milp_optimum,
        optimise,
    )
    from ayni.matching.arcs import ArcTable, build_arcs
    from ayni.matching.candidates import (
        Eligibility,
        Exclusion,
        candidates_for_listing,
        check_pair,
        listings_for_partner,
    )
    from ayni.matching.entities import (
        Candidate,
        Explanation,
        ListingInput,
        MaterialOffer,
        PartnerOffer,
        Recommendation,
    )
    from ayni.matching.evaluation import ndcg_at_k, recall_at_k, training_set
    from ayni.matching.history import InteractionHistory, ListingEvent, Offer, Outcome
    from ayni.matching.impact import (
        PERU_CAVEAT_EN,
        PERU_CAVEAT_ES,
        EmissionFactors,
        Impact,
        co2e_avoided,
        load_emission_factors,
    )
    from ayni.matching.index import ListingIndex, PartnerIndex
    from ayni.matching.ranker import FEATURES, AcceptanceModel, LearntAcceptance, pair_features
    from ayni.matching.routing import Route, RouteConfig, Stop, plan_route
    from ayni.matching.scoring import (
        AcceptanceEstimator,
        RuleAcceptance,
        ScoringConfig,
        rank_candidates,
        rank_opportunities,
    )

# Heavy dependencies (scikit-learn, OR-Tools) load on first use, not when the API imports the package.
_WHERE: dict[str, str] = {
    "AcceptanceEstimator": "ayni.matching.scoring",
    "AcceptanceModel": "ayni.matching.ranker",
    "AllocationResult": "ayni.matching.allocation",
    "ArcTable": "ayni.matching.arcs",
    "Assignment": "ayni.matching.allocation",
    "Candidate": "ayni.matching.entities",
    "Eligibility": "ayni.matching.candidates",
    "EmissionFactors": "ayni.matching.impact",
    "Exclusion": "ayni.matching.candidates",
    "Explanation": "ayni.matching.entities",
    "FEATURES": "ayni.matching.ranker",
    "Impact": "ayni.matching.impact",
    "InteractionHistory": "ayni.matching.history",
    "LearntAcceptance": "ayni.matching.ranker",
    "ListingEvent": "ayni.matching.history",
    "ListingIndex": "ayni.matching.index",
    "ListingInput": "ayni.matching.entities",
    "MaterialOffer": "ayni.matching.entities",
    "Offer": "ayni.matching.history",
    "Outcome": "ayni.matching.history",
    "PERU_CAVEAT_EN": "ayni.matching.impact",
    "PERU_CAVEAT_ES": "ayni.matching.impact",
    "PartnerIndex": "ayni.matching.index",
    "PartnerOffer": "ayni.matching.entities",
    "Recommendation": "ayni.matching.entities",
    "Route": "ayni.matching.routing",
    "RouteConfig": "ayni.matching.routing",
    "RuleAcceptance": "ayni.matching.scoring",
    "ScoringConfig": "ayni.matching.scoring",
    "Stop": "ayni.matching.routing",
    "build_arcs": "ayni.matching.arcs",
    "candidates_for_listing": "ayni.matching.candidates",
    "capacity_violations": "ayni.matching.allocation",
    "check_pair": "ayni.matching.candidates",
    "co2e_avoided": "ayni.matching.impact",
    "greedy": "ayni.matching.allocation",
    "listings_for_partner": "ayni.matching.candidates",
    "load_emission_factors": "ayni.matching.impact",
    "lp_bound": "ayni.matching.allocation",
    "milp_optimum": "ayni.matching.allocation",
    "ndcg_at_k": "ayni.matching.evaluation",
    "optimise": "ayni.matching.allocation",
    "pair_features": "ayni.matching.ranker",
    "plan_route": "ayni.matching.routing",
    "rank_candidates": "ayni.matching.scoring",
    "rank_opportunities": "ayni.matching.scoring",
    "recall_at_k": "ayni.matching.evaluation",
    "training_set": "ayni.matching.evaluation",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)


__all__ = [
    "FEATURES", "PERU_CAVEAT_EN", "PERU_CAVEAT_ES", "AcceptanceEstimator", "AcceptanceModel", "AllocationResult",
    "ArcTable", "Assignment", "Candidate", "Eligibility", "EmissionFactors", "Exclusion", "Explanation", "Impact",
    "InteractionHistory", "LearntAcceptance", "ListingEvent", "ListingIndex", "ListingInput", "MaterialOffer",
    "Offer", "Outcome", "PartnerIndex", "PartnerOffer", "Recommendation", "Route", "RouteConfig", "RuleAcceptance",
    "ScoringConfig", "Stop", "build_arcs", "candidates_for_listing", "capacity_violations", "check_pair",
    "co2e_avoided", "greedy", "listings_for_partner", "load_emission_factors", "lp_bound", "milp_optimum",
    "ndcg_at_k", "optimise", "pair_features", "plan_route", "rank_candidates", "rank_opportunities",
    "recall_at_k", "training_set",
]

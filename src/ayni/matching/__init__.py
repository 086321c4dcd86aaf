"""The matching engine: pure code, no database — plain dataclasses in, plain dataclasses out.

For a listing: ``candidates_for_listing`` (spatial index + five eligibility rules) then
``rank_candidates`` (expected value to the producer, learnt or cold-start P, explanations).
For a partner: ``listings_for_partner`` then ``rank_opportunities``. For a region: ``build_arcs`` then
``optimise`` (capacity-aware, never overbooks) vs ``greedy`` baselines. Routes: ``plan_route``.
Impact: ``load_emission_factors`` + ``co2e_avoided``. See docs/matching.md.
"""

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
from ayni.matching.candidates import Eligibility, Exclusion, candidates_for_listing, check_pair, listings_for_partner
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

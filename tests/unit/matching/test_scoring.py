from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np

from ayni.matching.candidates import check_pair
from ayni.matching.scoring import RuleAcceptance, ScoringConfig, rank_candidates

from ._factories import LIMA, listing, offer, partner

NOW = datetime(2026, 3, 2, 10)


def _candidate(**partner_kwargs):  # type: ignore[no-untyped-def]
    c = check_pair(listing(), partner(**partner_kwargs)).candidate
    assert c is not None
    return c


def test_higher_price_gives_higher_expected_value() -> None:
    cheap, dear = _candidate(partner_id=1, offers=(offer(price=80),)), _candidate(partner_id=2, offers=(offer(price=160),))
    recs = rank_candidates(listing(), [cheap, dear], estimator=RuleAcceptance(), now=NOW)
    assert [r.partner_id for r in recs] == [2, 1]
    assert recs[0].expected_net_cents > recs[1].expected_net_cents


def test_farther_partner_gives_lower_expected_value() -> None:
    near = _candidate(partner_id=1, lat=LIMA[0] + 0.01)
    far = _candidate(partner_id=2, lat=LIMA[0] + 0.07)
    recs = rank_candidates(listing(), [far, near], estimator=RuleAcceptance(), now=NOW)
    assert [r.partner_id for r in recs] == [1, 2]
    assert recs[0].transport_cents < recs[1].transport_cents


def test_transport_cost_follows_configuration() -> None:
    c = _candidate(lat=LIMA[0] + 0.05)
    cheap = rank_candidates(listing(), [c], estimator=RuleAcceptance(), now=NOW,
                            config=ScoringConfig(transport_cents_per_km=10))[0]
    dear = rank_candidates(listing(), [c], estimator=RuleAcceptance(), now=NOW,
                           config=ScoringConfig(transport_cents_per_km=40))[0]
    assert dear.transport_cents == 4 * cheap.transport_cents
    assert dear.expected_net_cents < cheap.expected_net_cents


def test_expected_value_is_p_times_gross_minus_transport() -> None:
    rec = rank_candidates(listing(), [_candidate(lat=LIMA[0] + 0.03)], estimator=RuleAcceptance(), now=NOW)[0]
    assert rec.expected_net_cents == round(rec.p_accept * rec.candidate.gross_cents) - rec.transport_cents


def test_rule_probability_falls_with_distance_and_low_photo_confidence() -> None:
    rule = RuleAcceptance()
    near, far = _candidate(lat=LIMA[0] + 0.005), _candidate(lat=LIMA[0] + 0.08)
    p = rule.p_accept(listing(), [near, far], now=NOW)
    assert p[0] > p[1]
    unsure = rule.p_accept(replace(listing(), photo_confidence=0.2), [near], now=NOW)
    assert unsure[0] < p[0]
    assert np.all((p > 0) & (p < 1))


def test_every_recommendation_explains_itself_in_spanish_and_english() -> None:
    recs = rank_candidates(listing(), [_candidate(partner_id=1), _candidate(partner_id=2, lat=LIMA[0] + 0.05)],
                           estimator=RuleAcceptance(), now=NOW)
    top = recs[0].explanation
    assert "highest_expected_income" in top.reasons and "nearest" in top.reasons
    assert "Paga S/ 1.20/kg" in top.text_es and "Pays S/ 1.20/kg" in top.text_en
    assert top.fields["p_source"] == "rule" and top.fields["expected_net_cents"] == recs[0].expected_net_cents
    assert [r.rank for r in recs] == [1, 2]


def test_top_k_limits_the_list() -> None:
    cands = [_candidate(partner_id=i, lat=LIMA[0] + 0.001 * i) for i in range(1, 15)]
    assert len(rank_candidates(listing(), cands, estimator=RuleAcceptance(), now=NOW, top_k=10)) == 10
    assert rank_candidates(listing(), [], estimator=RuleAcceptance(), now=NOW) == []


def test_partner_opportunities_rank_by_expected_kilograms() -> None:
    from ayni.matching.candidates import listings_for_partner
    from ayni.matching.index import ListingIndex
    from ayni.matching.scoring import rank_opportunities

    small, big = listing(1, kg="5"), listing(2, kg="50", lat=LIMA[0] + 0.012)
    p = partner()
    pairs = listings_for_partner(p, ListingIndex([small, big]))
    recs = rank_opportunities(pairs, estimator=RuleAcceptance(), now=NOW)
    assert [r.listing_id for r in recs] == [2, 1]
    assert all(r.explanation.text_en for r in recs)


def test_pruned_top_k_equals_the_top_of_the_full_ranking() -> None:
    rng = np.random.default_rng(0)
    cands = [_candidate(partner_id=i, radius_km=30.0, lat=LIMA[0] + float(rng.uniform(-0.08, 0.08)),
                        offers=(offer(price=int(rng.integers(20, 200))),)) for i in range(1, 300)]
    full = rank_candidates(listing(), cands, estimator=RuleAcceptance(), now=NOW, top_k=None)
    top = rank_candidates(listing(), cands, estimator=RuleAcceptance(), now=NOW, top_k=10)
    assert [r.partner_id for r in top] == [r.partner_id for r in full[:10]]
    assert [r.expected_net_cents for r in top] == [r.expected_net_cents for r in full[:10]]

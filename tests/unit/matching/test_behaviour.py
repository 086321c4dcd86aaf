"""The simulator's hidden behaviour (v2 market traits) and the history counts that let the ranker learn them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from ayni.domain.lifecycle import ProducerKind
from ayni.errors import InvalidInput
from ayni.matching.behaviour import handover_probability, true_accept_probability
from ayni.matching.history import InteractionHistory, Outcome, size_bucket
from ayni.matching.simulate import SimPartner, SimProducer, lima_community, listings_for_week

from ._factories import listing, offer, partner


def _producer(**kw: object) -> SimProducer:
    base = SimProducer(1, ProducerKind.HOUSEHOLD, "150101", -12.0, -77.0, {"PET": 5.0}, {"PET": 1}, 0, 0.9,
                       np.zeros(3))
    return replace(base, **kw)  # type: ignore[arg-type]


def _partner(**kw: object) -> SimPartner:
    offers = (offer("PET", price=120), offer("glass", price=15))
    base = SimPartner(partner(offers=offers), 0.5, dict.fromkeys(ProducerKind, 0.0), 1.0, 1.0, np.zeros(3))
    return replace(base, **kw)  # type: ignore[arg-type]


NOW = datetime(2026, 3, 1, 9)


def test_a_partner_prefers_its_core_material_to_a_side_line() -> None:
    q = _partner(material_pref={"PET": 0.6, "glass": -0.6})
    pet = true_accept_probability(q, _producer(), listing(material="PET", kg="10"), distance_km=2.0, now=NOW)
    flat = true_accept_probability(_partner(), _producer(), listing(material="PET", kg="10"), distance_km=2.0, now=NOW)
    q2 = _partner(material_pref={"PET": -0.6, "glass": 0.6})
    side = true_accept_probability(q2, _producer(), listing(material="PET", kg="10"), distance_km=2.0, now=NOW)
    assert pet > flat > side


def test_a_lot_worth_more_than_the_trip_is_accepted_more_often_when_the_partner_weighs_margins() -> None:
    small, big = listing(kg="2"), listing(kg="40")
    q = _partner(margin_weight=1.0)
    gain_v2 = (true_accept_probability(q, _producer(), big, distance_km=5.0, now=NOW)
               - true_accept_probability(q, _producer(), small, distance_km=5.0, now=NOW))
    gain_v1 = (true_accept_probability(_partner(), _producer(), big, distance_km=5.0, now=NOW)
               - true_accept_probability(_partner(), _producer(), small, distance_km=5.0, now=NOW))
    assert gain_v2 > gain_v1 > 0


def test_a_bag_that_waits_longer_or_gets_a_low_offer_is_handed_over_less_often() -> None:
    x = listing(material="PET", created=NOW)
    leaky = _producer(leak_per_day=0.1, price_sensitivity=0.8)
    soon = handover_probability(leaky, x, pickup=NOW.date(), price_cents_per_kg=130)
    later = handover_probability(leaky, x, pickup=NOW.date() + timedelta(days=5), price_cents_per_kg=130)
    cheap = handover_probability(leaky, x, pickup=NOW.date(), price_cents_per_kg=60)
    assert soon == pytest.approx(0.9) and later == pytest.approx(0.9 * np.exp(-0.5)) and cheap < soon
    assert handover_probability(_producer(), x, pickup=NOW.date() + timedelta(days=5), price_cents_per_kg=60) == 0.9


@pytest.mark.data
def test_v1_and_v2_communities_list_the_same_waste_and_differ_only_in_hidden_traits(data_dir: Path) -> None:
    v1 = lima_community(data_dir, n_producers=120, n_partners=20, random_state=2, behaviour="v1")
    v2 = lima_community(data_dir, n_producers=120, n_partners=20, random_state=2)
    assert listings_for_week(v1, 0) == listings_for_week(v2, 0)
    assert [p.offer for p in v1.partners] == [p.offer for p in v2.partners]
    assert all(not p.material_pref and p.margin_weight == 0 for p in v1.partners)
    assert all(set(p.material_pref) == {o.material for o in p.offer.materials} for p in v2.partners)
    assert any(p.leak_per_day > 0 for p in v2.producers)
    with pytest.raises(InvalidInput, match="behaviour"):
        lima_community(data_dir, n_producers=10, n_partners=2, behaviour="v3")


def test_history_counts_success_by_partner_material_size_and_producer() -> None:
    h = InteractionHistory()
    h.add([Outcome(1, 7, ProducerKind.HOUSEHOLD, True, True, "PET", 3.0)] * 20
          + [Outcome(2, 7, ProducerKind.HOUSEHOLD, False, False, "glass", 50.0)] * 20)
    assert h.material_rate(7, "PET") > h.partner_rate(7) > h.material_rate(7, "glass")
    assert h.size_rate(7, 2.5) > h.size_rate(7, 60.0)
    assert h.producer_accept_rate(1) > h.producer_accept_rate(3) > h.producer_accept_rate(2)
    assert (size_bucket(1.0), size_bucket(3.0), size_bucket(500.0)) == (0, 1, 7)


def test_outcomes_without_material_or_kg_still_count_overall() -> None:
    h = InteractionHistory()
    h.add([Outcome(1, 7, ProducerKind.HOUSEHOLD, True, True)] * 5)
    assert h.partner_n[7] == 5 and not h.material_n and not h.size_n
    assert h.material_rate(7, "PET") == pytest.approx(h.partner_rate(7))



from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ayni.domain.lifecycle import PartnerKind
from ayni.matching.behaviour import simulate_history
from ayni.matching.evaluation import ndcg_at_k, recall_at_k, training_set
from ayni.matching.simulate import lima_community, listings_for_week


def test_ndcg_is_one_for_the_ideal_order_and_lower_otherwise() -> None:
    assert ndcg_at_k(np.array([3.0, 2.0, 0.0]), k=10) == pytest.approx(1.0)
    assert ndcg_at_k(np.array([0.0, 2.0, 3.0]), k=10) < 1.0
    assert ndcg_at_k(np.zeros(3), k=10) == 0.0


def test_recall_counts_relevant_items_in_the_first_k_over_at_most_k() -> None:
    ranked = np.array([True, False, True, True])
    assert recall_at_k(ranked, k=2) == pytest.approx(1 / 2)  # capped: 1 relevant of the 2 it could hold
    assert recall_at_k(ranked, k=2, capped=False) == pytest.approx(1 / 3)
    assert recall_at_k(np.array([True, True, False, True]), k=2) == pytest.approx(1.0)  # perfect top 2
    assert recall_at_k(np.array([False, True]), k=10) == pytest.approx(1.0)
    assert recall_at_k(np.zeros(3, dtype=bool), k=2) == 0.0


@pytest.mark.data
def test_lima_has_its_43_districts_and_partners_of_every_kind(data_dir: Path) -> None:
    community = lima_community(data_dir, n_producers=300, n_partners=60, random_state=0)
    assert len(community.districts) == 43
    assert {p.offer.kind for p in community.partners} == set(PartnerKind)
    assert all(-12.6 < p.lat < -11.5 for p in community.producers)


@pytest.mark.data
def test_simulation_is_reproducible_with_a_seed(data_dir: Path) -> None:
    a = listings_for_week(lima_community(data_dir, n_producers=200, n_partners=20, random_state=4), 0)
    b = listings_for_week(lima_community(data_dir, n_producers=200, n_partners=20, random_state=4), 0)
    assert a == b and len(a) > 0


@pytest.mark.data
def test_training_set_has_one_row_per_offer_without_look_ahead(data_dir: Path) -> None:
    community = lima_community(data_dir, n_producers=150, n_partners=40, random_state=1)
    weeks = simulate_history(community, weeks=2, random_state=1)
    X, y, history = training_set(weeks)
    n_offers = sum(len(e.offers) for w in weeks for e in w)
    assert X.shape[0] == len(y) == n_offers == history.n_total
    first = sum(len(e.offers) for e in weeks[0])
    assert np.all(X[:first, 13] == 0)  # log_partner_n: nothing known in week one

"""Training sets from interaction logs, and ranking metrics (NDCG@k, recall@k).

``training_set`` walks the log week by week: each week's rows get features from the history of the
weeks *before* it, then the week's outcomes join the history (and the collaborative factors are
refitted). The label is 1 when the partner accepted and the producer handed the waste over.
``select_hyperparameters`` chooses them on a later slice of the log (validation in time, never the test
weeks). ``first_test_week`` is the held-out window (the last ``test_weeks`` weeks of a log) that training,
the pipeline's evaluation and the promotion gate all use; ``holdout_metrics`` scores a fitted model on
those weeks, against the cold-start rule.
Recall@k is capped by default (relevant in the top k / min(k, relevant)); NDCG@k takes graded gains.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ayni.errors import InvalidInput
from ayni.matching.history import InteractionHistory, ListingEvent, Outcome
from ayni.matching.ranker import FEATURES, pair_features
from ayni.matching.scoring import RuleAcceptance

FloatArray = NDArray[np.float64]
_AGE = FEATURES.index("listing_age_days")


def outcomes_of(events: Sequence[ListingEvent]) -> list[Outcome]:
    """The events' offers as history ``Outcome`` records."""
    return [Outcome(e.listing.producer_id, e.candidates[o.position].partner_id, e.listing.producer_kind,
                    o.accepted, o.collected, e.listing.material, float(e.listing.kg))
            for e in events for o in e.offers]


def first_test_week(n_weeks: int, *, test_weeks: int) -> int:
    """Index of the first held-out week: the last ``test_weeks`` of ``n_weeks`` are the test set, the rest train."""
    if test_weeks < 1 or n_weeks <= test_weeks:
        raise InvalidInput(f"The log has {n_weeks} weeks; the ranker needs more than {test_weeks} test week(s).",
                           details={"weeks": n_weeks, "test_weeks": test_weeks})
    return n_weeks - test_weeks


def training_set(weeks: Sequence[Sequence[ListingEvent]], *, history: InteractionHistory | None = None,
                 latent_rank: int = 8) -> tuple[FloatArray, NDArray[np.int64], InteractionHistory]:
    """(X, y, the history after the last week) from a time-ordered log, without look-ahead."""
    history = history or InteractionHistory()
    rows: list[FloatArray] = []
    labels: list[int] = []
    for events in weeks:
        for e in events:
            if not e.offers:
                continue
            x = pair_features(e.listing, e.candidates, history=history, now=e.listing.created_at)
            for o in e.offers:
                row = x[o.position].copy()
                row[_AGE] = (o.decided_at - e.listing.created_at).total_seconds() / 86400.0
                rows.append(row)
                labels.append(int(o.collected))
        history.add(outcomes_of(events))
        history.refresh_latent(rank=latent_rank)
    X = np.vstack(rows) if rows else np.empty((0, len(FEATURES)))
    return X, np.asarray(labels, dtype=np.int64), history


def ndcg_at_k(ranked_gains: NDArray[np.floating[Any]], *, k: int) -> float:
    """NDCG@k of one ranked list of non-negative gains (the ideal is the same gains sorted)."""
    gains = np.asarray(ranked_gains, dtype=np.float64)
    discounts = 1.0 / np.log2(np.arange(2, min(k, len(gains)) + 2))
    ideal = np.sort(gains)[::-1][:k]
    idcg = float(ideal @ discounts[: len(ideal)])
    return float(gains[:k] @ discounts[: min(k, len(gains))]) / idcg if idcg > 0 else 0.0


def recall_at_k(ranked_relevant: NDArray[np.bool_], *, k: int, capped: bool = True) -> float:
    """Relevant items in the first k over min(k, number relevant) — the capped form, which is 1 for a
    perfect ranking however many items are relevant; ``capped=False``: over all relevant items (textbook
    recall, at most k / number relevant)."""
    rel = np.asarray(ranked_relevant, dtype=bool)
    total = int(rel.sum())
    if not total:
        return 0.0
    return float(rel[:k].sum()) / (min(k, total) if capped else total)


def select_hyperparameters(X: FloatArray, y: NDArray[np.int64], *, n_fit: int, grid: Sequence[dict[str, Any]],
                           random_state: int | None = None) -> tuple[dict[str, Any], list[tuple[dict[str, Any], float]]]:
    """Hyperparameters chosen on a validation slice *in time*: fit on the first ``n_fit`` rows (earlier
    weeks), score the log loss of every boosting stage on the rest (the next weeks); each grid point's
    ``max_iter`` is its best stage. Returns the best parameters and every (parameters, log loss)."""
    from sklearn.metrics import log_loss

    from ayni.matching.ranker import AcceptanceModel

    if not 0 < n_fit < len(y):
        raise ValueError(f"n_fit must leave rows to validate on (got {n_fit} of {len(y)})")
    tried: list[tuple[dict[str, Any], float]] = []
    for params in grid:
        model = AcceptanceModel(**params, random_state=random_state).fit(X[:n_fit], y[:n_fit])
        assert model.estimator_ is not None
        losses = [log_loss(y[n_fit:], p[:, 1], labels=[0, 1])
                  for p in model.estimator_.staged_predict_proba(X[n_fit:])]
        best = int(np.argmin(losses))
        tried.append(({**params, "max_iter": best + 1}, float(losses[best])))
    return min(tried, key=lambda t: t[1])[0], tried


def _scores(y: NDArray[np.int64], p: FloatArray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    both = len(np.unique(y)) == 2
    return {"roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
            "average_precision": float(average_precision_score(y, p)) if both else float("nan"),
            "log_loss": float(log_loss(y, p, labels=[0, 1])), "brier": float(brier_score_loss(y, p))}


def holdout_metrics(model: Any, weeks: Sequence[Sequence[ListingEvent]], *, first_test_week: int,
                    latent_rank: int = 8) -> dict[str, Any]:
    """P(accept and collect) on every offer of weeks ``first_test_week…``: the model vs the cold-start rule.

    ``model`` has ``predict_proba`` (an ``AcceptanceModel``); features come from the history of the weeks
    before each offer, exactly as in training. ROC AUC is NaN when the held-out weeks have one class only."""
    if not 0 < first_test_week < len(weeks):
        raise ValueError(f"first_test_week must leave both training and test weeks (got {first_test_week} "
                         f"of {len(weeks)} weeks)")
    X, y, _ = training_set(weeks, latent_rank=latent_rank)
    n_train = sum(len(e.offers) for w in weeks[:first_test_week] for e in w)
    rule = RuleAcceptance()
    p_rule = np.array([rule.p_accept(e.listing, e.candidates, now=o.decided_at)[o.position]
                       for w in weeks[first_test_week:] for e in w for o in e.offers])
    yt = y[n_train:]
    p_model = model.predict_proba(X[n_train:])[:, 1]
    return {"n_test": int(len(yt)), "positive_rate": float(yt.mean()) if len(yt) else float("nan"),
            "model": _scores(yt, p_model), "rule": _scores(yt, p_rule)}

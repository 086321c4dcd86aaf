"""The interaction log as a table: written by one pipeline stage, read back by the next."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ayni.errors import InvalidInput
from ayni.matching.behaviour import simulate_history
from ayni.matching.evaluation import holdout_metrics, training_set
from ayni.matching.interactions import events_from_frame, interactions_frame
from ayni.matching.ranker import AcceptanceModel
from ayni.matching.simulate import lima_community
from ayni.mlops.validation import INTERACTIONS, validate


@pytest.fixture
def weeks(data_dir: Path) -> list:  # type: ignore[type-arg]
    return simulate_history(lima_community(data_dir, n_producers=150, n_partners=30, random_state=3), weeks=3,
                            random_state=3)


@pytest.mark.data
def test_the_log_read_back_from_csv_gives_the_same_training_set(weeks: list) -> None:  # type: ignore[type-arg]
    buffer = io.StringIO()
    interactions_frame(weeks).to_csv(buffer, index=False)
    back = events_from_frame(pd.read_csv(io.StringIO(buffer.getvalue())))
    X0, y0, _ = training_set(weeks)
    X1, y1, _ = training_set(back)
    assert back == weeks
    np.testing.assert_array_equal(y0, y1)
    np.testing.assert_allclose(X0, X1, equal_nan=True)


@pytest.mark.data
def test_the_log_passes_the_interactions_schema(weeks: list) -> None:  # type: ignore[type-arg]
    frame = interactions_frame(weeks).astype(str)
    clean, report = validate(frame, INTERACTIONS)
    assert report.rows_accepted == len(frame) > 0
    assert not (clean["collected"] & ~clean["accepted"]).any()


@pytest.mark.data
def test_holdout_metrics_compare_the_model_with_the_rule(weeks: list) -> None:  # type: ignore[type-arg]
    X, y, _ = training_set(weeks[:-1])
    model = AcceptanceModel(random_state=0, max_iter=30).fit(X, y)
    m = holdout_metrics(model, weeks, first_test_week=2)
    assert m["n_test"] == sum(len(e.offers) for e in weeks[2])
    assert set(m["model"]) == set(m["rule"]) == {"roc_auc", "average_precision", "log_loss", "brier"}
    with pytest.raises(ValueError):
        holdout_metrics(model, weeks, first_test_week=3)


def test_a_table_without_the_log_columns_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no column"):
        events_from_frame(pd.DataFrame({"week": [0]}))

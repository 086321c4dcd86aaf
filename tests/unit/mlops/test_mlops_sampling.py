"""Subsampling a split manifest for the tiny pipeline profile."""

from __future__ import annotations

import pandas as pd
import pytest

from ayni.errors import InvalidInput
from ayni.mlops.sampling import stratified_subsample


def _manifest(n: int = 200) -> pd.DataFrame:
    return pd.DataFrame({"sha256": [f"k{i}" for i in range(n)], "class": [("a", "b")[i % 2] for i in range(n)],
                         "split": [("train", "val", "test", "train")[i % 4] for i in range(n)],
                         "group": [i // 3 for i in range(n)]})


def test_subsample_keeps_at_most_n_per_split_and_class_without_moving_rows_between_splits() -> None:
    frame = _manifest()
    sub = stratified_subsample(frame, n=7, strata=["split", "class"], key="sha256", cluster="group")
    assert sub.groupby(["split", "class"]).size().max() == 7
    merged = sub.merge(frame, on="sha256", suffixes=("", "_full"))
    assert (merged["split"] == merged["split_full"]).all()


def test_a_larger_subsample_contains_the_smaller_one() -> None:
    frame = _manifest()
    small = stratified_subsample(frame, n=5, strata=["split", "class"], key="sha256", random_state=1)
    large = stratified_subsample(frame, n=12, strata=["split", "class"], key="sha256", random_state=1)
    assert set(small["sha256"]) < set(large["sha256"])


def test_zero_keeps_everything_and_a_missing_column_is_refused() -> None:
    frame = _manifest(20)
    assert stratified_subsample(frame, n=0, strata=["split"], key="sha256").equals(frame)
    with pytest.raises(InvalidInput):
        stratified_subsample(frame, n=3, strata=["fold"], key="sha256")

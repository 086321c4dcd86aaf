from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from ayni.errors import DataValidationError
from ayni.mlops.validation import Column, Schema, validate

SCHEMA = Schema(
    name="t",
    key=("id",),
    max_reject_fraction=0.5,
    columns=(
        Column("id", "str", pattern=r"\d{2}"),
        Column("kg", "float", min=0, max=100),
        Column("n", "int", required=False),
    ),
)


def test_rows_breaking_the_schema_are_rejected_with_reasons() -> None:
    frame = pd.DataFrame(
        {"id": ["01", "02", "xx", "01", "05"], "kg": ["1.5", "-2", "3", "4", "abc"], "n": ["1", "2", "3", "4", "2.5"]}
    )
    clean, report = validate(frame, replace(SCHEMA, max_reject_fraction=0.9))
    assert list(clean["id"]) == ["01"]
    reasons = dict(report.rejected)
    assert reasons[1] == "below minimum: kg" and reasons[2] == "bad format: id"
    assert reasons[3] == "duplicate key" and reasons[4].startswith("not a number")


def test_a_mostly_bad_batch_is_refused_whole() -> None:
    frame = pd.DataFrame({"id": ["x", "y", "01"], "kg": ["1", "1", "1"], "n": [None, None, None]})
    with pytest.raises(DataValidationError) as info:
        validate(frame, SCHEMA)
    assert info.value.details["rows_rejected"] == 2


def test_missing_columns_are_named() -> None:
    with pytest.raises(DataValidationError, match="kg"):
        validate(pd.DataFrame({"id": ["01"]}), SCHEMA)

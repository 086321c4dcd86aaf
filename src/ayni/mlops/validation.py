"""Data validation: a schema of column rules per table; rows that break a rule are rejected with reasons.

``validate(frame, schema)`` never drops silently: it returns the clean rows and a report listing every
rejected row and why. A batch whose rejection rate exceeds ``schema.max_reject_fraction`` raises
``DataValidationError`` with the report, so a bad batch is never used.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ayni.domain.geo import PERU_LAT, PERU_LON
from ayni.errors import DataValidationError


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # "str", "int", "float", "bool"
    required: bool = True
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    allowed: frozenset[str] | None = None


@dataclass(frozen=True)
class Schema:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    expected_rows: tuple[int, int] | None = None
    max_reject_fraction: float = 0.02
    row_checks: tuple[tuple[str, Callable[[pd.DataFrame], pd.Series]], ...] = ()


@dataclass
class Report:
    table: str
    rows_in: int
    rows_accepted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_rejected(self) -> int:
        return len(self.rejected)

    def reasons(self) -> Counter[str]:
        return Counter(reason.split(":")[0] for _, reason in self.rejected)

    def as_dict(self) -> dict[str, object]:
        return {
            "table": self.table,
            "rows_in": self.rows_in,
            "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected,
            "reasons": dict(self.reasons()),
            "examples": self.rejected[:10],
            "warnings": self.warnings,
        }


def _coerce(series: pd.Series, kind: str) -> pd.Series:
    if kind == "str":
        return series.astype("string").str.strip()
    if kind == "bool":
        return series.astype("string").str.lower().map({"true": True, "false": False, "1": True, "0": False})
    return pd.to_numeric(series, errors="coerce")


def validate(frame: pd.DataFrame, schema: Schema) -> tuple[pd.DataFrame, Report]:
    report = Report(table=schema.name, rows_in=len(frame))
    missing = [c.name for c in schema.columns if c.name not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{schema.name}: missing columns {', '.join(missing)}.",
            details={"table": schema.name, "missing_columns": missing},
        )
    out = pd.DataFrame(index=frame.index)
    bad = pd.Series("", index=frame.index, dtype="object")
    for col in schema.columns:
        raw = frame[col.name]
        values = _coerce(raw, col.kind)
        problems = _column_problems(values, raw, col)
        for reason, mask in problems:
            bad = bad.where(~mask | (bad != ""), f"{reason}: {col.name}")
        out[col.name] = values
    for reason, check in schema.row_checks:
        mask = ~check(out).fillna(False).astype(bool)
        bad = bad.where(~mask | (bad != ""), reason)
    if schema.key:
        dup = out.duplicated(list(schema.key), keep="first")
        bad = bad.where(~dup | (bad != ""), "duplicate key")
    rejected = bad != ""
    report.rejected = [(int(str(i)), str(r)) for i, r in bad[rejected].items()]
    clean = out[~rejected].copy()
    report.rows_accepted = len(clean)
    if schema.expected_rows and not schema.expected_rows[0] <= len(frame) <= schema.expected_rows[1]:
        report.warnings.append(f"expected {schema.expected_rows[0]}–{schema.expected_rows[1]} rows, got {len(frame)}")
    if len(frame) and report.rows_rejected / len(frame) > schema.max_reject_fraction:
        raise DataValidationError(
            f"{schema.name}: {report.rows_rejected} of {len(frame)} rows break the schema; the batch is refused.",
            details=report.as_dict(),
        )
    return clean, report


def _column_problems(values: pd.Series, raw: pd.Series, col: Column) -> list[tuple[str, pd.Series]]:
    present = raw.notna() & (raw.astype("string").str.strip() != "")
    problems: list[tuple[str, pd.Series]] = []
    if col.required:
        problems.append(("missing value", ~present))
    if col.kind in ("int", "float", "bool"):
        problems.append(("not a number" if col.kind != "bool" else "not true/false", present & values.isna()))
    if col.kind == "int":
        problems.append(("not an integer", values.notna() & (values != np.floor(values))))
    if col.min is not None:
        problems.append(("below minimum", values.notna() & (values < col.min)))
    if col.max is not None:
        problems.append(("above maximum", values.notna() & (values > col.max)))
    if col.pattern is not None:
        problems.append(("bad format", present & ~values.astype("string").str.fullmatch(col.pattern).fillna(False)))
    if col.allowed is not None:
        problems.append(("unknown value", present & ~values.isin(col.allowed)))
    return problems


UBIGEO = r"\d{6}"

DISTRICTS = Schema(
    name="districts",
    key=("ubigeo",),
    expected_rows=(1800, 2000),
    columns=(
        Column("ubigeo", "str", pattern=UBIGEO),
        Column("departamento", "str"),
        Column("provincia", "str"),
        Column("distrito", "str"),
        Column(
            "region_natural", "str", required=False, allowed=frozenset({"COSTA", "SIERRA", "SELVA", "LIMA Y CALLAO"})
        ),
        Column("latitude", "float", required=False, min=PERU_LAT[0], max=PERU_LAT[1]),
        Column("longitude", "float", required=False, min=PERU_LON[0], max=PERU_LON[1]),
        Column("pop_total_2023", "int", required=False, min=0, max=20_000_000),
        Column("pop_urban_2023", "int", required=False, min=0, max=20_000_000),
        Column("in_minam_2023", "bool"),
    ),
)

GENERATION = Schema(
    name="waste_generation",
    key=("ubigeo", "year"),
    expected_rows=(18_000, 20_000),
    columns=(
        Column("ubigeo", "str", pattern=UBIGEO),
        Column("year", "int", min=2014, max=2030),
        Column("pop_urban", "int", required=False, min=0, max=20_000_000),
        Column("gpc_dom_kg_hab_day", "float", required=False, min=0, max=5),
        Column("dom_t_year", "float", required=False, min=0, max=5_000_000),
        Column("non_dom_t_year", "float", required=False, min=0, max=5_000_000),
        Column("mun_t_year", "float", required=False, min=0, max=10_000_000),
        Column("qa_flags", "str", required=False),
    ),
)


def composition_schema(material_columns: list[str]) -> Schema:
    return Schema(
        name="waste_composition",
        key=("ubigeo", "year"),
        expected_rows=(9_000, 10_000),
        columns=(
            Column("ubigeo", "str", pattern=UBIGEO),
            Column("year", "int", min=2014, max=2030),
            *(Column(c, "float", min=0, max=5_000_000) for c in material_columns),
        ),
    )


# --- interactions and feedback (the loop's inputs) -------------------------------------------------------

FEEDBACK_KINDS = frozenset({"classification_correction", "collection_outcome"})


def _known_material(frame: pd.DataFrame) -> pd.Series:
    from ayni.domain.materials import CLASSES, get_material

    def ok(value: object) -> bool:
        if value is None or pd.isna(value) or str(value) == "":  # type: ignore[call-overload]
            return True
        text = str(value)
        if text in CLASSES:
            return True
        try:
            get_material(text)
        except Exception:  # noqa: BLE001 — an unknown code is exactly what this check reports
            return False
        return True

    cols = [c for c in ("predicted_material", "corrected_material", "material") if c in frame.columns]
    return frame[cols].apply(lambda row: all(ok(v) for v in row), axis=1) if cols else pd.Series(True, frame.index)


def _correction_has_label(frame: pd.DataFrame) -> pd.Series:
    is_correction = frame["kind"] == "classification_correction"
    return ~is_correction | frame["corrected_material"].notna()


def _outcome_is_consistent(frame: pd.DataFrame) -> pd.Series:
    is_outcome = frame["kind"] == "collection_outcome" if "kind" in frame.columns else pd.Series(True, frame.index)
    collected_without_accept = frame["collected"].isin([True]) & ~frame["accepted"].isin([True])
    return ~is_outcome | (frame["accepted"].notna() & ~collected_without_accept)


FEEDBACK = Schema(
    name="feedback",
    key=("id",),
    max_reject_fraction=0.2,
    columns=(
        Column("id", "int", min=1),
        Column("kind", "str", allowed=FEEDBACK_KINDS),
        Column("listing_id", "int", required=False, min=1),
        Column("match_id", "int", required=False, min=1),
        Column("predicted_material", "str", required=False),
        Column("corrected_material", "str", required=False),
        Column("confidence", "float", required=False, min=0, max=1),
        Column("model_version", "str", required=False),
        Column("photo_sha256", "str", required=False, pattern=r"[0-9a-f]{64}"),
        Column("accepted", "bool", required=False),
        Column("collected", "bool", required=False),
        Column("weighed_kg", "float", required=False, min=0, max=100_000),
        Column("paid_cents", "int", required=False, min=0, max=100_000_000),
    ),
    row_checks=(
        ("unknown material", _known_material),
        ("correction without a corrected material", _correction_has_label),
        ("inconsistent outcome", _outcome_is_consistent),
    ),
)

INTERACTIONS = Schema(
    name="interactions",
    key=("listing_id", "partner_id"),
    max_reject_fraction=0.02,
    columns=(
        Column("listing_id", "int", min=1),
        Column("partner_id", "int", min=1),
        Column("producer_id", "int", required=False, min=1),
        Column("material", "str"),
        Column("kg", "float", min=0.001, max=100_000),
        Column("distance_km", "float", min=0, max=2_000),
        Column("price_cents_per_kg", "int", min=0, max=1_000_000),
        Column("accepted", "bool"),
        Column("collected", "bool"),
        Column("weighed_kg", "float", required=False, min=0, max=100_000),
        Column("paid_cents", "int", required=False, min=0, max=100_000_000),
    ),
    row_checks=(("unknown material", _known_material), ("inconsistent outcome", _outcome_is_consistent)),
)

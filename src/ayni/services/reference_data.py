"""``ayni data load``: districts and MINAM generation/composition tables, validated, loaded idempotently."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from ayni.errors import InvalidInput
from ayni.mlops.validation import DISTRICTS, GENERATION, Report, composition_schema, validate
from ayni.storage.tables import District, WasteComposition, WasteGeneration

log = logging.getLogger(__name__)

PERU = "peru"


@dataclass
class LoadResult:
    reports: list[Report] = field(default_factory=list)
    loaded: dict[str, int] = field(default_factory=dict)
    skipped: bool = False


def peru_dir(data_dir: Path) -> Path:
    path = data_dir / PERU
    if not (path / "districts.csv").is_file():
        raise InvalidInput(f"No reference data at {path}: set AYNI_DATA_DIR to the folder holding peru/districts.csv.")
    return path


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"ubigeo": "string"}, keep_default_na=True)


def _none(value: object) -> object:
    return None if pd.isna(value) else value  # type: ignore[call-overload]


def load_reference_data(session: Session, data_dir: Path, *, force: bool = False) -> LoadResult:
    """Load (or, when already loaded with the same row counts, skip) the reference tables."""
    src = peru_dir(data_dir)
    result = LoadResult()
    districts, rep = validate(_read(src / "districts.csv"), DISTRICTS)
    result.reports.append(rep)
    generation, rep = validate(_read(src / "waste_generation_district_year.csv"), GENERATION)
    result.reports.append(rep)
    raw_comp = _read(src / "waste_composition_district_year.csv")
    materials = pd.read_csv(src / "composition_material_map.csv")["column"].tolist()
    composition, rep = validate(raw_comp, composition_schema(materials))
    result.reports.append(rep)
    known = set(districts["ubigeo"])
    generation = _only_known(generation, known, result.reports[1])
    composition = _only_known(composition, known, result.reports[2])
    if not force and _already_loaded(session, len(districts), len(generation), len(composition) * len(materials)):
        result.skipped = True
        return result
    _replace(session, districts, generation, composition, materials)
    result.loaded = {
        "districts": len(districts),
        "waste_generation": len(generation),
        "waste_composition": len(composition) * len(materials),
    }
    return result


def _only_known(frame: pd.DataFrame, known: set[str], report: Report) -> pd.DataFrame:
    unknown = ~frame["ubigeo"].isin(known)
    report.rejected += [(int(str(i)), "unknown district: ubigeo") for i in frame.index[unknown]]
    report.rows_accepted -= int(unknown.sum())
    return frame[~unknown]


def _already_loaded(session: Session, n_districts: int, n_generation: int, n_composition: int) -> bool:
    counts = (
        session.scalar(select(func.count()).select_from(District)),
        session.scalar(select(func.count()).select_from(WasteGeneration)),
        session.scalar(select(func.count()).select_from(WasteComposition)),
    )
    return counts == (n_districts, n_generation, n_composition)


def _replace(
    session: Session, districts: pd.DataFrame, generation: pd.DataFrame, composition: pd.DataFrame, materials: list[str]
) -> None:
    session.execute(delete(WasteComposition))
    session.execute(delete(WasteGeneration))
    existing = set(session.scalars(select(District.ubigeo)))
    rows = [
        {
            "ubigeo": r.ubigeo,
            "departamento": r.departamento,
            "provincia": r.provincia,
            "distrito": r.distrito,
            "region_natural": _none(r.region_natural),
            "latitude": _none(r.latitude),
            "longitude": _none(r.longitude),
            "pop_total": _int(r.pop_total_2023),
            "pop_urban": _int(r.pop_urban_2023),
            "in_minam_2023": bool(r.in_minam_2023),
        }
        for r in districts.itertuples(index=False)
    ]
    new = [r for r in rows if r["ubigeo"] not in existing]
    if new:
        session.execute(insert(District), new)
    for r in (r for r in rows if r["ubigeo"] in existing):
        session.execute(update(District).where(District.ubigeo == r["ubigeo"]).values(**r))
    gen_cols = [
        "ubigeo",
        "year",
        "pop_urban",
        "gpc_dom_kg_hab_day",
        "dom_t_year",
        "non_dom_t_year",
        "mun_t_year",
        "qa_flags",
    ]
    gen = generation[gen_cols].astype(object).where(generation[gen_cols].notna(), None)
    session.execute(insert(WasteGeneration), _records(gen))
    long = composition.melt(id_vars=["ubigeo", "year"], value_vars=materials, var_name="material", value_name="t_year")
    long["material"] = long["material"].str.removesuffix("_t")
    session.execute(insert(WasteComposition), _records(long.astype(object)))
    session.flush()


def _int(value: object) -> int | None:
    return None if pd.isna(value) else int(value)  # type: ignore[call-overload, arg-type]


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]

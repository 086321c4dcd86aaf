"""`ayni data load` and `ayni demo` on the real shared data (skipped where that data is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ayni.errors import InvalidInput
from ayni.services.demo import allocate, build_demo
from ayni.services.reference_data import load_reference_data
from ayni.settings import DemoSettings
from ayni.storage.tables import District, Listing, Match, Producer, WasteGeneration
from tests.conftest import shared_data_dir
from tests.integration.conftest import FAST_AUTH

DATA = shared_data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason="shared reference data (AYNI_DATA_DIR/peru) is not on this machine")


@needs_data
@pytest.mark.data
def test_load_validates_reports_rejects_and_is_idempotent_then_demo_follows_population(session: Session) -> None:
    assert DATA is not None
    result = load_reference_data(session, DATA)
    assert result.loaded["districts"] == 1894
    assert session.scalar(select(func.count()).select_from(WasteGeneration)) == 18759
    comp = next(r for r in result.reports if r.table == "waste_composition")
    assert comp.rows_rejected > 0 and set(comp.reasons()) == {"below minimum"}  # negative tonnes in MINAM's file
    assert load_reference_data(session, DATA).skipped
    demo = build_demo(session, demo=DemoSettings(producers=40, partners=6, listings=60), auth=FAST_AUTH, factors=None)
    assert demo.created and demo.counts["producers"] == 40 and demo.counts["listings"] == 60
    assert demo.counts["matches"] > 0
    # producers follow urban population: the district with most urban people gets the most producers
    rows = session.execute(select(Producer.ubigeo, func.count()).group_by(Producer.ubigeo)).all()
    top = session.scalar(select(District.ubigeo).where(District.provincia == "CHICLAYO").order_by(District.pop_urban.desc()))
    assert max(rows, key=lambda r: r[1])[0] == top
    assert session.scalar(select(func.count()).select_from(Listing).where(Listing.status == "collected")) == \
        session.scalar(select(func.count()).select_from(Match).where(Match.status == "collected"))
    assert not build_demo(session, demo=DemoSettings(), auth=FAST_AUTH, factors=None).created


def test_load_names_the_missing_data_folder(session: Session, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="AYNI_DATA_DIR"):
        load_reference_data(session, tmp_path)


def test_allocate_is_proportional_and_exact() -> None:
    assert allocate([3.0, 1.0], 8) == [6, 2]
    assert sum(allocate([0.2, 0.3, 0.5], 7)) == 7


@needs_data
def test_domain_materials_mirror_minams_composition_map() -> None:
    """The taxonomy in ``domain.materials`` is a copy of composition_material_map.csv: they must agree."""
    import csv

    from ayni.domain.materials import BY_MINAM_COLUMN, MATERIALS

    assert DATA is not None
    with (DATA / "peru" / "composition_material_map.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["column"].removesuffix("_t"): r["platform_material"] for r in rows} == BY_MINAM_COLUMN
    for r in rows:
        m = MATERIALS[r["platform_material"]]
        assert m.market == r["market_recyclable"], m.code
        assert (m.warm_proxy or "") == r["warm_proxy_material"], m.code

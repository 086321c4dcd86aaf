"""Migrations go up and down cleanly, and the models match the migrated schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from ayni.storage.engine import make_engine
from ayni.storage.migrate import downgrade, head_revision, upgrade
from ayni.storage.tables import Base
from tests.integration.conftest import fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url, drop = fresh_database(request.param, tmp_path)
    yield url
    drop()


def test_upgrade_downgrade_upgrade_round_trip(empty_db: str) -> None:
    upgrade(empty_db)
    engine = make_engine(empty_db)
    tables = set(inspect(engine).get_table_names())
    assert {"users", "listings", "matches", "partners", "capacity_reservations", "feedback"} <= tables
    downgrade(empty_db, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(empty_db)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        assert ctx.get_current_revision() == head_revision()
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"

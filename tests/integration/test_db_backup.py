"""``ayni db backup`` / ``restore`` round trips on SQLite (online backup API) and PostgreSQL (pg_dump/pg_restore)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from ayni.commands import db as db_commands
from ayni.errors import InvalidInput, NotFound
from ayni.settings import Settings
from ayni.storage.migrate import upgrade
from tests.integration.conftest import PG_ADMIN_URL, _pg_available, create_pg_database

pytestmark = pytest.mark.integration


def _districts(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT ubigeo FROM districts ORDER BY ubigeo"))]
    finally:
        engine.dispose()


def _execute(url: str, sql: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


INSERT = (
    "INSERT INTO districts (ubigeo, departamento, provincia, distrito, latitude, longitude, pop_total, pop_urban, "
    "in_minam_2023) VALUES ('{u}', 'LAMBAYEQUE', 'CHICLAYO', 'CHICLAYO', -6.77, -79.84, 1, 1, true)"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'live.db'}"
        drop = None
    else:
        if not _pg_available():
            pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
        if shutil.which("pg_dump") is None:
            pytest.skip("pg_dump is not installed (apt-get install -y postgresql-client)")
        url, drop = create_pg_database("ayni_backup")
    upgrade(url)
    _execute(url, INSERT.format(u="140101"))
    yield url
    if drop is not None:
        drop()


def test_restore_brings_back_the_data_as_it_was_at_backup_time(database_url: str, tmp_path: Path) -> None:
    path = db_commands.backup_database(database_url, tmp_path / "backups" / "one.bak")
    assert path.stat().st_size > 0 and not list(path.parent.glob("*.partial"))
    _execute(database_url, INSERT.format(u="140105"))
    _execute(database_url, "DELETE FROM districts WHERE ubigeo = '140101'")
    assert _districts(database_url) == ["140105"]

    db_commands.restore_database(database_url, path)

    assert _districts(database_url) == ["140101"]


def test_sqlite_backup_is_consistent_while_another_connection_holds_an_open_write(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execute(text(INSERT.format(u="150101")))  # uncommitted
        path = db_commands.backup_database(url, tmp_path / "busy.sqlite3")
        conn.rollback()
    engine.dispose()
    assert _districts(f"sqlite:///{path}") == []


def test_restore_refuses_a_file_that_is_not_an_ayni_sqlite_backup(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    bogus = tmp_path / "bogus.sqlite3"
    bogus.write_bytes(b"not a database at all" * 100)
    with pytest.raises(InvalidInput):
        db_commands.restore_database(url, bogus)
    with pytest.raises(NotFound):
        db_commands.restore_database(url, tmp_path / "missing.sqlite3")


def test_the_commands_back_up_and_restore_the_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    _execute(url, INSERT.format(u="140101"))
    settings = Settings(var_dir=tmp_path / "var", database={"url": url})  # type: ignore[arg-type]
    monkeypatch.setattr(db_commands, "get_settings", lambda: settings)
    runner = CliRunner()

    backed_up = runner.invoke(db_commands.app, ["backup"])
    assert backed_up.exit_code == 0, backed_up.output
    (path,) = (tmp_path / "var" / "backups").glob("ayni-*.sqlite3")
    _execute(url, "DELETE FROM districts")

    refused = runner.invoke(db_commands.app, ["restore", str(path)], input="n\n")
    assert refused.exit_code != 0 and _districts(url) == []
    restored = runner.invoke(db_commands.app, ["restore", str(path), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert _districts(url) == ["140101"]

    missing = runner.invoke(db_commands.app, ["restore", str(tmp_path / "nope.sqlite3"), "--yes"])
    assert missing.exit_code == 1 and "There is no backup" in missing.output

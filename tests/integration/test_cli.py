"""The command line is idempotent and says what it did."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ayni.cli import app
from ayni.settings import get_settings


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AYNI_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("AYNI_DATA_DIR", str(tmp_path / "no-data"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_db_upgrade_twice_reports_up_to_date(env: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["db", "upgrade"])
    assert first.exit_code == 0 and "upgraded" in first.output
    second = runner.invoke(app, ["db", "upgrade"])
    assert second.exit_code == 0 and "already up to date" in second.output
    assert (env / "var" / "ayni.db").is_file()


def test_data_load_without_data_explains_what_to_set(env: Path) -> None:
    runner = CliRunner()
    runner.invoke(app, ["db", "upgrade"])
    result = runner.invoke(app, ["data", "load"])
    assert result.exit_code != 0
    assert "AYNI_DATA_DIR" in str(result.exception)


def test_expire_runs_on_an_empty_platform_and_says_how_many(env: Path) -> None:
    runner = CliRunner()
    runner.invoke(app, ["db", "upgrade"])
    result = runner.invoke(app, ["expire"])
    assert result.exit_code == 0, result.output
    assert "Expired 0 listing(s)" in result.output

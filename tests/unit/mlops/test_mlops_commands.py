"""The MLOps commands on the tiny model: bootstrap, refuse, drift report, rollback, validation exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ayni.commands.mlops import app
from ayni.settings import get_settings
from tests.unit.mlops._factories import mlflow_registry

runner = CliRunner()


@pytest.fixture
def var(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    var = tmp_path / "var"
    mlflow_registry(var, tmp_path_factory.getbasetemp() / "mlflow-template")  # an empty local backend
    monkeypatch.setenv("AYNI_VAR_DIR", str(var))
    monkeypatch.setenv("AYNI_DATABASE__URL", f"sqlite:///{tmp_path / 'none.db'}")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    yield var
    get_settings.cache_clear()


def run(*args: str, stdout: bool = False) -> tuple[int, str]:
    """Exit code and what was printed (``stdout=True``: standard output alone, without the log lines)."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout if stdout else result.output


def test_the_tiny_loop_through_the_commands(var: Path, tmp_path: Path) -> None:
    base = var / "mlops" / "tiny" / "base.csv"
    assert run("tiny-data", "--out", str(base))[0] == 0
    code, out = run("retrain", "tiny", "--no-feedback", stdout=True)
    assert code == 0 and json.loads(out)["promoted"] and "no champion yet" in json.loads(out)["reason"]
    code, out = run("retrain", "--no-feedback", "--strict")  # every model with a champion: tiny; no better → 1
    assert code == 1 and "does not beat it by the margin 0.01" in out
    code, out = run("registry", "tiny", "--json", stdout=True)
    versions = {v["version"]: v for v in json.loads(out)}
    assert versions[1]["aliases"] == ["champion"] and versions[2]["status"] == "refused"

    frame = pd.read_csv(base)
    frame.assign(f0=frame["f0"] + 2).to_csv(tmp_path / "shifted.csv", index=False)
    code, out = run("drift-report", "tiny", "--current", str(tmp_path / "shifted.csv"), "--fail-on-drift")
    assert code == 1 and "f0.psi" in out
    report = json.loads((var / "mlops" / "tiny" / "drift.json").read_text())
    assert "f0.psi" in report["drifted_signals"] and "f1.psi" not in report["drifted_signals"]
    assert "<svg" in (var / "mlops" / "tiny" / "drift.html").read_text()

    code, out = run("rollback", "tiny")
    assert code == 1 and "no previous champion" in out


def test_retrain_says_what_to_do_when_the_database_is_not_ready(var: Path) -> None:
    run("tiny-data", "--out", str(var / "mlops" / "tiny" / "base.csv"))
    code, out = run("retrain", "tiny")
    assert code == 1 and "ayni db upgrade" in out


def test_validate_refuses_a_bad_batch(var: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("listing_id,partner_id,producer_id,material,kg,distance_km,price_cents_per_kg,accepted,collected,"
                    "weighed_kg,paid_cents\n1,1,1,glass,2,1,20,true,true,2,40\n2,1,1,paper,3,2,10,false,false,,\n")
    assert run("validate", "interactions", str(good))[0] == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(good.read_text().replace("2,1,1,paper,3", "2,1,1,paper,-3"))
    code, out = run("validate", "interactions", str(bad), "--out", str(tmp_path / "r.json"))
    assert code == 1 and "REFUSED" in out and json.loads((tmp_path / "r.json").read_text())["ok"] is False

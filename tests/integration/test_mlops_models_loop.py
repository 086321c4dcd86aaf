"""The MLOps loop for the match ranker and the supply forecaster, on the production specs.

train → register → promote (gate) → retrain → the challenger promoted or refused with its reason →
rollback, with the MLflow registry (SQLite under ``tmp_path``) checked at each step. The ranker's base data
is a small simulated Chiclayo log (60 producers, 8 partners, 5 weeks) built here from the real districts;
the forecaster's is MINAM's district table. Both need the shared data and skip without it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ayni.commands.mlops import app
from ayni.mlops.feedback import freeze_eval_set
from ayni.mlops.promotion import run_gate
from ayni.mlops.registry import CHALLENGER, TAG_REASON, TAG_STATUS, ModelRegistry, RegistryConfig
from ayni.mlops.retrain import gate_callbacks, retrain, train_and_register
from ayni.services._mlops_ranker import MODEL_FILE, RankerTrainer
from ayni.services.mlops_models import ModelSpec, promote_model, rollback_model, spec_for
from ayni.settings import ForecasterSettings, RankerSettings, get_settings
from tests.conftest import shared_data_dir
from tests.unit.mlops._factories import mlflow_registry

DATA = shared_data_dir()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(DATA is None or not (DATA / "peru").is_dir(),
                       reason="shared reference data (AYNI_DATA_DIR/peru: districts, MINAM tables) is not on this machine"),
]


@pytest.fixture
def registry(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    return mlflow_registry(tmp_path / "var", tmp_path_factory.getbasetemp() / "mlflow-template")


def simulated_log(path: Path, *, weeks: int = 5) -> Path:
    from ayni.matching.behaviour import simulate_history
    from ayni.matching.interactions import interactions_frame
    from ayni.matching.simulate import build_community, load_districts

    assert DATA is not None
    districts = load_districts(DATA, provincia="CHICLAYO", departamento="LAMBAYEQUE")
    community = build_community(districts, n_producers=60, n_partners=8, start=datetime(2026, 1, 5).date(),
                                random_state=7)
    interactions_frame(simulate_history(community, weeks=weeks, random_state=7)).to_csv(path, index=False)
    return path


def platform_outcomes(n: int = 6) -> pd.DataFrame:
    """What ``mlops_data.ranker_outcomes`` returns: decided matches (one recorded twice: de-duplicated)."""
    t0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
    rows = [{"match_id": 100 + i, "listing_id": 500 + i, "partner_id": 1, "producer_id": 2, "material": "PET",
             "kg": 12.0, "distance_km": 1.5 + i, "price_cents_per_kg": 120, "accepted": i % 2 == 0,
             "collected": i % 2 == 0, "weighed_kg": 11.8 if i % 2 == 0 else None, "paid_cents": 1416 if i % 2 == 0
             else None, "decided_at": t0 + timedelta(days=i), "radius_km": 8.0, "partner_kind": "recycler",
             "producer_kind": "household", "photo_confidence": 0.9, "created_at": t0 - timedelta(days=1)}
            for i in range(n)]
    return pd.DataFrame([*rows, {**rows[0], "decided_at": t0 + timedelta(days=30)}])


def status(registry: ModelRegistry, name: str, version: int) -> str | None:
    return registry.version(name, version).tags.get(TAG_STATUS)


def run_loop(registry: ModelRegistry, spec: ModelSpec, *, var_dir: Path, base_path: Path, feedback: pd.DataFrame,
             weak: pd.DataFrame, via_service: bool = True) -> None:
    """Bootstrap a champion on ``weak`` rows, retrain on base + feedback, retrain again, roll back."""
    name = spec.name
    base = spec.base()
    eval_set = freeze_eval_set(base, var_dir / "mlops" / name / "eval_set.csv")
    assert not set(base.loc[base["split"] != "test", "key"]) & eval_set.keys

    # 1. train → register (challenger) → promote: no champion yet, so promoted if its checks pass
    v1 = train_and_register(registry, spec.trainer(), model_name=name, frame=weak, eval_set=eval_set,
                            work_dir=var_dir / "work")
    assert CHALLENGER in v1.aliases and v1.data_version
    if via_service:  # `ayni promote` / the admin API's use case, on the production spec
        first = promote_model(registry, name, var_dir=var_dir, data_dir=DATA or Path(), base_path=base_path)
    else:
        evaluate, checks = gate_callbacks(spec.trainer(), eval_set)
        first = run_gate(registry, name, evaluate=evaluate, checks=checks, config=spec.gate,
                         cache_dir=var_dir / "cache")
    assert first.decision.promote, first.decision.reason
    assert registry.champion(name).version == v1.version  # type: ignore[union-attr]
    assert status(registry, name, v1.version) == "champion"

    # 2. retrain on base + feedback: promoted (it beats the champion by the margin) or refused, with the reason
    second = retrain(registry, spec.trainer(), model_name=name, base=base, feedback=feedback, eval_set=eval_set,
                     gate=spec.gate, work_dir=var_dir / "work", build=spec.training_set)
    assert second.training_set.eval_leaks_dropped == 0
    champion = registry.champion(name)
    assert champion is not None
    v2 = second.challenger.version
    if second.promoted:
        assert champion.version == v2 and "gain" in second.gate.decision.reason
    else:
        assert champion.version == v1.version and status(registry, name, v2) == "refused"
        assert registry.version(name, v2).tags.get(TAG_REASON) == second.gate.decision.reason
    assert second.gate.decision.champion is not None  # both scored afresh on the frozen set

    # 3. the same data again: an identical model cannot beat the champion by the margin
    third = retrain(registry, spec.trainer(), model_name=name, base=base, feedback=feedback, eval_set=eval_set,
                    gate=spec.gate, work_dir=var_dir / "work", build=spec.training_set)
    assert not third.promoted
    if name == "ranker":  # on this tiny log a retrained ranker may also tie nearest-first: refused by its checks
        assert any(r in third.gate.decision.reason for r in ("does not beat it by the margin", "beats nearest"))
    else:
        assert "does not beat it by the margin" in third.gate.decision.reason
    assert status(registry, name, third.challenger.version) == "refused"

    # 4. rollback after a promotion restores the previous champion
    if second.promoted:
        restored = rollback_model(registry, name, reason="integration test")
        assert restored.version == v1.version and registry.champion(name).version == v1.version  # type: ignore[union-attr]


def test_ranker_goes_round_the_loop_with_platform_outcomes(tmp_path: Path, registry: ModelRegistry) -> None:
    var_dir = tmp_path / "var"
    log_path = simulated_log(tmp_path / "interactions.csv")
    spec = spec_for("ranker", var_dir=var_dir, data_dir=DATA or Path(), base_path=log_path)
    loop_spec = spec  # the real gate, direction check included (P is constrained to fall with distance)
    base = spec.base()
    assert set(base.loc[base["split"] == "test", "week"]) == {4}  # the last week is held out by time
    weak = base[(base["split"] == "train") & (base["week"] < 2)]
    feedback = platform_outcomes()
    frame, report = spec.training_set(base, feedback, eval_set=freeze_eval_set(base, tmp_path / "probe.csv"))
    assert report.added == 6 and report.duplicates_dropped == 1 and frame["key"].is_unique

    run_loop(registry, loop_spec, var_dir=var_dir, base_path=log_path, feedback=feedback, weak=weak,
             via_service=False)

    champion = registry.champion("ranker")
    assert champion is not None
    model_dir = registry.download(champion, tmp_path / "dl")
    assert {MODEL_FILE, "ranker.json", "drift_reference.json"} <= {p.name for p in model_dir.iterdir()}
    eval_frame = pd.read_csv(var_dir / "mlops" / "ranker" / "eval_set.csv", dtype={"key": str, "label": str})
    checks = {c.name: c for c in RankerTrainer(random_state=0).checks(model_dir, eval_frame)}
    direction = checks["P(accept) does not rise beyond the partner's radius"]
    assert direction.passed and direction.value is not None and direction.value >= 0.9


def test_forecaster_goes_round_the_loop_gated_on_mase(tmp_path: Path, registry: ModelRegistry) -> None:
    var_dir = tmp_path / "var"
    spec = spec_for("forecaster", var_dir=var_dir, data_dir=DATA or Path())
    assert spec.gate.metric == "mase" and not spec.gate.higher_is_better
    base = spec.base()
    test_years = set(base.loc[base["split"] == "test", "target_year"])
    assert test_years == {int(base["target_year"].max())}  # the latest year is held out
    weak = base[(base["split"] == "train") & (base["target_year"] <= base["target_year"].min() + 2)]

    run_loop(registry, spec, var_dir=var_dir, base_path=spec_base_path(), feedback=pd.DataFrame(), weak=weak)

    champion = registry.champion("forecaster")
    assert champion is not None and np.isfinite(champion.metrics["eval_mase"])
    assert "annual.npz" in {p.name for p in registry.download(champion, tmp_path / "dl").iterdir()}


def spec_base_path() -> Path:
    assert DATA is not None
    return DATA / "peru" / "waste_generation_district_year.csv"


# --- one evaluation window: what the settings say is what retraining and the gate hold out ---------------

FULL_PROFILE = RankerSettings(seed=3, test_weeks=2)  # params-full.yaml holds out two weeks; the default is one


@pytest.fixture
def configured(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``AYNI_VAR_DIR`` on an empty registry and the ranker configured through the environment alone, as the
    retraining CronJob is (its image carries no params.yaml)."""
    var = tmp_path / "var"
    mlflow_registry(var, tmp_path_factory.getbasetemp() / "mlflow-template")
    monkeypatch.setenv("AYNI_VAR_DIR", str(var))
    monkeypatch.setenv("AYNI_DATABASE__URL", f"sqlite:///{tmp_path / 'none.db'}")
    monkeypatch.setenv("AYNI_RANKER__SEED", str(FULL_PROFILE.seed))
    monkeypatch.setenv("AYNI_RANKER__TEST_WEEKS", str(FULL_PROFILE.test_weeks))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    yield var
    get_settings.cache_clear()


def frozen_weeks(var_dir: Path) -> set[int]:
    return set(pd.read_csv(var_dir / "mlops" / "ranker" / "eval_set.csv")["week"])


def test_retrain_holds_out_the_configured_weeks_and_uses_the_configured_seed(configured: Path,
                                                                            tmp_path: Path) -> None:
    log_path = simulated_log(tmp_path / "interactions.csv")  # weeks 0…4
    result = CliRunner().invoke(app, ["retrain", "ranker", "--base", str(log_path), "--no-feedback"])
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)

    assert frozen_weeks(configured) == {3, 4}  # the last two weeks, not the last one
    base = spec_for("ranker", var_dir=configured, data_dir=DATA or Path(), base_path=log_path,
                    ranker=FULL_PROFILE).base()
    assert outcome["training_set"]["rows_out"] == int((base["week"] < 3).sum())  # trained on weeks 0…2 only
    assert outcome["decision"]["challenger"]["n_offers"] == int((base["week"] >= 3).sum())
    version = ModelRegistry(RegistryConfig.from_env(configured)).version("ranker", outcome["challenger_version"])
    assert version.params["random_state"] == str(FULL_PROFILE.seed)


def test_the_pipelines_train_ranker_holds_out_what_retraining_holds_out(configured: Path, tmp_path: Path) -> None:
    from ayni.commands.matching import app as matching_app

    log_path = simulated_log(tmp_path / "interactions.csv")
    out = tmp_path / "ranker"
    result = CliRunner().invoke(matching_app, ["train-ranker", "--interactions", str(log_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "ranker.json").read_text())
    assert meta["test_weeks"] == FULL_PROFILE.test_weeks and meta["params"]["random_state"] == FULL_PROFILE.seed
    base = spec_for("ranker", var_dir=configured, data_dir=DATA or Path(), base_path=log_path,
                    ranker=FULL_PROFILE).base()
    assert meta["n_train"] == int((base["split"] == "train").sum())  # the same offers as `ayni retrain`'s


def test_the_gate_scores_the_ranker_on_the_configured_weeks(configured: Path, tmp_path: Path) -> None:
    log_path = simulated_log(tmp_path / "interactions.csv")
    spec = spec_for("ranker", var_dir=configured, data_dir=DATA or Path(), base_path=log_path, ranker=FULL_PROFILE)
    base = spec.base()
    assert set(base.loc[base["split"] == "test", "week"]) == {3, 4}
    registry = ModelRegistry(RegistryConfig.from_env(configured))
    train_and_register(registry, spec.trainer(), model_name="ranker", frame=base[base["split"] == "train"],
                       eval_set=freeze_eval_set(base, tmp_path / "probe.csv"), work_dir=tmp_path / "work")

    result = CliRunner().invoke(app, ["promote", "ranker", "--base", str(log_path), "--out",
                                      str(tmp_path / "gate.json")])  # the pipeline's gate command
    assert result.exit_code == 0, result.output
    assert frozen_weeks(configured) == {3, 4}
    decision = json.loads((tmp_path / "gate.json").read_text())
    assert decision["challenger"]["n_offers"] == int((base["split"] == "test").sum())


def test_the_forecaster_spec_holds_out_the_configured_year(tmp_path: Path) -> None:
    spec = spec_for("forecaster", var_dir=tmp_path / "var", data_dir=DATA or Path(),
                    forecaster=ForecasterSettings(test_year=2022, seed=5))
    base = spec.base()
    assert set(base.loc[base["split"] == "test", "target_year"]) == {2022}
    assert base["target_year"].max() == 2022  # later years are neither trained on nor scored
    assert spec.trainer().random_state == 5  # type: ignore[attr-defined]

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ayni.errors import Conflict, ModelUnavailable
from ayni.mlops.registry import CHALLENGER, CHAMPION, ModelRegistry, RegistryConfig, Signature
from ayni.mlops.serving import ChampionHolder


def model_dir(tmp_path: Path, name: str, value: int) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "weights.json").write_text(json.dumps({"value": value}))
    return d


def read_value(path: Path) -> int:
    return int(json.loads((path / "weights.json").read_text())["value"])


def log(registry: ModelRegistry, tmp_path: Path, value: int, *, alias: str | None = CHALLENGER) -> int:
    run_id = registry.log_run(
        model_name="tiny", model_dir=model_dir(tmp_path, f"m{value}", value), data_version=f"data{value}",
        params={"C": 1.0, "layers": [1, 2]}, metrics={"accuracy": value / 10},
        signature=Signature(np.zeros((2, 3), np.float32), np.zeros((2, 7), np.float32)),
        plots={"confusion.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>"},
    )
    return registry.register(model_name="tiny", run_id=run_id, alias=alias).version


def test_local_config_keeps_everything_under_var(tmp_path: Path) -> None:
    config = RegistryConfig.local(tmp_path / "var")
    assert config.tracking_uri == f"sqlite:///{tmp_path / 'var' / 'mlflow' / 'mlflow.db'}"
    assert config.artifact_location == (tmp_path / "var" / "mlflow" / "artifacts").as_uri()


def test_from_env_points_at_a_real_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    assert RegistryConfig.from_env(tmp_path).tracking_uri == "http://mlflow.internal:5000"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert RegistryConfig.from_env(tmp_path).tracking_uri.startswith("sqlite:///")


def test_a_logged_run_keeps_params_metrics_data_version_signature_and_plots(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    version = log(registry, tmp_path, 7)
    mv = registry.version("tiny", version)
    assert mv.aliases == (CHALLENGER,) and mv.data_version == "data7"
    assert mv.metrics == {"accuracy": 0.7} and mv.params == {"C": "1.0", "layers": "[1, 2]"}
    path = registry.download(mv, tmp_path / "cache")
    mlmodel = (path / "MLmodel").read_text()
    assert "tensor-spec" in mlmodel and "float32" in mlmodel and read_value(path) == 7
    plots = Path(registry._client.download_artifacts(mv.run_id, "plots", str(tmp_path / "p")))
    assert (plots / "confusion.svg").is_file()
    assert (tmp_path / "var" / "mlflow" / "artifacts").is_dir()


def test_promote_moves_the_champion_and_rollback_restores_the_previous_one(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    v1 = log(registry, tmp_path, 1)
    registry.promote("tiny", v1, reason="first")
    v2 = log(registry, tmp_path, 2)
    assert registry.champion("tiny").version == v1 and registry.challenger("tiny").version == v2  # type: ignore[union-attr]
    registry.promote("tiny", v2, reason="better")
    assert registry.champion("tiny").version == v2 and registry.challenger("tiny") is None  # type: ignore[union-attr]
    assert registry.champion_history("tiny") == [v1, v2]
    assert registry.version("tiny", v1).tags["ayni.status"] == "superseded"
    restored = registry.rollback("tiny", reason="complaints")
    assert restored.version == v1 and restored.aliases == (CHAMPION,)
    assert registry.version("tiny", v2).tags["ayni.status"] == "rolled_back"
    with pytest.raises(Conflict):
        registry.rollback("tiny")
    assert [v.version for v in registry.versions("tiny")] == [v2, v1]


def test_refused_challenger_keeps_its_alias_and_the_reason(registry: ModelRegistry, tmp_path: Path) -> None:
    v1 = log(registry, tmp_path, 1)
    refused = registry.refuse("tiny", v1, reason="accuracy below margin")
    assert refused.aliases == (CHALLENGER,) and refused.tags["ayni.decision_reason"] == "accuracy below margin"
    assert registry.champion("tiny") is None


def test_load_champion_without_one_is_model_unavailable(registry: ModelRegistry, tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable):
        registry.load_champion("nothing", read_value, cache_dir=tmp_path / "cache")


def test_holder_serves_the_champion_and_swaps_on_promotion_and_rollback(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    registry.promote("tiny", log(registry, tmp_path, 1), reason="first")
    holder = ChampionHolder(registry, "tiny", read_value, cache_dir=tmp_path / "cache")
    assert holder.refresh() and holder.current() == 1
    assert not holder.refresh()  # nothing changed
    registry.promote("tiny", log(registry, tmp_path, 2), reason="better")
    assert holder.current() == 1  # still serving the old one until refreshed
    assert holder.refresh() and holder.current() == 2 and holder.version == 2
    registry.rollback("tiny")
    assert holder.refresh() and holder.current() == 1


def test_holder_keeps_serving_when_the_new_champion_cannot_load(registry: ModelRegistry, tmp_path: Path) -> None:
    registry.promote("tiny", log(registry, tmp_path, 1), reason="first")
    holder = ChampionHolder(registry, "tiny", read_value, cache_dir=tmp_path / "cache")
    holder.refresh()
    broken = log(registry, tmp_path, 2)
    registry.promote("tiny", broken, reason="test")
    cached = registry.download(registry.version("tiny", broken), tmp_path / "cache")  # corrupt the served copy
    (cached / "weights.json").write_text("not json")
    assert holder.refresh() is False and holder.current() == 1


def test_holder_without_any_champion_raises(registry: ModelRegistry, tmp_path: Path) -> None:
    holder = ChampionHolder(registry, "tiny", read_value, cache_dir=tmp_path / "cache")
    with pytest.raises(ModelUnavailable):
        holder.refresh()
    with pytest.raises(ModelUnavailable):
        holder.current()


def test_holder_serves_the_fallback_until_a_champion_exists(registry: ModelRegistry, tmp_path: Path) -> None:
    holder = ChampionHolder(registry, "tiny", read_value, cache_dir=tmp_path / "cache", fallback=lambda: -1)
    assert holder.refresh() is False and holder.current() == -1 and holder.version is None
    registry.promote("tiny", log(registry, tmp_path, 3), reason="first")
    assert holder.refresh() and holder.current() == 3


def test_an_unreachable_registry_is_an_outage_not_a_missing_champion(
        registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    from ayni.errors import ServiceUnavailable

    assert registry.champion("nothing-registered") is None  # absent model: no champion, no error
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    down = ModelRegistry(RegistryConfig(tracking_uri="http://127.0.0.1:9"))  # nothing listens on port 9
    with pytest.raises(ServiceUnavailable, match="did not answer"):
        down.champion("vision")

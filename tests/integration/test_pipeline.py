"""The DVC pipeline, tiny profile, end to end: ``dvc repro`` in a fresh copy of the working tree.

The copy holds what a clean checkout holds (tracked files plus new files git does not ignore: no ``var/``,
no ``models/``, no DVC cache), with ``data.dir`` pointed at the shared data and ``MLFLOW_TRACKING_URI`` at
a throw-away SQLite file, so nothing here touches the developer's registry or outputs. About three
minutes on 2 CPU cores (the vision stages dominate).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import shared_data_dir

ROOT = Path(__file__).resolve().parents[2]
DATA = shared_data_dir()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.data,
    pytest.mark.skipif(DATA is None or not (DATA / "images").is_dir(),
                       reason="needs the shared data (peru/ and images/; set AYNI_DATA_DIR)"),
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git (DVC runs inside a git repository)"),
]

STAGES = ("validate_data", "subsample_vision", "train_vision", "evaluate_vision", "register_vision",
          "simulate_interactions", "train_ranker", "evaluate_matching", "train_forecaster", "evaluate_forecaster",
          "mlops_loop")


def _checkout(dest: Path) -> None:
    """Copy the files a clean checkout of the working tree has (tracked + untracked, not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    assert DATA is not None
    repo = tmp_path_factory.mktemp("pipeline") / "repo"
    _checkout(repo)
    params = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    assert params["profile"] == "tiny"
    params["data"]["dir"] = str(DATA)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    tracking = f"sqlite:///{repo.parent / 'mlflow.db'}"
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), "MLFLOW_TRACKING_URI": tracking,
           "AYNI_DATA_DIR": str(DATA), "AYNI_VAR_DIR": str(repo / "var")}
    env.pop("MLFLOW_REGISTRY_URI", None)
    done = subprocess.run([str(Path(bin_dir) / "dvc"), "repro"], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return repo, tracking


def _json(path: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(path.read_text(encoding="utf-8"))


def test_repro_runs_every_stage_and_records_them_in_the_lock(pipeline: tuple[Path, str]) -> None:
    repo, _ = pipeline
    lock = yaml.safe_load((repo / "dvc.lock").read_text(encoding="utf-8"))
    assert set(STAGES) <= set(lock["stages"])
    manifest = "data/manifests/vision_split.csv"  # frozen stage: the committed split is used as it is
    assert (repo / manifest).read_bytes() == (ROOT / manifest).read_bytes()
    status = subprocess.run([str(Path(sys.executable).parent / "dvc"), "status", "--json"], cwd=repo,
                            capture_output=True, text=True, env={**os.environ, "PATH": str(Path(sys.executable).parent)
                                                                 + os.pathsep + os.environ.get("PATH", "")})
    assert json.loads(status.stdout or "{}") == {}, status.stdout


def test_tiny_profile_trains_on_a_subsample_that_keeps_the_split(pipeline: tuple[Path, str]) -> None:
    import pandas as pd

    repo, _ = pipeline
    params = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    subset = pd.read_csv(repo / "data/pipeline/vision_manifest.csv")
    full = pd.read_csv(repo / "data/manifests/vision_split.csv").set_index("sha256")
    assert subset.groupby(["split", "class"]).size().max() <= params["vision"]["max_per_class"]
    assert (full.loc[subset["sha256"], "split"].to_numpy() == subset["split"].to_numpy()).all()


def test_metrics_files_hold_each_models_scores(pipeline: tuple[Path, str]) -> None:
    repo, _ = pipeline
    vision = _json(repo / "reports/vision/metrics.json")
    assert vision["test"]["n"] > 0 and 0.4 < vision["test"]["accuracy"] <= 1
    ranker = _json(repo / "reports/matching/metrics.json")
    assert ranker["n_test"] > 0 and 0.5 < ranker["roc_auc"] <= 1
    forecast = _json(repo / "reports/forecast/metrics.json")
    assert 0 < forecast["mase"] < forecast["chiclayo"]["naive_mase"]
    assert _json(repo / "reports/validation/interactions.json")["ok"] is True
    assert _json(repo / "reports/mlops/vision_gate.json")["promote"] is True  # the first version: no champion yet
    assert _json(repo / "reports/mlops/tiny_retrain.json")["promoted"] is True


def test_every_model_is_registered_with_its_data_version(pipeline: tuple[Path, str]) -> None:
    from ayni.mlops.registry import ModelRegistry, RegistryConfig

    repo, tracking = pipeline
    registry = ModelRegistry(RegistryConfig(tracking_uri=tracking))
    assert {"vision", "ranker", "forecaster"} <= set(registry.models())  # (tiny: only when mlops_loop reran)
    assert registry.champion("vision") is not None
    for name in ("vision", "ranker", "forecaster"):
        written = _json(repo / f"reports/mlops/{name}_registered.json")
        version = registry.version(name, int(written["version"]))
        assert version.data_version and version.data_version == written["data_version"]
    # the ranker and the forecaster go through the gate too: the decision in the report is the registry's
    for name in ("ranker", "forecaster"):
        gate = _json(repo / f"reports/mlops/{name}_gate.json")
        assert gate["reason"] and gate["checks"]
        assert (registry.champion(name) is not None) is gate["promote"], (name, gate["reason"])
    assert "ndcg_at_10" in _json(repo / "reports/mlops/ranker_gate.json")["challenger"]
    assert _json(repo / "reports/mlops/forecaster_gate.json")["promote"] is True  # first version, checks pass
    assert not (repo / "models/vision/drift_reference.json").exists()  # registering never edits a stage's output

"""One definition of the ranker's and the forecaster's seed and evaluation window.

``Settings.ranker`` / ``Settings.forecaster`` are what ``ayni retrain``, the promotion gate and the pipeline's
training commands read; the DVC pipeline hands a profile's params to them (flags or ``AYNI_…`` variables), and
the settings' defaults are the tiny profile's values, so a retraining job without params.yaml (the CronJob
image) holds out what ``dvc repro`` holds out.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ayni.errors import InvalidInput
from ayni.matching.evaluation import first_test_week
from ayni.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def stage(name: str) -> dict[str, object]:
    stages: dict[str, dict[str, object]] = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return stages[name]


def commands(name: str) -> list[str]:
    cmd = stage(name)["cmd"]
    return [" ".join(c.split()) for c in (cmd if isinstance(cmd, list) else [cmd])]  # type: ignore[union-attr]


def test_the_settings_defaults_are_the_tiny_profiles_params() -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    defaults = Settings()
    assert params["profile"] == "tiny"
    assert defaults.ranker.seed == params["matching"]["seed"]
    assert defaults.ranker.test_weeks == params["matching"]["test_weeks"]
    assert defaults.forecaster.test_year == params["forecast"]["test_year"]


def test_the_environment_sets_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AYNI_RANKER__TEST_WEEKS", "2")
    monkeypatch.setenv("AYNI_RANKER__SEED", "11")
    monkeypatch.setenv("AYNI_FORECASTER__TEST_YEAR", "2022")
    settings = Settings()
    assert (settings.ranker.test_weeks, settings.ranker.seed, settings.forecaster.test_year) == (2, 11, 2022)


def test_the_ranker_stages_train_and_gate_on_the_same_params() -> None:
    (train,) = commands("train_ranker")
    assert "--seed ${matching.seed}" in train and "--test-weeks ${matching.test_weeks}" in train
    (gate,) = [c for c in commands("evaluate_matching") if " promote ranker" in c]
    assert "AYNI_RANKER__SEED=${matching.seed}" in gate and "AYNI_RANKER__TEST_WEEKS=${matching.test_weeks}" in gate
    assert {"matching.seed", "matching.test_weeks"} <= set(stage("evaluate_matching")["params"])  # type: ignore[arg-type]


def test_the_forecaster_stages_train_and_gate_on_the_same_year() -> None:
    (train,) = commands("train_forecaster")
    assert "--test-year ${forecast.test_year}" in train
    (gate,) = [c for c in commands("evaluate_forecaster") if " promote forecaster" in c]
    assert "AYNI_FORECASTER__TEST_YEAR=${forecast.test_year}" in gate
    assert "forecast.test_year" in stage("evaluate_forecaster")["params"]  # type: ignore[operator]


@pytest.mark.parametrize(("n_weeks", "test_weeks", "first"), [(6, 1, 5), (26, 2, 24), (3, 2, 1)])
def test_the_held_out_weeks_are_the_last_ones(n_weeks: int, test_weeks: int, first: int) -> None:
    assert first_test_week(n_weeks, test_weeks=test_weeks) == first


@pytest.mark.parametrize(("n_weeks", "test_weeks"), [(2, 2), (1, 1), (5, 0)])
def test_a_window_that_leaves_no_training_week_is_refused(n_weeks: int, test_weeks: int) -> None:
    with pytest.raises(InvalidInput, match="test week"):
        first_test_week(n_weeks, test_weeks=test_weeks)

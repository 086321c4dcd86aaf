"""MLOps fixtures: a registry on a throw-away MLflow SQLite backend under ``tmp_path``."""

from __future__ import annotations

from pathlib import Path

import pytest

from ayni.mlops.registry import ModelRegistry
from tests.unit.mlops._factories import mlflow_registry


@pytest.fixture
def registry(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    return mlflow_registry(tmp_path / "var", tmp_path_factory.getbasetemp() / "mlflow-template")

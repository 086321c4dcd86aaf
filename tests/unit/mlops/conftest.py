"""MLOps fixtures: a registry on a throw-away MLflow SQLite backend under ``tmp_path``.

Creating MLflow's schema takes seconds, so an empty backend is built once per session and copied
for each test; every test still gets its own database and artifact folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ayni.mlops.registry import ModelRegistry, RegistryConfig


@pytest.fixture(scope="session")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    var = tmp_path_factory.mktemp("mlflow-template")
    ModelRegistry(RegistryConfig.local(var)).models()  # creates the schema
    return var / "mlflow" / "mlflow.db"


@pytest.fixture
def registry(tmp_path: Path, empty_mlflow_db: Path) -> ModelRegistry:
    config = RegistryConfig.local(tmp_path / "var")
    db = Path(config.tracking_uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True)
    shutil.copyfile(empty_mlflow_db, db)
    return ModelRegistry(config)

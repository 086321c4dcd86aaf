"""Factories for the MLOps tests: small, separable data with sensible defaults."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ayni.mlops.registry import ModelRegistry, RegistryConfig


def blobs(n: int, *, shift: float = 0.0, seed: int = 0, classes: tuple[str, ...] = ("glass", "paper", "metal"),
          dim: int = 4, split: str = "train") -> pd.DataFrame:
    """Separable Gaussian blobs as an ``f0…`` feature frame with ``key``, ``label`` and ``split``."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(classes, n)
    centres = {c: np.eye(dim)[i % dim] * 3 for i, c in enumerate(classes)}
    X = np.stack([centres[c] for c in labels]) + rng.normal(0, 1, (n, dim)) + shift
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(dim)])
    frame.insert(0, "label", labels)
    frame.insert(0, "key", [f"{split}-{seed}-{i:05d}" for i in range(n)])
    frame["split"] = split
    return frame


_TEMPLATE: dict[str, Path] = {}


def mlflow_registry(var_dir: Path, template_dir: Path) -> ModelRegistry:
    """A registry on a fresh local backend under ``var_dir``.

    Creating MLflow's schema takes seconds, so an empty database is built once per test process (in
    ``template_dir``) and copied: every caller still gets its own database and artifact folder.
    """
    if "db" not in _TEMPLATE:
        ModelRegistry(RegistryConfig.local(template_dir)).models()  # creates the schema
        _TEMPLATE["db"] = template_dir / "mlflow" / "mlflow.db"
    config = RegistryConfig.local(var_dir)
    db = Path(config.tracking_uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_TEMPLATE["db"], db)
    return ModelRegistry(config)

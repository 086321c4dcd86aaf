"""Shared fixtures: settings that keep every test's files in a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from ayni.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path / "var", data_dir=tmp_path / "data", log_json=False)


def shared_data_dir() -> Path | None:
    """The shared reference data, when this machine has it (integration tests that need it skip otherwise)."""
    import os

    env = os.environ.get("AYNI_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "data")
    return next((c for c in candidates if (c / "peru" / "districts.csv").is_file()), None)

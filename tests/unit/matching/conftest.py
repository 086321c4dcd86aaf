"""Fixtures for the matching engine tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def data_dir() -> Path:
    from ayni.settings import get_settings

    path = get_settings().data_dir
    if not (path / "peru" / "districts.csv").is_file():
        pytest.skip(f"Peru reference data not found under {path} (set AYNI_DATA_DIR)")
    return path


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Gradient boosting's OpenMP threads only contend on a shared 2-core machine: use one."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield

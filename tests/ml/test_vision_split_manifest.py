"""The committed split manifest: honest boundaries, stratification; and (with data) minimum accuracy."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from ayni.domain.materials import CLASSES
from ayni.settings import Settings
from ayni.vision.data import CROSS_FILED, RECYCLABLE, default_manifest_path

MANIFEST = default_manifest_path()


def _rows() -> list[dict[str, str]]:
    with MANIFEST.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _data_dir() -> Path | None:
    """The shared data dir from settings (AYNI_DATA_DIR), if it holds the images."""
    data_dir = Settings().data_dir
    return data_dir if (data_dir / "images" / "trashnet").is_dir() else None


def test_manifest_has_the_expected_columns_and_labels() -> None:
    rows = _rows()
    assert set(rows[0]) >= {"file", "class", "sha256", "split", "group"}
    assert {r["class"] for r in rows} == set(CLASSES) | {RECYCLABLE}
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    assert all(not Path(r["file"]).is_absolute() for r in rows)


def test_no_file_or_identical_bytes_cross_a_split_boundary() -> None:
    splits_of: dict[str, set[str]] = defaultdict(set)
    for r in _rows():
        splits_of[r["sha256"]].add(r["split"])
    assert all(len(s) == 1 for s in splits_of.values())


def test_every_near_duplicate_group_lies_in_one_split() -> None:
    splits_of: dict[str, set[str]] = defaultdict(set)
    for r in _rows():
        splits_of[r["group"]].add(r["split"])
    assert all(len(s) == 1 for s in splits_of.values())


def test_cross_filed_trashnet_images_are_left_out() -> None:
    files = {r["file"] for r in _rows()}
    assert not {f"images/trashnet/{p}" for p in CROSS_FILED} & files


def test_each_class_is_split_about_70_15_15() -> None:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in _rows():
        counts[r["class"]][r["split"]] += 1
    for label, c in counts.items():
        total = sum(c.values())
        for split, target in (("train", 0.70), ("val", 0.15), ("test", 0.15)):
            assert abs(c[split] / total - target) < 0.04, (label, split, c)


@pytest.mark.data
def test_manifest_hashes_match_the_files() -> None:
    data_dir = _data_dir()
    if data_dir is None:
        pytest.skip("shared image data not found (set AYNI_DATA_DIR)")
    rows = _rows()
    rng = np.random.default_rng(0)
    for i in rng.choice(len(rows), 60, replace=False):
        r = rows[int(i)]
        assert hashlib.sha256((data_dir / r["file"]).read_bytes()).hexdigest() == r["sha256"]


@pytest.mark.data
def test_shipped_model_is_accurate_on_a_sample_of_the_test_split() -> None:
    """Minimum functionality on held-out photos (never trained on)."""
    from ayni.vision import Classifier

    data_dir = _data_dir()
    if data_dir is None:
        pytest.skip("shared image data not found (set AYNI_DATA_DIR)")
    clf = Classifier.load()
    test = [r for r in _rows() if r["split"] == "test" and r["class"] in CLASSES]
    rng = np.random.default_rng(1)
    sample = [test[int(i)] for i in rng.choice(len(test), 70, replace=False)]
    hits = [clf.predict((data_dir / r["file"]).read_bytes()).material == r["class"] for r in sample]
    assert np.mean(hits) >= 0.85

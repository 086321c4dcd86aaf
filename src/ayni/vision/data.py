"""The image index: which files train the classifier, with which class.

Sources (paths relative to the data dir, ``ayni.settings.get_settings().data_dir``):

* ``images/trashnet/<class>/*.jpg``: the six TrashNet materials. Three photos are byte-identical
  copies filed under two classes (``metal91 = glass115``, ``plastic152 = glass176``,
  ``plastic332 = glass389``; see its PROVENANCE.md). The true class cannot be told from the file, so
  all six files are dropped (``CROSS_FILED``); they are also left out of the TrashNet-split evaluation.
* ``images/waste-classification/train-O``: web photos of organic waste → class ``organic``.
* ``images/waste-classification/train-R``: web photos of recyclables of unknown material → label
  ``recyclable`` (not a class): used only as an "anything but organic" signal in training and to
  check organic-vs-not on validation.
* ``images/waste-classification/test/{O,R}``: Kaggle's official TEST split; never trained on.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ayni.domain.materials import CLASSES

log = logging.getLogger(__name__)

TRASHNET = "images/trashnet"
KAGGLE = "images/waste-classification"
TRASHNET_CLASSES: tuple[str, ...] = ("cardboard", "glass", "metal", "paper", "plastic", "trash")
# TrashNet split-file label ids: 1 glass, 2 paper, 3 cardboard, 4 plastic, 5 metal, 6 trash.
TRASHNET_LABEL_IDS: dict[int, str] = {1: "glass", 2: "paper", 3: "cardboard", 4: "plastic", 5: "metal",
                                      6: "trash"}
RECYCLABLE = "recyclable"  # auxiliary label: some recyclable material, not organic
CROSS_FILED: frozenset[str] = frozenset({
    "metal/metal91.jpg", "glass/glass115.jpg",
    "plastic/plastic152.jpg", "glass/glass176.jpg",
    "plastic/plastic332.jpg", "glass/glass389.jpg",
})
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic"}


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One image: ``path`` relative to the data dir, its label, and its SHA-256."""

    path: str
    label: str
    sha256: str
    split: str = ""

    @property
    def is_class(self) -> bool:
        return self.label in CLASSES


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _images(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES),
                  key=lambda p: p.name)


def build_index(data_dir: Path, *, include_recyclable: bool = True) -> list[ImageRecord]:
    """Every training-pool image (TrashNet, train-O, optionally train-R), cross-filed ones dropped."""
    records: list[ImageRecord] = []
    for cls in TRASHNET_CLASSES:
        for p in _images(data_dir / TRASHNET / cls):
            if f"{cls}/{p.name}" in CROSS_FILED:
                continue
            records.append(ImageRecord(p.relative_to(data_dir).as_posix(), cls, sha256_file(p)))
    sources = [("train-O", "organic")] + ([("train-R", RECYCLABLE)] if include_recyclable else [])
    for folder, label in sources:
        for p in _images(data_dir / KAGGLE / folder):
            records.append(ImageRecord(p.relative_to(data_dir).as_posix(), label, sha256_file(p)))
    log.info("indexed %d images (%d cross-filed TrashNet files dropped)", len(records), len(CROSS_FILED))
    return records


def kaggle_test_index(data_dir: Path) -> list[ImageRecord]:
    """Kaggle's official TEST split, labelled ``organic`` (O) or ``recyclable`` (R)."""
    out: list[ImageRecord] = []
    for sub, label in (("O", "organic"), ("R", RECYCLABLE)):
        for p in _images(data_dir / KAGGLE / "test" / sub):
            out.append(ImageRecord(p.relative_to(data_dir).as_posix(), label, "", "test"))
    return out


def trashnet_official_split(data_dir: Path) -> list[ImageRecord]:
    """TrashNet's own split files (train/val/test), cross-filed images left out."""
    out: list[ImageRecord] = []
    for split in ("train", "val", "test"):
        lines = (data_dir / TRASHNET / "splits" / f"one-indexed-files-notrash_{split}.txt").read_text()
        for line in lines.split("\n"):
            if not line.strip():
                continue
            name, label_id = line.split()
            cls = TRASHNET_LABEL_IDS[int(label_id)]
            if f"{cls}/{name}" in CROSS_FILED:
                continue
            out.append(ImageRecord(f"{TRASHNET}/{cls}/{name}", cls, "", split))
    return out


MANIFEST_FIELDS = ("file", "class", "sha256", "split", "group")


def write_manifest(path: Path, records: Iterable[ImageRecord], groups: dict[str, int]) -> None:
    """Write the split manifest CSV (file, class, sha256, split, group), sorted by file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(MANIFEST_FIELDS)
        for r in sorted(records, key=lambda r: r.path):
            writer.writerow((r.path, r.label, r.sha256, r.split, groups.get(r.path, -1)))


def read_manifest(path: Path) -> list[ImageRecord]:
    """Read a split manifest written by ``write_manifest``."""
    with path.open(newline="", encoding="utf-8") as fh:
        return [ImageRecord(row["file"], row["class"], row["sha256"], row["split"])
                for row in csv.DictReader(fh)]


def default_manifest_path() -> Path:
    """``data/manifests/vision_split.csv`` at the repository root (the committed manifest)."""
    return Path(__file__).resolve().parents[3] / "data" / "manifests" / "vision_split.csv"

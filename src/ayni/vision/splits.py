"""Near-duplicate-aware, stratified 70/15/15 split of the image index.

Two images are *near-duplicates* when (a) their 64-bit dHash differs in at most ``hash_distance``
bits (re-encodes, resizes, crops of one photo), or (b) their frozen-backbone embeddings have a cosine
similarity of at least ``cosine`` (the same object shot again from another angle, TrashNet's habit).
Near-duplicates are joined transitively (union-find) into groups, and whole groups are dealt to
train/val/test per class with a fixed seed, so no near-duplicate ever crosses a split boundary.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from ayni.vision.data import ImageRecord
from ayni.vision.preprocess import decode_image

log = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "val", "test")


def dhash(img: Image.Image) -> int:
    """64-bit difference hash: grey 9×8 LANCZOS, bit set where a pixel is brighter than its left."""
    small = np.asarray(img.convert("L").resize((9, 8), Image.Resampling.LANCZOS), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def dhash_files(data_dir: Path, paths: Sequence[str]) -> np.ndarray:
    """dHash of each file (decoded with the safe decoder) as uint64."""
    return np.asarray([dhash(decode_image((data_dir / p).read_bytes())) for p in paths], dtype=np.uint64)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[max(ra, rb)] = min(ra, rb)
        return True


_POPCOUNT8 = np.asarray([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount64(x: np.ndarray) -> np.ndarray:
    return _POPCOUNT8[x.view(np.uint8).reshape(*x.shape, 8)].sum(-1, dtype=np.int64)


def near_duplicate_pairs(hashes: np.ndarray, embeddings: np.ndarray | None, *, hash_distance: int = 4,
                         cosine: float = 0.93, chunk: int = 512) -> list[tuple[int, int, str]]:
    """Pairs (i, j, reason) with i < j that count as near-duplicates (blockwise, vectorised)."""
    pairs: list[tuple[int, int, str]] = []
    hashes = np.asarray(hashes, dtype=np.uint64)
    n = len(hashes)
    unit = None
    if embeddings is not None:
        unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    for start in range(0, n, chunk):
        rows = np.arange(start, min(start + chunk, n))
        upper = np.arange(n)[None, :] > rows[:, None]
        dist = _popcount64(np.bitwise_xor(hashes[rows][:, None], hashes[None, :]))
        for a, b in zip(*np.nonzero((dist <= hash_distance) & upper), strict=True):
            pairs.append((int(rows[a]), int(b), "dhash"))
        if unit is not None:
            sims = unit[rows] @ unit.T
            for a, b in zip(*np.nonzero((sims >= cosine) & upper), strict=True):
                pairs.append((int(rows[a]), int(b), "embedding"))
    return pairs


@dataclass(frozen=True, slots=True)
class SplitReport:
    images: int
    groups: int
    merged_groups: int  # groups of two or more images
    images_in_merged_groups: int
    pairs_dhash: int
    pairs_embedding: int
    largest_group: int
    cross_label_groups: int
    counts: dict[str, dict[str, int]]


def group_ids(n: int, pairs: Sequence[tuple[int, int, str]]) -> np.ndarray:
    """Connected components of the near-duplicate graph, numbered 0.. in order of first member."""
    uf = _UnionFind(n)
    for i, j, _ in pairs:
        uf.union(i, j)
    roots = [uf.find(i) for i in range(n)]
    renumber: dict[int, int] = {}
    return np.asarray([renumber.setdefault(r, len(renumber)) for r in roots], dtype=np.int64)


def assign_splits(records: Sequence[ImageRecord], groups: np.ndarray, *, fractions: Sequence[float] = (
        0.70, 0.15, 0.15), random_state: int = 20261122) -> list[ImageRecord]:
    """Deal whole groups to splits, per (majority) label, so each label gets ~``fractions``.

    Groups are visited largest first (ties in a seeded random order); each goes to the split whose
    count for that label is furthest below its target.
    """
    rng = np.random.default_rng(random_state)
    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(groups.tolist()):
        members[g].append(i)
    by_label: dict[str, list[int]] = defaultdict(list)
    for g, idx in members.items():
        label = Counter(records[i].label for i in idx).most_common(1)[0][0]
        by_label[label].append(g)
    split_of: dict[int, str] = {}
    for label in sorted(by_label):
        gs = by_label[label]
        order = rng.permutation(len(gs))
        gs = sorted((gs[k] for k in order), key=lambda g: -len(members[g]))
        total = sum(len(members[g]) for g in gs)
        have = dict.fromkeys(SPLITS, 0)
        for g in gs:
            deficit = {s: f * total - have[s] for s, f in zip(SPLITS, fractions, strict=True)}
            s = max(SPLITS, key=lambda k: deficit[k])
            split_of[g] = s
            have[s] += len(members[g])
    return [replace(r, split=split_of[int(groups[i])]) for i, r in enumerate(records)]


def make_split(records: Sequence[ImageRecord], hashes: np.ndarray, embeddings: np.ndarray | None, *,
               hash_distance: int = 4, cosine: float = 0.93,
               random_state: int = 20261122) -> tuple[list[ImageRecord], np.ndarray, SplitReport]:
    """Group near-duplicates and split; returns the records with ``split`` set, groups and a report."""
    pairs = near_duplicate_pairs(hashes, embeddings, hash_distance=hash_distance, cosine=cosine)
    groups = group_ids(len(records), pairs)
    out = assign_splits(records, groups, random_state=random_state)
    sizes = Counter(groups.tolist())
    labels_of: dict[int, set[str]] = defaultdict(set)
    for r, g in zip(records, groups.tolist(), strict=True):
        labels_of[g].add(r.label)
    cross = sum(1 for labels in labels_of.values() if len(labels) > 1)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SPLITS, 0))
    for r in out:
        counts[r.label][r.split] += 1
    report = SplitReport(
        images=len(records), groups=len(sizes),
        merged_groups=sum(1 for s in sizes.values() if s > 1),
        images_in_merged_groups=sum(s for s in sizes.values() if s > 1),
        pairs_dhash=sum(1 for p in pairs if p[2] == "dhash"),
        pairs_embedding=sum(1 for p in pairs if p[2] == "embedding"),
        largest_group=max(sizes.values()), cross_label_groups=cross, counts=dict(counts))
    log.info("split: %s", report)
    return out, groups, report

"""Data versions: a short content hash of the files (or frames) a model was trained and evaluated on.

Every training run logs one (``ayni.data_version``), so a registered model names exactly which split
manifest, feedback snapshot and evaluation set it came from; two runs on the same bytes get the same
version whatever the file names' modification times.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

_CHUNK = 1 << 20


def _update_with_file(digest: hashlib._Hash, path: Path) -> None:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)


def hash_files(paths: Iterable[Path], *, length: int = 16) -> str:
    """Hash of the contents (and relative names) of files; a directory counts as all files under it."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        if not path.exists():
            raise FileNotFoundError(path)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
            digest.update(b"\0")
            _update_with_file(digest, file)
            digest.update(b"\0")
    return digest.hexdigest()[:length]


def hash_frame(frame: pd.DataFrame, *, length: int = 16) -> str:
    """Order-insensitive hash of a table's rows and column names."""
    if frame.empty:
        return hashlib.sha256(",".join(map(str, frame.columns)).encode()).hexdigest()[:length]
    ordered = frame.reindex(sorted(frame.columns, key=str), axis=1)
    rows = pd.util.hash_pandas_object(ordered, index=False).to_numpy()
    digest = hashlib.sha256(",".join(map(str, ordered.columns)).encode())
    digest.update(np.sort(rows).tobytes())
    return digest.hexdigest()[:length]


def combine(parts: Mapping[str, str], *, length: int = 16) -> str:
    """One version from named parts, e.g. ``{"train": …, "feedback": …, "eval": …}``."""
    text = ";".join(f"{k}={parts[k]}" for k in sorted(parts))
    return hashlib.sha256(text.encode()).hexdigest()[:length]

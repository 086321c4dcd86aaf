"""Model files: one ``.npz`` holding a JSON ``meta`` string and plain numeric arrays.

Written with ``np.savez_compressed`` and read with ``np.load(..., allow_pickle=False)``: no pickle, no
code execution on load. ``meta["format"]`` names the model class and ``meta["version"]`` the layout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ayni.errors import InvalidInput

FORMAT_VERSION = 1


def write_npz(path: str | Path, meta: dict[str, Any], arrays: dict[str, NDArray[Any]]) -> Path:
    """Write ``meta`` (JSON-serialisable) and ``arrays`` to ``path`` (``.npz`` is appended if missing)."""
    target = Path(path)
    if target.suffix != ".npz":
        target = target.with_suffix(target.suffix + ".npz")
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = {"meta": np.array(json.dumps({**meta, "version": FORMAT_VERSION}))}
    for key, arr in arrays.items():
        if np.asarray(arr).dtype == object:
            raise TypeError(f"array {key!r} has dtype object; only numeric arrays can be saved")
        payload[key] = np.asarray(arr)
    np.savez_compressed(target, **payload)  # type: ignore[arg-type]
    return target


def read_npz(path: str | Path, *, expected_format: str) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """Read a file written by :func:`write_npz`, checking its format name and version."""
    with np.load(Path(path), allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    meta = json.loads(str(arrays.pop("meta")))
    if meta.get("format") != expected_format or meta.get("version") != FORMAT_VERSION:
        raise InvalidInput(
            f"{path} is not a {expected_format} model file (format {meta.get('format')!r}, "
            f"version {meta.get('version')!r})"
        )
    return meta, arrays

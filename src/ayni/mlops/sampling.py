"""Small, reproducible subsets of a split manifest (the DVC tiny profile trains on one).

``stratified_subsample`` keeps at most ``n`` rows per stratum (e.g. split × class). Rows are ranked by a
hash of (seed, cluster, key), so members of one near-duplicate group sit together and a subset for a
larger ``n`` contains the subset for a smaller one: raising ``n`` only adds rows, and a frozen
evaluation set drawn from a smaller subset stays inside the bigger one. Splits are never changed, so
the split's guarantee (no group across splits) carries over.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pandas as pd

from ayni.errors import InvalidInput


def _rank(values: pd.Series, seed: int) -> pd.Series:
    return values.map(lambda v: hashlib.sha256(f"{seed}:{v}".encode()).hexdigest())


def stratified_subsample(frame: pd.DataFrame, *, n: int, strata: Sequence[str], key: str,
                         cluster: str | None = None, random_state: int = 0) -> pd.DataFrame:
    """At most ``n`` rows of every stratum (``n`` = 0 keeps everything), in the frame's original order."""
    if n < 0:
        raise InvalidInput(f"n must be ≥ 0 (0 keeps every row), got {n}.")
    missing = [c for c in [*strata, key, *([cluster] if cluster else [])] if c not in frame.columns]
    if missing:
        raise InvalidInput(f"The manifest has no column(s) {', '.join(missing)}.")
    if n == 0:
        return frame.copy()
    order = pd.DataFrame({"cluster": _rank(frame[cluster].astype(str) if cluster else frame[key].astype(str),
                                           random_state),
                          "key": _rank(frame[key].astype(str), random_state)}, index=frame.index)
    ranked = frame.assign(_c=order["cluster"], _k=order["key"]).sort_values(["_c", "_k"], kind="stable")
    kept = ranked.groupby(list(strata), sort=False).head(n).index
    return frame.loc[frame.index.isin(kept)].copy()

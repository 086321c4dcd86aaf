"""Feedback → the next training set: base data plus user corrections, de-duplicated, never touching evaluation.

Inputs are plain tables, so the same code runs in ``ayni retrain``, a DVC stage and a test:

* ``base``: one row per example with a content ``key`` (a photo's SHA-256, a listing-partner pair), a
  ``label``, a ``split`` (``train`` / ``val`` / ``test``) and optionally a near-duplicate ``group``;
* ``feedback``: rows shaped like ``FEEDBACK_COLUMNS`` (``ayni.services.mlops_data`` reads them from the
  Feedback table and ``ayni.mlops.validation.FEEDBACK`` validates them); extra columns (a photo ``path``,
  feature columns) travel with a correction onto the example it adds;
* ``EvalSet``: the frozen evaluation rows. It is written once (``freeze_eval_set``) and only read after,
  so every challenger and champion is scored on the same bytes (its ``version`` is a content hash).

Rules: a correction relabels the example with the same key (the latest correction wins); a correction of
an unseen photo adds an example; anything whose key *or near-duplicate group* is in the evaluation set is
dropped and counted — feedback never leaks into evaluation; finally keys are unique.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from ayni.errors import Conflict, InvalidInput
from ayni.mlops.data_version import hash_frame
from ayni.mlops.validation import FEEDBACK, validate

log = logging.getLogger(__name__)

FEEDBACK_COLUMNS = (
    "id", "kind", "listing_id", "match_id", "predicted_material", "corrected_material", "confidence",
    "model_version", "photo_sha256", "accepted", "collected", "weighed_kg", "paid_cents", "created_at",
)  # fmt: skip
EVAL_SPLITS = ("test",)


@dataclass(frozen=True)
class EvalSet:
    """The frozen evaluation rows (``key``, ``label``, optional ``group`` and features)."""

    frame: pd.DataFrame

    @property
    def version(self) -> str:
        return hash_frame(self.frame)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self.frame["key"].astype(str))

    @property
    def groups(self) -> frozenset[str]:
        if "group" not in self.frame.columns:
            return frozenset()
        return frozenset(self.frame["group"].dropna().astype(str))

    def __len__(self) -> int:
        return len(self.frame)


def freeze_eval_set(base: pd.DataFrame, path: Path, *, splits: Sequence[str] = EVAL_SPLITS) -> EvalSet:
    """The evaluation set stored at ``path``; the first call writes it from ``base``'s ``splits``.

    A later call never rewrites it: if ``base`` no longer contains the frozen rows' keys the data has
    changed under the model and the call raises ``Conflict`` instead of silently moving the goalposts.
    """
    path = Path(path)
    if path.is_file():
        frozen = EvalSet(pd.read_csv(path, dtype={"key": str, "label": str, "group": str}))
        missing = frozen.keys - set(base["key"].astype(str))
        if missing:
            raise Conflict(f"{len(missing)} frozen evaluation examples are missing from the base data: the data "
                           f"changed under the models. To re-freeze deliberately, delete {path} (the next gate "
                           "scores champion and challenger afresh on the new set).",
                           details={"examples": sorted(missing)[:5], "eval_set": str(path)})
        current = set(base.loc[base["split"].isin(list(splits)), "key"].astype(str))
        if current != frozen.keys:  # e.g. AYNI_RANKER__TEST_WEEKS changed after the set was frozen
            log.warning("the frozen evaluation set %s (%d rows) is not the base data's %s rows (%d): the evaluation "
                        "window changed since it was frozen; the gate keeps the frozen rows until %s is deleted",
                        path, len(frozen.keys), "/".join(splits), len(current), path)
        return frozen
    rows = base[base["split"].isin(list(splits))].drop(columns=["split"]).reset_index(drop=True)
    if rows.empty:
        raise InvalidInput(f"The base data has no rows in {list(splits)} to freeze as the evaluation set.")
    path.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(path, index=False)
    log.info("froze %d evaluation rows at %s", len(rows), path)
    return EvalSet(pd.read_csv(path, dtype={"key": str, "label": str, "group": str}))


@dataclass(frozen=True, slots=True)
class TrainingSetReport:
    base_rows: int
    feedback_rows: int
    corrections_used: int
    relabelled: int
    added: int
    duplicates_dropped: int
    eval_leaks_dropped: int
    rows_out: int
    data_version: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def corrections(feedback: pd.DataFrame) -> pd.DataFrame:
    """Valid classification corrections with a photo hash, the latest per photo (as ``key``, ``label``)."""
    if feedback.empty:
        return pd.DataFrame(columns=["key", "label", "feedback_id"])
    clean, report = validate(feedback[[c.name for c in FEEDBACK.columns]], FEEDBACK)
    if report.rows_rejected:
        log.warning("feedback: %d rows rejected (%s)", report.rows_rejected, dict(report.reasons()))
    extra = feedback.loc[clean.index, [c for c in feedback.columns if c not in clean.columns]]
    rows = pd.concat([clean, extra], axis=1)
    rows = rows[(rows["kind"] == "classification_correction") & rows["photo_sha256"].notna()]
    order = ["created_at", "id"] if "created_at" in rows.columns else ["id"]
    rows = rows.sort_values(order).drop_duplicates("photo_sha256", keep="last")
    out = rows.rename(columns={"photo_sha256": "key", "corrected_material": "label", "id": "feedback_id"})
    out["key"], out["label"] = out["key"].astype(str), out["label"].astype(str)
    return out.reset_index(drop=True)


def collection_outcomes(feedback: pd.DataFrame) -> pd.DataFrame:
    """Collection outcomes (accepted? collected? weighed kg, price paid): labels for the match ranker."""
    if feedback.empty:
        return pd.DataFrame(columns=["match_id", "accepted", "collected", "weighed_kg", "paid_cents"])
    rows = feedback[feedback["kind"] == "collection_outcome"]
    return rows[["id", "match_id", "listing_id", "accepted", "collected", "weighed_kg", "paid_cents"]].reset_index(
        drop=True
    )


def build_training_set(base: pd.DataFrame, feedback: pd.DataFrame, *, eval_set: EvalSet,
                       eval_splits: Sequence[str] = EVAL_SPLITS) -> tuple[pd.DataFrame, TrainingSetReport]:
    """Base training rows + corrections, de-duplicated by key, with nothing from the evaluation set."""
    for col in ("key", "label", "split"):
        if col not in base.columns:
            raise InvalidInput(f"The base data needs a '{col}' column.")
    train = base[~base["split"].isin(list(eval_splits))].copy()
    train["key"] = train["key"].astype(str)
    train["source"] = "base"
    fixes = corrections(feedback)
    leak = fixes["key"].isin(eval_set.keys)
    if "group" in fixes.columns and eval_set.groups:
        leak |= fixes["group"].astype(str).isin(eval_set.groups)
    fixes = fixes[~leak]
    known = fixes["key"].isin(set(train["key"]))
    relabel = dict(zip(fixes.loc[known, "key"], fixes.loc[known, "label"], strict=True))
    hit = train["key"].isin(relabel)
    relabelled = int((train.loc[hit, "label"].astype(str) != train.loc[hit, "key"].map(relabel)).sum())
    train.loc[hit, "label"] = train.loc[hit, "key"].map(relabel)
    train.loc[hit, "source"] = "feedback"
    added = fixes[~known].assign(split="train", source="feedback")
    keep = [c for c in train.columns if c in added.columns]
    before = len(train) + len(added)
    out = pd.concat([train, added[keep]], ignore_index=True).drop_duplicates("key", keep="last")
    out = out[~out["key"].isin(eval_set.keys)].reset_index(drop=True)
    report = TrainingSetReport(
        base_rows=len(base), feedback_rows=len(feedback), corrections_used=len(fixes), relabelled=relabelled,
        added=len(added), duplicates_dropped=before - len(out), eval_leaks_dropped=int(leak.sum()),
        rows_out=len(out), data_version=hash_frame(out[["key", "label"]]),
    )
    log.info("training set: %s", report.as_dict())
    return out, report

"""The match ranker in the MLOps loop: base data, training set with real outcomes, ``RankerTrainer``.

Base data is one row per *offer* of the interaction log (``ayni matching interactions``), with the
ranker's ``FEATURES`` computed by ``ayni.matching.training_set`` — each week's rows from the history of
the weeks before it, so no row sees its own future — and the outcome (accepted *and* collected) as the
label. ``key`` is ``sim:<listing>:<partner>``, ``group`` the listing (NDCG is computed per listing),
and ``split`` is ``test`` for the last ``test_weeks`` weeks: the frozen evaluation set is held out by time.

Real platform outcomes (``ayni.services.mlops_data.ranker_outcomes``: decided matches, with the weighed
kg and price paid from collection feedback) join the *training* rows as ``match:<id>``, de-duplicated by
match (the latest record wins). The platform does not store the candidate pool or the history at the time
of the offer, so for them the context features (price over the best, distance beyond the nearest, fill
rate, history rates, latent affinity) are missing — the trees route missing values explicitly.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ayni.domain.materials import CLASSES, MATERIALS
from ayni.errors import InvalidInput
from ayni.mlops.data_version import hash_frame
from ayni.mlops.drift import build_reference
from ayni.mlops.feedback import EvalSet, TrainingSetReport
from ayni.mlops.promotion import CheckResult, direction
from ayni.mlops.registry import Signature
from ayni.mlops.retrain import TrainedModel

log = logging.getLogger(__name__)

MODEL_FILE = "acceptance_model.json"  # what AcceptanceModel.save writes (as `ayni matching train-ranker` names it)
META_FILE = "ranker.json"
DRIFT_FEATURES = ("distance_km", "log_kg", "price_cents_per_kg")
K = 10


def _features() -> list[str]:
    from ayni.matching.ranker import FEATURES

    return list(FEATURES)


def ranker_base(log_path: Path, *, test_weeks: int, latent_rank: int = 8) -> pd.DataFrame:
    """The interaction log as offer rows with features, label and a time split (see the module docstring).

    ``test_weeks`` is the configured window (``Settings.ranker.test_weeks``), the one `train-ranker` holds out."""
    from ayni.matching.evaluation import first_test_week, training_set
    from ayni.matching.interactions import events_from_frame

    if not log_path.is_file():
        raise InvalidInput(f"No interaction log at {log_path}; run `dvc repro simulate_interactions` or "
                           "`ayni matching interactions`.")
    weeks = events_from_frame(pd.read_csv(log_path))
    first_test = first_test_week(len(weeks), test_weeks=test_weeks)
    X, y, _ = training_set(weeks, latent_rank=latent_rank)
    meta = [(w, e.listing.listing_id, e.candidates[o.position].partner_id, e.candidates[o.position].radius_km)
            for w, events in enumerate(weeks) for e in events for o in e.offers]
    if len(meta) != len(y):  # training_set emits one row per offer, in log order
        raise InvalidInput("The interaction log's offers and the training rows disagree.")
    week, listing, partner, radius = (np.array(c) for c in zip(*meta, strict=True))
    frame = pd.DataFrame(X, columns=_features())
    # the key names the offer *and* its content: a log or feature code that changes under a frozen evaluation
    # set makes its keys go missing (``Conflict``) instead of silently scoring models on stale features
    content = [hashlib.sha256(np.ascontiguousarray(np.append(row, label)).tobytes()).hexdigest()[:12]
               for row, label in zip(X, y, strict=True)]
    frame.insert(0, "key", [f"sim:{a}:{b}:{h}" for a, b, h in zip(listing, partner, content, strict=True)])
    frame.insert(1, "label", y.astype(str))
    frame.insert(2, "split", np.where(week >= first_test, "test", "train"))
    frame.insert(3, "group", [f"sim:{a}" for a in listing])
    frame["week"], frame["radius_km"], frame["source"] = week, radius, "simulated"
    return frame


def _real_rows(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Feature rows for real decided matches: what the platform stored, context features missing."""
    from ayni.domain.lifecycle import PartnerKind, ProducerKind

    feats = _features()
    if outcomes.empty:
        return pd.DataFrame(columns=["key", "label", "split", "group", *feats, "radius_km", "source"])
    o = outcomes.sort_values("decided_at", kind="stable").drop_duplicates("match_id", keep="last")
    x = pd.DataFrame(np.nan, index=range(len(o)), columns=feats)
    dist = o["distance_km"].to_numpy(dtype=np.float64)
    radius = o["radius_km"].to_numpy(dtype=np.float64)
    kg = o["kg"].to_numpy(dtype=np.float64)
    x["distance_km"] = dist
    x["distance_over_radius"] = np.where(radius > 0, dist / np.maximum(radius, 1e-9), 1.0)
    x["log_kg"] = np.log1p(kg)
    x["price_cents_per_kg"] = o["price_cents_per_kg"].to_numpy(dtype=np.float64)
    cls = {c: i for i, c in enumerate(CLASSES)}
    x["material_class"] = [cls[MATERIALS[m].class_code] if m in MATERIALS else np.nan for m in o["material"]]
    kinds, pkinds = {str(k): i for i, k in enumerate(PartnerKind)}, {str(k): i for i, k in enumerate(ProducerKind)}
    x["partner_kind"] = [kinds.get(str(k), np.nan) for k in o["partner_kind"]]
    x["producer_kind"] = [pkinds.get(str(k), np.nan) for k in o["producer_kind"]]
    x["photo_confidence"] = pd.to_numeric(o["photo_confidence"], errors="coerce").to_numpy()
    age = (pd.to_datetime(o["decided_at"], utc=True) - pd.to_datetime(o["created_at"], utc=True)).dt.total_seconds()
    x["listing_age_days"] = (age / 86400.0).to_numpy()
    collected = o["collected"].astype(bool).to_numpy()
    rows = pd.DataFrame({"key": [f"match:{int(m)}" for m in o["match_id"]], "label": collected.astype(int).astype(str),
                         "split": "train", "group": [f"listing:{int(v)}" for v in o["listing_id"]]})
    return pd.concat([rows, x, pd.DataFrame({"radius_km": radius, "source": "platform"})], axis=1)


def ranker_training_set(base: pd.DataFrame, feedback: pd.DataFrame, *,
                        eval_set: EvalSet) -> tuple[pd.DataFrame, TrainingSetReport]:
    """Base training rows + real outcomes, one row per key, nothing from the evaluation set (by key or listing)."""
    train = base[base["split"] != "test"].copy()
    usable = not feedback.empty and "match_id" in feedback.columns
    real = _real_rows(feedback if usable else pd.DataFrame())
    before = len(train) + (len(feedback) if usable else 0)
    out = pd.concat([train, real], ignore_index=True).drop_duplicates("key", keep="last")
    duplicates = before - len(out)
    leak = out["key"].isin(eval_set.keys) | out["group"].astype(str).isin(eval_set.groups)
    out = out[~leak].reset_index(drop=True)
    report = TrainingSetReport(
        base_rows=len(base), feedback_rows=len(feedback), corrections_used=len(real), relabelled=0,
        added=int((out["source"] == "platform").sum()), duplicates_dropped=duplicates,
        eval_leaks_dropped=int(leak.sum()), rows_out=len(out), data_version=hash_frame(out[["key", "label"]]))
    log.info("ranker training set: %s", report.as_dict())
    return out, report


def ndcg_by_group(frame: pd.DataFrame, scores: np.ndarray, *, k: int = K) -> tuple[float, int]:
    """Mean NDCG@k over listings with two or more offers and at least one success; and how many there were."""
    from ayni.matching.evaluation import ndcg_at_k

    gains = frame["label"].astype(float).to_numpy()
    values = []
    for idx in frame.groupby("group", sort=False).indices.values():
        g = gains[idx]
        if len(idx) < 2 or g.max() <= 0:
            continue
        order = np.lexsort((np.arange(len(idx)), -scores[idx]))  # ties keep the log's order
        values.append(ndcg_at_k(np.asarray(g[order], dtype=np.float64), k=k))
    return (float(np.mean(values)) if values else float("nan")), len(values)


class RankerTrainer:
    """``Trainer`` over ``ayni.matching.AcceptanceModel``: gate metric NDCG@10 per listing on the frozen weeks.

    ``random_state`` has no default: ``model_specs`` passes ``Settings.ranker.seed``, the seed the pipeline's
    ``train-ranker`` uses too.

    Ranking happens when a listing is published, so for NDCG every offer of a listing is scored with the
    listing's age at its *first* offer (the rows keep the age at each decision, as in training, for AUC and
    log loss). Checks: the model ranks better than "nearest partner first" (minimum functionality), and
    P(accept and collect) does not rise when the listing is moved to three times the partner's radius.
    """

    def __init__(self, *, random_state: int, min_direction: float = 0.9, monotonic_distance: bool = True) -> None:
        self.random_state = random_state
        self.min_direction = min_direction
        self.monotonic_distance = monotonic_distance  # False only to show that the direction check bites

    def _xy(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return frame[_features()].to_numpy(dtype=np.float64), frame["label"].astype(float).astype(int).to_numpy()

    def _model(self, model_dir: Path):  # type: ignore[no-untyped-def]
        from ayni.matching.ranker import AcceptanceModel

        path = model_dir / MODEL_FILE
        if not path.is_file():
            raise InvalidInput(f"{model_dir} holds no {MODEL_FILE}.")
        return AcceptanceModel.load(path)

    def train(self, frame: pd.DataFrame, out_dir: Path) -> TrainedModel:
        from ayni.matching.ranker import AcceptanceModel

        X, y = self._xy(frame)
        model = AcceptanceModel(random_state=self.random_state, monotonic_distance=self.monotonic_distance).fit(X, y)
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save(out_dir / MODEL_FILE)
        build_reference(tabular=frame[list(DRIFT_FEATURES)].reset_index(drop=True),
                        random_state=self.random_state).save(out_dir)
        meta = {"model_file": MODEL_FILE, "features": _features(), "n_train": len(y),
                "positive_rate": float(y.mean()), "params": model.get_params(),
                "sources": frame["source"].value_counts().to_dict() if "source" in frame.columns else {}}
        (out_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        p = model.predict_proba(X)
        return TrainedModel(model_dir=out_dir, params={"random_state": self.random_state, "rows": len(y),
                                                       **{f"model_{k}": v for k, v in model.get_params().items()}},
                            metrics={"train_positive_rate": float(y.mean())},
                            signature=Signature(X[:2], p[:2, 1:]))

    def _ranking_view(self, eval_frame: pd.DataFrame) -> np.ndarray:
        X = eval_frame[_features()].to_numpy(dtype=np.float64).copy()
        age = _features().index("listing_age_days")
        X[:, age] = eval_frame.groupby("group", sort=False)["listing_age_days"].transform("min").to_numpy()
        return X

    def evaluate(self, model_dir: Path, eval_frame: pd.DataFrame) -> dict[str, float]:
        from sklearn.metrics import log_loss, roc_auc_score

        model = self._model(model_dir)
        X, y = self._xy(eval_frame)
        p = model.predict_proba(X)[:, 1]
        ndcg, n = ndcg_by_group(eval_frame, model.predict_proba(self._ranking_view(eval_frame))[:, 1])
        nearest, _ = ndcg_by_group(eval_frame, -eval_frame["distance_km"].to_numpy(dtype=np.float64))
        both = len(np.unique(y)) == 2
        return {"ndcg_at_10": ndcg, "nearest_ndcg_at_10": nearest, "ndcg_listings": float(n),
                "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
                "log_loss": float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])), "n_offers": float(len(y))}

    def checks(self, model_dir: Path, eval_frame: pd.DataFrame) -> Sequence[CheckResult]:
        model = self._model(model_dir)
        scores = self.evaluate(model_dir, eval_frame)
        beats = scores["ndcg_at_10"] > scores["nearest_ndcg_at_10"]
        mft = CheckResult("beats nearest-partner ranking", bool(beats),
                          f"NDCG@10 {scores['ndcg_at_10']:.4f} vs nearest first {scores['nearest_ndcg_at_10']:.4f}",
                          scores["ndcg_at_10"] - scores["nearest_ndcg_at_10"])
        X = eval_frame[_features()].to_numpy(dtype=np.float64)
        far = X.copy()
        cols = {c: i for i, c in enumerate(_features())}
        radius = eval_frame["radius_km"].to_numpy(dtype=np.float64)
        moved = 3.0 * radius
        far[:, cols["distance_km"]] = moved
        far[:, cols["distance_over_radius"]] = 3.0
        far[:, cols["distance_minus_nearest_km"]] = X[:, cols["distance_minus_nearest_km"]] + moved - X[
            :, cols["distance_km"]]

        def p_accept(x: np.ndarray) -> np.ndarray:
            return np.asarray(model.predict_proba(x)[:, 1])

        return [mft, direction("P(accept) does not rise beyond the partner's radius", p_accept, X, far,
                               increase=False, min_fraction=self.min_direction)]


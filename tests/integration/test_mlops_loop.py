"""The MLOps loop end to end on tiny photos: train → register → promote → serve → corrected feedback in the
database → retrain → a challenger promoted or refused with the reason; and drift on darker, blurred and
rotated photos.

The model is a tiny classifier of our own (pixel embedding + ``TinyClassifier``) so the loop runs in
seconds without PyTorch; everything else — MLflow registry (SQLite under ``tmp_path``), frozen evaluation
set, feedback read from the Feedback table, the gate, the champion holder — is the production code.
"""

from __future__ import annotations

import hashlib
import io
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageFilter
from sqlalchemy import update
from sqlalchemy.orm import Session

from ayni.commands._mlops_io import publish_drift
from ayni.mlops._drift_html import render
from ayni.mlops.drift import DriftReference, build_reference, compare, image_quality, image_signals
from ayni.mlops.feedback import EvalSet, freeze_eval_set
from ayni.mlops.promotion import CheckResult, GateConfig, run_gate
from ayni.mlops.registry import CHALLENGER, CHAMPION, ModelRegistry
from ayni.mlops.retrain import TrainedModel, gate_callbacks, retrain, train_and_register
from ayni.mlops.serving import ChampionHolder
from ayni.mlops.tiny import TinyClassifier, TinyTrainer
from ayni.mlops.validation import FEEDBACK, INTERACTIONS, validate
from ayni.observability import metrics
from ayni.services.mlops_data import feedback_frame, match_outcomes, prediction_window
from ayni.storage.engine import make_engine, make_session_factory, transaction
from ayni.storage.migrate import upgrade
from ayni.storage.tables import Feedback, Listing
from tests.conftest import shared_data_dir
from tests.integration.conftest import Factory
from tests.unit.mlops._factories import mlflow_registry

pytestmark = pytest.mark.integration

MODEL = "vision-tiny"
SHARED = shared_data_dir()
COLOURS = {"glass": (40, 110, 190), "paper": (215, 205, 185), "metal": (125, 125, 130)}
SIZE = 24


def photo(rng: np.random.Generator, label: str) -> bytes:
    """A striped, noisy patch in the class colour (stripes give blur and rotation something to change)."""
    stripes = 0.75 + 0.25 * (np.arange(SIZE) % 6 < 3)[None, :, None]
    base = np.asarray(COLOURS[label], dtype=np.float64) * rng.uniform(0.85, 1.15)
    img = np.clip(base * stripes * np.ones((SIZE, 1, 1)) + rng.normal(0, 12, (SIZE, SIZE, 3)), 0, 255)
    buf = io.BytesIO()
    Image.fromarray(img.astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def pixels(path: str) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float64)


def embed(paths: list[str]) -> np.ndarray:
    """4×4 colour thumbnail in [0, 1]: the tiny model's 'backbone'."""
    return np.stack([np.asarray(Image.fromarray(pixels(p).astype(np.uint8)).resize((4, 4)), dtype=np.float64).ravel()
                     / 255 for p in paths])


def with_features(frame: pd.DataFrame) -> pd.DataFrame:
    X = embed(frame["path"].tolist())
    return pd.concat([frame.reset_index(drop=True), pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])],
                     axis=1)


class PhotoTrainer:
    """``Trainer`` on photo paths: embeds, delegates to ``TinyTrainer``, saves an image drift reference."""

    def __init__(self) -> None:
        self.tiny = TinyTrainer(C=10.0, random_state=0, min_accuracy=0.5)

    def train(self, frame: pd.DataFrame, out_dir: Path) -> TrainedModel:
        feats = with_features(frame)
        trained = self.tiny.train(feats, out_dir)
        model = TinyClassifier.load(out_dir)
        X = feats[[c for c in feats.columns if c.startswith("f")]].to_numpy()
        conf, mix = image_signals(model.predict_proba(X), list(model.classes_))
        quality = image_quality([pixels(p) for p in frame["path"]])
        build_reference(tabular=pd.concat([quality, conf], axis=1), categories=mix, embeddings=X).save(out_dir)
        return trained

    def evaluate(self, model_dir: Path, eval_frame: pd.DataFrame) -> dict[str, float]:
        return self.tiny.evaluate(model_dir, with_features(eval_frame))

    def checks(self, model_dir: Path, eval_frame: pd.DataFrame) -> list[CheckResult]:
        return self.tiny.checks(model_dir, with_features(eval_frame))


def write_dataset(root: Path, *, n_train: int, n_test: int, seed: int, mislabel: float = 0.0) -> pd.DataFrame:
    """Photos on disk and the base table (``key`` = SHA-256, ``path``, ``label``, ``split``, ``true_label``)."""
    rng = np.random.default_rng(seed)
    rows = []
    for split, n in (("train", n_train), ("test", n_test)):
        for i in range(n):
            label = list(COLOURS)[i % 3]
            data = photo(rng, label)
            path = root / split / f"{i:04d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            noisy = split == "train" and label == "glass" and rng.random() < mislabel
            rows.append({"key": hashlib.sha256(data).hexdigest(), "path": str(path), "split": split,
                         "label": "paper" if noisy else label, "true_label": label})
    return pd.DataFrame(rows)


@pytest.fixture
def registry(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> ModelRegistry:
    return mlflow_registry(tmp_path / "var", tmp_path_factory.getbasetemp() / "mlflow-template")


def submit_corrections(url: str, media_dir: Path, rows: pd.DataFrame) -> None:
    """What the app does when a producer corrects the material: a Feedback row pointing at the photo."""
    factory = make_session_factory(make_engine(url))
    with transaction(factory) as session:
        for row in rows.itertuples():
            rel = f"photos/fb/{row.key[:16]}.png"
            (media_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (media_dir / rel).write_bytes(Path(row.path).read_bytes())
            session.add(Feedback(kind="classification_correction", predicted_material=row.label,
                                 corrected_material=row.true_label, confidence=0.55, model_version="1",
                                 photo_path=rel, payload={"source": "test"}))


def read_feedback(url: str, media_dir: Path) -> pd.DataFrame:
    factory = make_session_factory(make_engine(url))
    with factory() as session:
        return feedback_frame(session, media_dir=media_dir)


def test_feedback_retrains_a_challenger_that_the_gate_promotes_then_refuses(
    tmp_path: Path, registry: ModelRegistry
) -> None:
    base = write_dataset(tmp_path / "data", n_train=90, n_test=60, seed=1, mislabel=0.8)
    eval_set: EvalSet = freeze_eval_set(base[["key", "path", "label", "split"]], tmp_path / "var" / "eval.csv")
    trainer, work = PhotoTrainer(), tmp_path / "work"
    gate = GateConfig(metric="accuracy", min_improvement=0.02, guards={"balanced_accuracy": 0.02})

    # train → register → promote (first champion)
    train_rows = base[base["split"] == "train"][["key", "path", "label", "split"]]
    v1 = train_and_register(registry, trainer, model_name=MODEL, frame=train_rows, eval_set=eval_set, work_dir=work)
    assert v1.aliases == (CHALLENGER,) and v1.data_version and "eval_accuracy" in v1.metrics
    evaluate, checks = gate_callbacks(trainer, eval_set)
    first = run_gate(registry, MODEL, evaluate=evaluate, checks=checks, config=gate, cache_dir=work / "cache")
    assert first.decision.promote and "no champion yet" in first.decision.reason
    assert registry.champion(MODEL).version == v1.version  # type: ignore[union-attr]
    acc_v1 = first.decision.challenger["accuracy"]

    # serve: the champion is loaded and answers
    holder = ChampionHolder(registry, MODEL, TinyClassifier.load, cache_dir=tmp_path / "serve")
    assert holder.refresh() and holder.version == v1.version
    assert holder.current().predict(embed([base["path"].iloc[-1]]))[0] in COLOURS

    # corrected feedback lands in the database: the mislabelled training photos, plus one evaluation photo
    url, media = f"sqlite:///{tmp_path / 'ayni.db'}", tmp_path / "media"
    upgrade(url)
    wrong = base[(base["split"] == "train") & (base["label"] != base["true_label"])]
    leak = base[base["split"] == "test"].head(1).assign(label="metal")
    assert len(wrong) >= 8
    submit_corrections(url, media, pd.concat([wrong, leak]))
    feedback = read_feedback(url, media)
    assert len(feedback) == len(wrong) + 1 and feedback["photo_sha256"].notna().all()

    # retrain → challenger beats the champion by the margin → promoted, and serving follows
    result = retrain(registry, trainer, model_name=MODEL, base=base[["key", "path", "label", "split"]],
                     feedback=feedback, eval_set=eval_set, gate=gate, work_dir=work,
                     report_path=tmp_path / "var" / "retrain.json")
    assert result.training_set.relabelled == len(wrong) and result.training_set.eval_leaks_dropped == 1
    assert result.promoted, result.gate.decision.reason
    assert result.gate.decision.challenger["accuracy"] >= acc_v1 + 0.02 and "gain" in result.gate.decision.reason
    v2 = result.challenger.version
    assert registry.champion(MODEL).version == v2 and registry.champion_history(MODEL) == [v1.version, v2]  # type: ignore[union-attr]
    assert registry.version(MODEL, v1.version).tags["ayni.status"] == "superseded"
    assert holder.refresh() and holder.version == v2
    assert (tmp_path / "var" / "retrain.json").is_file()

    # retrain again on the same data → no better than the champion → refused with the reason
    again = retrain(registry, trainer, model_name=MODEL, base=base[["key", "path", "label", "split"]],
                    feedback=feedback, eval_set=eval_set, gate=gate, work_dir=work)
    assert not again.promoted and "does not beat it by the margin 0.02" in again.gate.decision.reason
    v3 = registry.version(MODEL, again.challenger.version)
    assert v3.aliases == (CHALLENGER,) and v3.tags["ayni.status"] == "refused"
    assert v3.tags["ayni.decision_reason"] == again.gate.decision.reason
    assert registry.champion(MODEL).version == v2 and not holder.refresh() and holder.version == v2  # type: ignore[union-attr]

    # rollback in one step: the previous champion serves again
    assert registry.rollback(MODEL, reason="test").version == v1.version
    assert holder.refresh() and holder.version == v1.version
    assert CHAMPION in registry.version(MODEL, v1.version).aliases


def drifted_batches(tmp_path: Path) -> dict[str, list[np.ndarray]]:
    fresh = write_dataset(tmp_path / "fresh", n_train=90, n_test=0, seed=7)
    imgs = [pixels(p) for p in fresh["path"]]

    def pil(f):  # type: ignore[no-untyped-def]
        return [np.asarray(f(Image.fromarray(i.astype(np.uint8))), dtype=np.float64) for i in imgs]

    return {
        "undrifted": imgs,
        "darker": [i * 0.45 for i in imgs],
        "blurred": pil(lambda im: im.filter(ImageFilter.GaussianBlur(2))),
        "rotated": pil(lambda im: im.rotate(90)),
    }


def test_darker_blurred_or_rotated_photos_raise_drift_and_fresh_ones_do_not(tmp_path: Path) -> None:
    base = write_dataset(tmp_path / "data", n_train=240, n_test=0, seed=3)
    model_dir = tmp_path / "model"
    PhotoTrainer().train(base[["key", "path", "label", "split"]], model_dir)
    reference, model = DriftReference.load(model_dir), TinyClassifier.load(model_dir)

    def report(images: list[np.ndarray]):  # type: ignore[no-untyped-def]
        X = np.stack([np.asarray(Image.fromarray(i.astype(np.uint8)).resize((4, 4)), dtype=np.float64).ravel() / 255
                      for i in images])
        conf, mix = image_signals(model.predict_proba(X), list(model.classes_))
        return compare(reference, model=MODEL, tabular=pd.concat([image_quality(images), conf], axis=1),
                       categories=mix, embeddings=X)

    batches = drifted_batches(tmp_path)
    results = {name: report(images) for name, images in batches.items()}
    assert not results["undrifted"].drifted, [(s.name, s.statistic, s.threshold) for s in results["undrifted"].signals]
    assert {"brightness.psi", "embedding.shift", "embedding.mmd"} <= set(results["darker"].drifted_signals())
    assert "sharpness.psi" in results["blurred"].drifted_signals()
    assert "orientation.psi" in results["rotated"].drifted_signals()
    for name in ("darker", "blurred", "rotated"):
        worst = max(s.statistic / s.threshold for s in results[name].signals)
        assert worst > 1.0, name
    assert max(s.statistic / s.threshold for s in results["undrifted"].signals) < 1.0


def test_service_reads_collection_outcomes_decisions_and_the_prediction_window(make: Factory, session: Session,
                                                                             tmp_path: Path) -> None:
    producer, partner = make.producer(), make.partner()
    listing, match = make.match(producer, partner)
    assert partner.post(f"/v1/matches/{match['id']}/accept", json={}).status_code == 200
    assert partner.post(f"/v1/matches/{match['id']}/collect", json={"weighed_kg": "11.2"}).status_code == 200
    declined_listing, declined = make.match(producer, partner)
    assert partner.post(f"/v1/matches/{declined['id']}/decline", json={"reason": "too far"}).status_code == 200
    session.execute(update(Listing).where(Listing.id == listing["id"])
                    .values(predicted_material="plastic", predicted_confidence=0.81, model_version="7"))

    fb = feedback_frame(session, media_dir=tmp_path)
    outcome = fb[(fb["kind"] == "collection_outcome") & (fb["listing_id"] == listing["id"])].iloc[0]
    assert outcome["accepted"] and outcome["collected"] and outcome["weighed_kg"] == 11.2
    assert outcome["paid_cents"] == 896
    assert validate(fb[[c.name for c in FEEDBACK.columns]], FEEDBACK)[1].rows_rejected == 0

    outcomes = match_outcomes(session).set_index("listing_id")
    assert bool(outcomes.loc[listing["id"], "collected"]) and not bool(outcomes.loc[declined_listing["id"], "accepted"])
    assert outcomes.loc[listing["id"], "distance_km"] < 5
    assert validate(outcomes.reset_index().drop(columns=["decided_at"]), INTERACTIONS)[1].rows_rejected == 0

    window = prediction_window(session, since=datetime.now(UTC) - timedelta(days=1))
    row = window.set_index("listing_id").loc[listing["id"]]
    assert row["predicted_class"] == "plastic" and row["confidence"] == 0.81 and row["model_version"] == "7"


@pytest.mark.skipif(SHARED is None or not (SHARED / "images" / "trashnet").is_dir(),
                    reason="the shared photos (AYNI_DATA_DIR/images/trashnet) are not on this machine")
def test_the_classifiers_embeddings_drift_on_darker_or_blurred_photos_and_not_on_fresh_ones() -> None:
    """The shipped classifier's pooled features (``Classifier.embed``): MMD vs a reference from other photos."""
    from ayni.mlops.drift import Thresholds
    from ayni.vision.predict import Classifier

    assert SHARED is not None
    files = sorted((SHARED / "images" / "trashnet").rglob("*.jpg"))
    rng = np.random.default_rng(5)
    chosen = [files[i] for i in rng.choice(len(files), 150, replace=False)]
    ref_files, window = chosen[:90], chosen[90:]
    clf = Classifier.load()
    reference = build_reference(embeddings=clf.embed([f.read_bytes() for f in ref_files]))

    def encoded(transform) -> list[bytes]:  # type: ignore[no-untyped-def]
        out = []
        for f in window:
            with Image.open(f) as img:
                buf = io.BytesIO()
                transform(img.convert("RGB")).save(buf, format="PNG")
                out.append(buf.getvalue())
        return out

    batches = {
        "undrifted": [f.read_bytes() for f in window],
        "darker": encoded(lambda im: Image.eval(im, lambda v: int(v * 0.4))),
        "blurred": encoded(lambda im: im.filter(ImageFilter.GaussianBlur(6))),
        "rotated": encoded(lambda im: im.rotate(90, expand=True)),
    }
    reports = {name: compare(reference, model=f"vision-{name}", embeddings=clf.embed(photos),
                             thresholds=Thresholds(min_samples=30)) for name, photos in batches.items()}
    signals = {name: {s.name: s for s in r.signals} for name, r in reports.items()}
    logging.getLogger(__name__).info("embedding.mmd (statistic, threshold): %s", {
        n: (round(s["embedding.mmd"].statistic, 4), round(s["embedding.mmd"].threshold, 4)) for n, s in signals.items()})
    undrifted = signals["undrifted"]["embedding.mmd"]
    assert not undrifted.drifted, (undrifted.statistic, undrifted.threshold)
    for name in ("darker", "blurred"):
        mmd = signals[name]["embedding.mmd"]
        assert mmd.drifted and mmd.statistic > 1.5 * undrifted.statistic, (name, mmd.statistic, mmd.threshold)
    # a quarter turn moves the embedding less than a blur (the model-free orientation PSI is the sure signal)
    assert signals["rotated"]["embedding.mmd"].statistic < signals["blurred"]["embedding.mmd"].statistic

    # what `ayni drift report` publishes and draws: the gauge above its threshold gauge only when drifted
    registry = metrics.registry()
    for name in ("undrifted", "darker"):
        publish_drift(reports[name])
        labels = {"model": f"vision-{name}", "signal": "embedding.mmd"}
        score = registry.get_sample_value("ayni_drift_score", labels)
        limit = registry.get_sample_value("ayni_drift_threshold", labels)
        assert score is not None and limit is not None and (score > limit) is (name == "darker")
        assert "embedding.mmd" in render(reports[name])

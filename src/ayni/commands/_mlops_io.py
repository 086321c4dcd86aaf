"""What the MLOps commands read and write besides the registry: feedback, drift windows, gauges, metrics files.

Private to ``ayni.commands.mlops`` (split out to keep that module to its commands). Heavy imports happen
inside the functions, never when the CLI starts.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ayni.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

    from ayni.mlops.drift import DriftReport
    from ayni.services.mlops_models import ModelSpec

log = logging.getLogger("ayni.commands.mlops")


def job_metrics(task: str, settings: Settings) -> Any:
    """``observability.metrics.track_job`` (success/failure gauges, pushed to the Pushgateway when set)."""
    import contextlib
    import os

    try:
        from ayni.observability.metrics import track_job
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    metrics = getattr(settings, "metrics", None)
    gateway = getattr(metrics, "pushgateway", None) or os.environ.get("AYNI_METRICS__PUSHGATEWAY") or None
    return track_job(task, pushgateway=gateway)


def empty_feedback() -> pd.DataFrame:
    import pandas as pd

    from ayni.mlops.feedback import FEEDBACK_COLUMNS

    return pd.DataFrame(columns=list(FEEDBACK_COLUMNS))


def read_feedback(settings: Settings, path: Path | None, since_days: int | None, spec: ModelSpec) -> pd.DataFrame:
    """What ``spec`` learns from: a CSV, or the database (corrections; decided matches for the ranker)."""
    import pandas as pd
    from sqlalchemy.exc import SQLAlchemyError

    from ayni.errors import ServiceUnavailable

    if path is not None:
        return pd.read_csv(path)
    from ayni.services.mlops_data import feedback_frame
    from ayni.storage.engine import make_engine, make_session_factory

    factory = make_session_factory(make_engine(settings.database_url))
    since = datetime.now(UTC) - timedelta(days=since_days) if since_days else None
    try:
        with factory() as session:
            if spec.feedback is not None:
                return spec.feedback(session, settings.media_path, since)
            return feedback_frame(session, media_dir=settings.media_path, since=since)
    except SQLAlchemyError as exc:
        raise ServiceUnavailable("Cannot read feedback from the database (run `ayni db upgrade`, or pass "
                                 "--feedback FILE / --no-feedback).") from exc


def drift_for(settings: Settings, model: str, reference: Any, current: Path | None, window_days: int, *,
           model_dir: Path | None = None) -> DriftReport:
    import pandas as pd

    from ayni.mlops.drift import compare, image_quality

    if current is not None:
        frame = pd.read_csv(current)
    else:
        from ayni.services.mlops_data import prediction_window
        from ayni.storage.engine import make_engine, make_session_factory

        factory = make_session_factory(make_engine(settings.database_url))
        with factory() as session:
            frame = prediction_window(session, since=datetime.now(UTC) - timedelta(days=window_days),
                                      media_dir=settings.media_path)
    cats = {c: frame[c].dropna().astype(str).tolist() for c in reference.categories if c in frame.columns}
    tab = frame[[c for c in reference.features if c in frame.columns]]
    if "path" in frame.columns and {"brightness", "sharpness"} & set(reference.features):
        tab = pd.concat([tab.reset_index(drop=True), _quality(frame["path"].dropna().tolist(), image_quality)], axis=1)
    embeddings = None
    if model == "vision" and model_dir is not None and reference.embedding is not None and "path" in frame.columns:
        from ayni.vision.predict import Classifier

        clf = Classifier.load(model_dir)
        if clf.has_features:  # the pooled backbone features: embedding.shift and embedding.mmd
            embeddings = clf.embed([Path(p).read_bytes() for p in frame["path"].dropna()])
    return compare(reference, model=model, tabular=tab, categories=cats, embeddings=embeddings)


def _quality(paths: list[str], image_quality: Any) -> pd.DataFrame:
    import numpy as np
    from PIL import Image

    images = []
    for p in paths:
        with Image.open(p) as img:
            img.thumbnail((128, 128))
            images.append(np.asarray(img.convert("RGB"), dtype=np.float64))
    return image_quality(images)  # type: ignore[no-any-return]


def publish_drift(report: DriftReport) -> None:
    """Drift statistics as ``ayni_drift_score`` / ``ayni_drift_threshold`` gauges (observability owns them)."""
    try:
        from ayni.observability.metrics import set_drift
    except ImportError:  # pragma: no cover — observability not installed in this build
        log.warning("observability.metrics.set_drift is not available; gauges not updated")
        return
    for s in report.signals:
        set_drift(model=report.model, signal=s.name, score=s.statistic, threshold=s.threshold)


def flat_metrics(paths: list[Path]) -> dict[str, float]:
    out: dict[str, float] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}_{k}" if prefix else str(k), v)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[prefix] = float(value)

    for p in paths:
        if p.is_file():
            walk("", json.loads(p.read_text(encoding="utf-8")))
    return out


def flat_params(paths: list[Path]) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for p in paths:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        out.update({str(k): v for k, v in data.items()} if isinstance(data, dict) else {})
    return out


def plots(model_dir: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(model_dir.glob("*.svg"))[:20]}

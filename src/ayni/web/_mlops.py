"""What the administrator's model page reads besides the database.

* ``model_ops(request)``: the app's one ``ModelOps`` (registry + promotion jobs), the same instance
  ``/v1/admin/models`` uses (``app.state.model_ops``), created on first use by either side;
* ``classifier_figures()``: the classifier's confidence and abstentions as this process's Prometheus
  registry holds them (``ayni_classifier_*``), or ``None`` before the first classification;
* ``drift_reports(var_dir)``: the latest report each ``ayni drift report MODEL`` wrote
  (``var/mlops/MODEL/drift.json``); none when it has never been run.

Nothing here invents a figure: what is missing is reported as missing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request

from ayni.observability import metrics
from ayni.services import app_state
from ayni.services.model_jobs import ModelOps

log = logging.getLogger("ayni.web")


def model_ops(request: Request) -> ModelOps:
    return app_state.model_ops(request.app.state)


@dataclass(frozen=True, slots=True)
class ClassifierFigures:
    classified: int  # photos with an answer (confident or "not sure")
    mean_confidence: float
    abstained: int
    failed: int  # unreadable photo, no model, internal error

    @property
    def abstention_rate(self) -> float:
        return self.abstained / self.classified if self.classified else 0.0


def classifier_figures() -> ClassifierFigures | None:
    """Since this server started (or across workers in multiprocess mode); ``None`` when nothing was classified."""
    registry = metrics.registry()

    def value(name: str, labels: dict[str, str] | None = None) -> float:
        found = registry.get_sample_value(name, labels or {})
        return float(found) if found is not None else 0.0

    count = value("ayni_classifier_confidence_count")
    if count <= 0:
        return None
    failed = sum(value("ayni_classifier_requests_total", {"outcome": o}) for o in ("invalid_input", "unavailable", "error"))
    return ClassifierFigures(
        classified=int(count),
        mean_confidence=value("ayni_classifier_confidence_sum") / count,
        abstained=int(value("ayni_classifier_abstentions_total")),
        failed=int(failed),
    )


@dataclass(frozen=True, slots=True)
class DriftSignal:
    name: str
    kind: str
    statistic: float
    threshold: float
    drifted: bool


@dataclass(frozen=True, slots=True)
class DriftSummary:
    model: str
    created_at: datetime | None
    n_current: int
    n_reference: int
    signals: tuple[DriftSignal, ...]

    @property
    def drifted(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.signals if s.drifted)


def _summary(path: Path) -> DriftSummary | None:
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        created = raw.get("created_at")
        signals = tuple(
            DriftSignal(str(s["name"]), str(s.get("kind", "")), float(s["statistic"]), float(s["threshold"]),
                        bool(s["drifted"]))
            for s in raw.get("signals", [])
        )
        return DriftSummary(
            model=str(raw.get("model") or path.parent.name),
            created_at=datetime.fromisoformat(created) if isinstance(created, str) else None,
            n_current=int(raw.get("n_current", 0)),
            n_reference=int(raw.get("n_reference", 0)),
            signals=signals,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("unreadable drift report %s: %s", path, exc)
        return None


def drift_reports(var_dir: Path) -> list[DriftSummary]:
    """The latest drift report of every model that has one (written by ``ayni drift report MODEL``)."""
    found = (_summary(p) for p in sorted((var_dir / "mlops").glob("*/drift.json")))
    return [s for s in found if s is not None]

"""Promotion and rollback of registered models from the admin API, with the served model refreshed after.

A promotion re-scores champion and challenger on the frozen evaluation set (minutes for the classifier),
so it runs in a background thread; the admin polls the job. Rollback is quick and answers at once.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from ayni.errors import AyniError, NotFound
from ayni.mlops.registry import ModelRegistry
from ayni.services import mlops_models
from ayni.services.serving import ChampionWatcher, make_registry
from ayni.settings import Settings
from ayni.storage.engine import transaction
from ayni.storage.tables import User

log = logging.getLogger(__name__)


@dataclass
class Job:
    id: str
    model: str
    kind: str
    status: str = "running"  # running | promoted | refused | failed
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


class ModelOps:
    """One per app: the registry (created on first use: MLflow's schema takes seconds) and the jobs."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session], watcher: ChampionWatcher | None) -> None:
        self.settings = settings
        self.factory = factory
        self.watcher = watcher
        self.jobs: dict[str, Job] = {}
        self._registry: ModelRegistry | None = None
        self._lock = threading.Lock()
        # what re-reads the champion after a promotion or rollback, per model (serving registers its own)
        self.refreshers: dict[str, Callable[[], object]] = {"vision": watcher.refresh} if watcher else {}

    def on_champion_change(self, name: str, refresh: Callable[[], object]) -> None:
        """Call ``refresh`` after ``name``'s champion moves here (e.g. the ranker's ``ChampionHolder.refresh``)."""
        self.refreshers[name] = refresh

    def registry(self) -> ModelRegistry:
        with self._lock:
            if self._registry is None:
                self._registry = make_registry(self.settings)
            return self._registry

    def versions(self, name: str | None) -> list[dict[str, object]]:
        return mlops_models.list_versions(self.registry(), name)

    def start_promotion(self, admin: User, name: str, *, version: int | None, margin: float | None) -> Job:
        job = Job(id=uuid.uuid4().hex[:12], model=name, kind="promote")
        self.jobs[job.id] = job
        threading.Thread(target=self._promote, args=(job, admin.id, version, margin), daemon=True,
                         name=f"promote-{name}").start()
        return job

    def _promote(self, job: Job, admin_id: int, version: int | None, margin: float | None) -> None:
        try:
            with transaction(self.factory) as session:
                actor = session.get(User, admin_id)
                outcome = mlops_models.promote_model(
                    self.registry(), job.model, var_dir=self.settings.var_dir, data_dir=self.settings.data_dir,
                    version=version, margin=margin, ranker=self.settings.ranker,
                    forecaster=self.settings.forecaster, session=session, actor=actor)
            job.result = outcome.decision.as_dict()
            job.status = "promoted" if outcome.decision.promote else "refused"
            if outcome.decision.promote:
                self._refresh(job.model)
        except AyniError as exc:
            job.status, job.error = "failed", exc.message
        except Exception as exc:  # noqa: BLE001 - a failed job is reported, never crashes the server
            log.exception("promotion job %s failed", job.id)
            job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
        job.finished_at = datetime.now(UTC)

    def rollback(self, session: Session, admin: User, name: str, *, reason: str) -> dict[str, object]:
        restored = mlops_models.rollback_model(self.registry(), name, reason=reason, session=session, actor=admin)
        self._refresh(name)
        return restored.as_dict()

    def job(self, job_id: str) -> Job:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise NotFound(f"No model job {job_id}.") from None

    def _refresh(self, name: str) -> None:
        if name in self.refreshers:
            self.refreshers[name]()
        elif self.watcher is not None and name in self.watcher.models:  # the ranker (the watcher's models)
            self.watcher.refresh(name)

"""Serving the registry's champion classifier without restarts.

At start the API serves the classifier shipped in the package (``make run`` classifies at once). A
``ChampionWatcher`` thread then asks the MLflow registry every ``interval_s`` seconds which version is
champion; when it changes (``ayni promote``/``rollback`` from any process, or the admin API), the new
model is downloaded and loaded *before* it replaces the served one, so no request fails meanwhile.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from ayni.errors import AyniError
from ayni.mlops.registry import ModelRegistry, RegistryConfig
from ayni.mlops.serving import ChampionHolder
from ayni.observability import metrics
from ayni.settings import Settings
from ayni.vision import Classifier

log = logging.getLogger(__name__)


def make_registry(settings: Settings) -> ModelRegistry:
    """The MLflow registry: ``MLFLOW_TRACKING_URI`` when set, else SQLite + artifacts under ``var/mlflow``."""
    return ModelRegistry(RegistryConfig.from_env(settings.var_dir))


def classifier_loader(settings: Settings) -> Callable[[Path], Classifier]:
    def load(path: Path) -> Classifier:
        return Classifier.load(path, threads=settings.vision.threads, max_bytes=settings.upload.max_bytes,
                               max_pixels=settings.upload.max_pixels)

    return load


class ChampionWatcher:
    """Keeps ``publish(classifier)`` up to date with the registry's vision champion."""

    def __init__(self, settings: Settings, *, fallback: Classifier | None,
                 publish: Callable[[Classifier], None], interval_s: float) -> None:
        self.settings = settings
        self.fallback = fallback
        self.publish = publish
        self.interval_s = interval_s
        self.holder: ChampionHolder[Classifier] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="champion-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def refresh(self) -> bool:
        """Check the registry now; True when a new champion is being served."""
        if self.holder is None:
            fallback = self.fallback
            self.holder = ChampionHolder(make_registry(self.settings), "vision", classifier_loader(self.settings),
                                         cache_dir=self.settings.var_dir / "mlops" / "serve",
                                         fallback=(lambda: fallback) if fallback is not None else None)
        changed = self.holder.refresh()
        if changed:
            model = self.holder.current()
            self.publish(model)
            metrics.set_model(model="vision", version=model.version, loaded=True)
        return changed

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except AyniError as exc:
                log.warning("champion check failed (still serving the current model): %s", exc.message)
            except Exception:  # noqa: BLE001 - a registry outage must never stop serving
                log.exception("champion check failed (still serving the current model)")
            self._stop.wait(self.interval_s)

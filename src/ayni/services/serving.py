"""Serving the registry's champions (the photo classifier, the match ranker) without restarts.

At start the API serves what it has without the registry: the classifier shipped in the package
(``make run`` classifies at once) and the rule-based acceptance estimator. A ``ChampionWatcher`` thread
then asks the MLflow registry which version of each watched model is champion, each model at its own
interval (``Settings.registry_refresh_s``); when one changes (``ayni promote``/``rollback`` from any
process, or the admin API), the new model is downloaded and loaded *before* it replaces the served one,
so no request fails meanwhile. A model without a champion, a registry that cannot be reached or an
artifact that does not load leaves the current model (or the fallback) serving, logged; one model's
trouble never stops the others.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from ayni.errors import AyniError, ModelUnavailable
from ayni.mlops.registry import ModelRegistry, RegistryConfig
from ayni.mlops.serving import ChampionHolder
from ayni.observability import metrics
from ayni.settings import DEFAULT_REGISTRY_REFRESH_S, Settings
from ayni.vision import Classifier

log = logging.getLogger(__name__)

T = TypeVar("T")
VISION = "vision"
FORECASTER = "forecaster"


def make_registry(settings: Settings) -> ModelRegistry:
    """The MLflow registry: ``MLFLOW_TRACKING_URI`` when set, else SQLite + artifacts under ``var/mlflow``."""
    return ModelRegistry(RegistryConfig.from_env(settings.var_dir))


def classifier_loader(settings: Settings) -> Callable[[Path], Classifier]:
    def load(path: Path) -> Classifier:
        return Classifier.load(path, threads=settings.vision.threads, max_bytes=settings.upload.max_bytes,
                               max_pixels=settings.upload.max_pixels)

    return load


@dataclass
class Watched(Generic[T]):
    """One watched model: how to load a version, where to publish it, what serves before (if anything)."""

    name: str
    loader: Callable[[Path], T]
    publish: Callable[[T, int | None], None]
    fallback: T | None = None
    interval_s: float = DEFAULT_REGISTRY_REFRESH_S  # seconds between the thread's checks; 0 = only when asked (``refresh``)
    holder: ChampionHolder[T] | None = None
    cold_logged: bool = field(default=False)


class ChampionWatcher:
    """Keeps each watched model's ``publish`` up to date with its registry champion (one thread for all).

    ``ChampionWatcher(settings, fallback=classifier, publish=…)`` watches the classifier, as before;
    ``watch(name, loader, publish=…)`` adds any other model (the ranker). Each model is checked every
    ``settings.registry_refresh_s(name)`` seconds, or every ``interval_s`` when that is given."""

    def __init__(self, settings: Settings, *, interval_s: float | None = None, fallback: Classifier | None = None,
                 publish: Callable[[Classifier], None] | None = None) -> None:
        self.settings = settings
        self.interval_s = interval_s
        self.models: dict[str, Watched[Any]] = {}
        self._registry: ModelRegistry | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="champion-watcher", daemon=True)
        if publish is not None:
            self.watch_vision(fallback=fallback, publish=publish)

    def watch_vision(self, *, fallback: Classifier | None, publish: Callable[[Classifier], None]) -> None:
        def publish_classifier(model: Classifier, _version: int | None) -> None:
            publish(model)
            metrics.set_model(model=VISION, version=model.version, loaded=True)

        self.watch(VISION, classifier_loader(self.settings), publish=publish_classifier, fallback=fallback)

    def watch(self, name: str, loader: Callable[[Path], T], *, publish: Callable[[T, int | None], None],
              fallback: T | None = None) -> None:
        """Also keep ``publish(model, version)`` up to date with ``name``'s champion."""
        interval = self.interval_s if self.interval_s is not None else self.settings.registry_refresh_s(name)
        self.models[name] = Watched(name, loader, publish, fallback, interval_s=interval)

    @property
    def holder(self) -> ChampionHolder[Any] | None:
        """The classifier's holder (``None`` until the registry was first reached)."""
        watched = self.models.get(VISION)
        return watched.holder if watched is not None else None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def refresh(self, name: str | None = None) -> bool:
        """Check the registry now for ``name`` (default: every watched model); True when a new champion is
        being served. Failures are logged per model and leave the served model as it was."""
        changed = False
        for watched in [self.models[name]] if name is not None else list(self.models.values()):
            try:
                changed |= self._refresh(watched)
            except AyniError as exc:
                log.warning("%s champion check failed (still serving the current model): %s",
                            watched.name, exc.message)
            except Exception:  # noqa: BLE001 - a registry outage must never stop serving
                log.exception("%s champion check failed (still serving the current model)", watched.name)
        return changed

    def _refresh(self, watched: Watched[T]) -> bool:
        if watched.holder is None:
            registry = self._registry_if_any()
            if registry is None:
                self._cold(watched, "the registry has no models yet")
                return False
            fallback = watched.fallback
            watched.holder = ChampionHolder(registry, watched.name, watched.loader,
                                            cache_dir=self.settings.var_dir / "mlops" / "serve",
                                            fallback=(lambda: fallback) if fallback is not None else None)
        try:
            changed = watched.holder.refresh()
        except ModelUnavailable as exc:  # nothing loaded yet and no fallback: the caller's default serves
            self._cold(watched, exc.message, broken=exc.__cause__ is not None)
            return False
        if changed:
            watched.publish(watched.holder.current(), watched.holder.version)
            watched.cold_logged = False
        return changed

    def _cold(self, watched: Watched[Any], why: str, *, broken: bool = False) -> None:
        if broken:  # a champion that does not load: say so at every check
            log.warning("%s (%s); serving its fallback", why, watched.name, exc_info=True)
        elif not watched.cold_logged:
            log.info("no %s champion to serve (%s); serving its fallback", watched.name, why)
            watched.cold_logged = True

    def _registry_if_any(self) -> ModelRegistry | None:
        """The registry; ``None`` while a local one has not been created yet (nothing can be champion, and
        creating MLflow's schema just to find that out would cost every fresh process seconds)."""
        if self._registry is None:
            config = RegistryConfig.from_env(self.settings.var_dir)
            local = config.tracking_uri.removeprefix("sqlite:///")
            if local != config.tracking_uri and not Path(local).is_file():
                return None
            self._registry = ModelRegistry(config)
        return self._registry

    def _run(self) -> None:
        due: dict[str, float] = {}
        while not self._stop.is_set():
            for name, watched in list(self.models.items()):
                if watched.interval_s > 0 and due.get(name, 0.0) <= time.monotonic():
                    self.refresh(name)
                    due[name] = time.monotonic() + watched.interval_s
            next_due = min(due.values(), default=math.inf)
            self._stop.wait(None if next_due == math.inf else max(next_due - time.monotonic(), 0.0))

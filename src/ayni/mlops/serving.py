"""Serving the champion: load it at start, swap it in when the alias moves, never fail a request meanwhile.

``ChampionHolder`` is created in the API's lifespan (one per model name) and injected. Requests call
``current()``, which returns the loaded object without touching the registry. ``refresh()`` — called by
the admin promote/rollback endpoints right after they move the alias, and by a periodic task so that a
promotion made by ``ayni promote`` in another process is picked up — asks the registry which version is
champion; if it changed, it downloads and loads the new one *first* and then swaps one reference under a
lock, so a request in flight finishes on the old model and the next gets the new one. If loading fails,
the old model keeps serving and the error is logged and returned.

``fallback`` (e.g. the classifier shipped in the package) serves while the registry has no champion —
a fresh install, or a registry that cannot be reached at start-up; ``version`` is then ``None``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from ayni.errors import AyniError, ModelUnavailable
from ayni.mlops.registry import Loaded, ModelRegistry

log = logging.getLogger(__name__)

T = TypeVar("T")


class ChampionHolder(Generic[T]):
    def __init__(self, registry: ModelRegistry, model_name: str, loader: Callable[[Path], T], *,
                 cache_dir: Path, fallback: Callable[[], T] | None = None) -> None:
        self.registry = registry
        self.model_name = model_name
        self.loader = loader
        self.cache_dir = cache_dir
        self.fallback = fallback
        self._fallback: T | None = None
        self._loaded: Loaded[T] | None = None
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()

    @property
    def loaded(self) -> Loaded[T] | None:
        return self._loaded

    @property
    def version(self) -> int | None:
        loaded = self._loaded
        return loaded.version.version if loaded is not None else None

    def current(self) -> T:
        """The champion object; ``ModelUnavailable`` when none was ever loaded."""
        loaded = self._loaded
        if loaded is not None:
            return loaded.model
        if self._fallback is not None:
            return self._fallback
        raise ModelUnavailable(f"No {self.model_name} champion is loaded.")

    def refresh(self) -> bool:
        """Load the champion if it is not the one being served; True when the served version changed.

        Raises ``ModelUnavailable`` only when there is nothing to serve at all; a failed reload while an
        older champion is loaded is logged and the older one keeps serving.
        """
        with self._refreshing:  # one reload at a time; requests are never blocked by it
            try:
                champion = self.registry.champion(self.model_name)
                if champion is None:
                    raise ModelUnavailable(f"{self.model_name} has no champion yet.")
                if self._loaded is not None and self._loaded.version.version == champion.version:
                    return False
                fresh = self.registry.load_champion(self.model_name, self.loader, cache_dir=self.cache_dir)
            except AyniError:
                if self._loaded is None and self.fallback is not None:
                    if self._fallback is None:
                        self._fallback = self.fallback()
                        log.warning("no %s champion in the registry; serving the fallback model", self.model_name)
                    return False
                if self._loaded is None:
                    raise
                log.exception("reloading %s failed; still serving version %s", self.model_name, self.version)
                return False
            with self._lock:
                old, self._loaded = self.version, fresh
            log.info("serving %s version %s (was %s)", self.model_name, fresh.version.version, old)
            return True

"""The per-process objects an application shares between requests, kept on ``app.state`` and created on
first use (none of them at start-up): the API routes and the web pages get the same instances here.
``start_champion_watcher`` (called by the lifespan) keeps the served models up to date with the registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ayni.services._mlops_forecaster import load_forecaster
from ayni.services.acceptance import RANKER, HistoryCache, ServedAcceptance, load_ranker
from ayni.services.forecasting import SupplyForecaster
from ayni.services.housekeeping import Housekeeper
from ayni.services.matching import PartnerCatalog
from ayni.services.model_jobs import ModelOps
from ayni.services.reference import ReferenceCache
from ayni.services.serving import FORECASTER, VISION, ChampionWatcher
from ayni.services.throttle import LoginThrottle
from ayni.storage.engine import make_session_factory, transaction

T = TypeVar("T")


def _shared(state: Any, name: str, make: Callable[[], T]) -> T:
    value: T | None = getattr(state, name, None)
    if value is None:
        value = make()
        setattr(state, name, value)
    return value


def partner_catalog(state: Any) -> PartnerCatalog:
    return _shared(state, "partner_catalog", PartnerCatalog)


def reference_cache(state: Any) -> ReferenceCache:
    return _shared(state, "reference_cache", ReferenceCache)


def login_throttle(state: Any) -> LoginThrottle:
    return _shared(state, "login_throttle", LoginThrottle)


def supply_forecaster(state: Any) -> SupplyForecaster:
    return _shared(state, "supply_forecaster", lambda: SupplyForecaster(state.settings.data_dir))


def model_ops(state: Any) -> ModelOps:
    return _shared(state, "model_ops", lambda: ModelOps(state.settings, state.session_factory,
                                                        getattr(state, "champion_watcher", None)))


def served_acceptance(state: Any) -> ServedAcceptance:
    """The acceptance estimator matching uses: the registry's ranker champion once loaded, else the rule.
    Its interaction history is rebuilt in the background on a connection of its own from the engine."""
    def make() -> ServedAcceptance:
        factory = make_session_factory(state.engine)
        return ServedAcceptance(history=HistoryCache(sessions=lambda: transaction(factory, read_only=True)))

    return _shared(state, "served_acceptance", make)


def start_champion_watcher(state: Any, *, vision: bool) -> ChampionWatcher | None:
    """Start watching the registry, each model every ``settings.registry_refresh_s(model)`` seconds (0 = never;
    ``AYNI_REGISTRY__RANKER_REFRESH_S``, ``…__FORECASTER_REFRESH_S``, ``AYNI_VISION__REGISTRY_REFRESH_S``,
    ``AYNI_REGISTRY__REFRESH_S`` for all): the ranker's and the forecaster's champions, the classifier's when
    ``vision`` (it then replaces ``state.classifier``, which serves meanwhile). ``None`` when no model is
    watched. The first check runs in the watcher's thread, so start-up never waits."""
    settings = state.settings
    watched = {name for name in (VISION, RANKER, FORECASTER) if settings.registry_refresh_s(name) > 0}
    if not vision:
        watched.discard(VISION)
    if not watched:
        return None
    watcher = ChampionWatcher(settings)
    if VISION in watched:
        watcher.watch_vision(fallback=state.classifier, publish=lambda model: setattr(state, "classifier", model))
    if RANKER in watched:
        watcher.watch(RANKER, load_ranker, publish=served_acceptance(state).serve)
    if FORECASTER in watched:  # looked up when a champion arrives: the forecaster is made on first use
        watcher.watch(FORECASTER, load_forecaster,
                      publish=lambda model, version: supply_forecaster(state).serve(model, version))
    state.champion_watcher = watcher
    watcher.start()
    return watcher


def start_housekeeper(state: Any) -> Housekeeper:
    """Expire listings every ``AYNI_LISTINGS__EXPIRE_EVERY_S`` seconds (0 = never) in a daemon thread."""
    factory = make_session_factory(state.engine)
    keeper = Housekeeper(lambda: transaction(factory), interval_s=state.settings.listings.expire_every_s)
    keeper.start()
    return keeper

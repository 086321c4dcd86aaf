"""The per-process objects an application shares between requests, kept on ``app.state`` and created on
first use (none of them at start-up): the API routes and the web pages get the same instances here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ayni.services.forecasting import SupplyForecaster
from ayni.services.matching import PartnerCatalog
from ayni.services.model_jobs import ModelOps
from ayni.services.throttle import LoginThrottle

T = TypeVar("T")


def _shared(state: Any, name: str, make: Callable[[], T]) -> T:
    value: T | None = getattr(state, name, None)
    if value is None:
        value = make()
        setattr(state, name, value)
    return value


def partner_catalog(state: Any) -> PartnerCatalog:
    return _shared(state, "partner_catalog", PartnerCatalog)


def login_throttle(state: Any) -> LoginThrottle:
    return _shared(state, "login_throttle", LoginThrottle)


def supply_forecaster(state: Any) -> SupplyForecaster:
    return _shared(state, "supply_forecaster", lambda: SupplyForecaster(state.settings.data_dir))


def model_ops(state: Any) -> ModelOps:
    return _shared(state, "model_ops", lambda: ModelOps(state.settings, state.session_factory,
                                                        getattr(state, "champion_watcher", None)))

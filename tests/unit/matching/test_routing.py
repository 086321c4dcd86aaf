from __future__ import annotations

import time
from decimal import Decimal

import numpy as np

from ayni.matching.routing import RouteConfig, Stop, plan_route

from ._factories import LIMA

FAST = RouteConfig(time_limit_s=0.3)


def _stops(n: int, seed: int = 0, *, max_kg: float = 40) -> list[Stop]:
    rng = np.random.default_rng(seed)
    return [Stop(i + 1, LIMA[0] + float(rng.normal(0, 0.02)), LIMA[1] + float(rng.normal(0, 0.02)),
                 Decimal(str(round(float(rng.uniform(1, max_kg)), 1)))) for i in range(n)]


def test_route_visits_every_stop_exactly_once() -> None:
    stops = _stops(25)
    route = plan_route(depot_lat=LIMA[0], depot_lon=LIMA[1], stops=stops, config=FAST)
    assert sorted(route.order) == [s.listing_id for s in stops]
    assert route.distance_km > 0 and route.duration_min > 0


def test_route_respects_vehicle_capacity_with_several_trips() -> None:
    stops = _stops(20)
    config = RouteConfig(vehicle_capacity_kg=Decimal(100), time_limit_s=0.3)
    route = plan_route(depot_lat=LIMA[0], depot_lon=LIMA[1], stops=stops, config=config)
    kg = {s.listing_id: s.kg for s in stops}
    assert len(route.trips) >= 2
    assert all(sum(kg[i] for i in trip) <= config.vehicle_capacity_kg for trip in route.trips)
    assert sorted(route.order) == sorted(kg)


def test_stop_heavier_than_the_vehicle_is_reported_unroutable() -> None:
    stops = [*_stops(3), Stop(99, LIMA[0], LIMA[1] + 0.01, Decimal(900))]
    route = plan_route(depot_lat=LIMA[0], depot_lon=LIMA[1], stops=stops, config=FAST)
    assert route.unroutable == (99,) and 99 not in route.order


def test_forty_stops_are_routed_within_two_seconds() -> None:
    start = time.perf_counter()
    route = plan_route(depot_lat=LIMA[0], depot_lon=LIMA[1], stops=_stops(40, seed=1))
    assert time.perf_counter() - start < 2.0
    assert len(route.order) == 40


def test_empty_day_gives_an_empty_route() -> None:
    route = plan_route(depot_lat=LIMA[0], depot_lon=LIMA[1], stops=[])
    assert route.trips == () and route.distance_km == 0

"""A partner's pickup route for a day: OR-Tools routing with vehicle capacity.

One vehicle leaves the partner's base, collects the accepted listings and comes back; when the
kilograms exceed what it carries it makes several trips (each trip is a capacity-limited tour from
the base). Road distance is estimated as great-circle distance × ``circuity`` (1.3 by default, a
typical urban detour factor — an assumption, there is no road network here); time = distance / speed
+ a fixed handling time per stop. A stop heavier than the vehicle cannot be collected and is returned
in ``unroutable``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from ayni.errors import InvalidInput
from ayni.matching.index import haversine_km_pairs


@dataclass(frozen=True, slots=True)
class Stop:
    listing_id: int
    lat: float
    lon: float
    kg: Decimal


@dataclass(frozen=True, slots=True)
class RouteConfig:
    vehicle_capacity_kg: Decimal = Decimal(500)
    speed_kmh: float = 18.0  # urban average for a small truck or motocarga (assumption)
    service_min_per_stop: float = 6.0
    circuity: float = 1.3
    time_limit_s: float = 1.0


@dataclass(frozen=True)
class Route:
    trips: tuple[tuple[int, ...], ...]  # listing ids in visiting order, one tuple per trip
    distance_km: float
    duration_min: float
    kg_per_trip: tuple[Decimal, ...]
    unroutable: tuple[int, ...]

    @property
    def order(self) -> tuple[int, ...]:
        return tuple(i for trip in self.trips for i in trip)


def plan_route(*, depot_lat: float, depot_lon: float, stops: Sequence[Stop],
               config: RouteConfig | None = None) -> Route:
    """The shortest set of capacity-feasible trips from the depot that visits every routable stop once."""
    config = config or RouteConfig()
    if config.vehicle_capacity_kg <= 0 or config.speed_kmh <= 0:
        raise InvalidInput("Vehicle capacity and speed must be positive.")
    routable = [s for s in stops if s.kg <= config.vehicle_capacity_kg]
    unroutable = tuple(s.listing_id for s in stops if s.kg > config.vehicle_capacity_kg)
    if not routable:
        return Route((), 0.0, 0.0, (), unroutable)
    lat = np.array([depot_lat] + [s.lat for s in routable])
    lon = np.array([depot_lon] + [s.lon for s in routable])
    n = len(lat)
    dist_km = haversine_km_pairs(np.repeat(lat, n), np.repeat(lon, n), np.tile(lat, n), np.tile(lon, n))
    metres = np.rint(dist_km.reshape(n, n) * config.circuity * 1000).astype(np.int64).tolist()
    grams = [0] + [int(s.kg * 1000) for s in routable]
    cap = int(config.vehicle_capacity_kg * 1000)
    trips = max(1, math.ceil(sum(grams) / cap)) + 1  # one spare trip so packing never blocks a solution
    manager = pywrapcp.RoutingIndexManager(n, trips, 0)
    routing = pywrapcp.RoutingModel(manager)

    def distance(i: int, j: int) -> int:
        return int(metres[manager.IndexToNode(i)][manager.IndexToNode(j)])

    transit = routing.RegisterTransitCallback(distance)
    routing.SetArcCostEvaluatorOfAllVehicles(transit)

    def demand(i: int) -> int:
        return grams[manager.IndexToNode(i)]

    load = routing.RegisterUnaryTransitCallback(demand)
    routing.AddDimensionWithVehicleCapacity(load, 0, [cap] * trips, True, "load")
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(config.time_limit_s * 1000))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        raise RuntimeError("The routing solver found no route.")
    out_trips: list[tuple[int, ...]] = []
    kg_per_trip: list[Decimal] = []
    total_m = 0
    for v in range(trips):
        idx = routing.Start(v)
        seq: list[int] = []
        while not routing.IsEnd(idx):
            nxt = solution.Value(routing.NextVar(idx))
            total_m += distance(idx, nxt)
            node = manager.IndexToNode(idx)
            if node != 0:
                seq.append(node)
            idx = nxt
        if seq:
            out_trips.append(tuple(routable[k - 1].listing_id for k in seq))
            kg_per_trip.append(sum((routable[k - 1].kg for k in seq), Decimal(0)))
    km = total_m / 1000
    minutes = km / config.speed_kmh * 60 + config.service_min_per_stop * len(routable)
    return Route(tuple(out_trips), km, minutes, tuple(kg_per_trip), unroutable)

"""Prometheus metrics: what the service, the models, the jobs and the community are doing.

Other code records through the small typed functions below (``record_classification``,
``record_listing_created``, ``record_collection``, ``track_job`` …) and never touches
``prometheus_client`` itself. ``install(app)`` adds the HTTP middleware and ``GET /metrics``.

Label sets are bounded on purpose, since every label value is a time series kept forever:

* HTTP metrics are labelled by the *route template* (``/v1/listings/{listing_id}``), never the raw path;
  a request that matches no route is ``route="unmatched"``.
* materials are reduced to the seven classifier classes (``other`` for anything unknown);
* districts are reduced to Peru's 25 departments from the UBIGEO's first two digits;
* free-form names (model, drift signal, job) are capped at a few dozen distinct values, then ``other``.

Several worker processes: start every process with ``PROMETHEUS_MULTIPROC_DIR`` pointing to an empty,
writable directory (prometheus-client reads it when it is first imported). Each process then writes
its values to files there and ``/metrics`` merges them; a CLI job (``ayni retrain``) started with the
same directory shows up in the API's ``/metrics`` too. Without the variable, values live in memory.

The metric objects are the one process-wide state here, as prometheus-client intends; they are
created on first use (``_metrics()``), not at import.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    pushadd_to_gateway,
)

if TYPE_CHECKING:
    from fastapi import FastAPI, Request, Response
    from sqlalchemy.orm import Session

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"
OTHER = "other"
UNKNOWN = "unknown"

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CLASSIFIER_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
CANDIDATE_BUCKETS = (0, 1, 2, 3, 5, 10, 20, 50, 100, 200)
JOB_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)

MATERIAL_CLASSES = ("cardboard", "glass", "metal", "paper", "plastic", "organic", "trash")
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
CLASSIFIER_OUTCOMES = ("ok", "abstained", "invalid_input", "unavailable", "error")
MATCH_EVENTS = ("requested", "accepted", "declined", "cancelled", "collected")
MATCHING_KINDS = ("listing", "partner", "allocation", "route")
JOB_OUTCOMES = ("success", "failure")

# INEI UBIGEO department codes (first two digits).
DEPARTMENTS: dict[str, str] = {
    "01": "AMAZONAS", "02": "ANCASH", "03": "APURIMAC", "04": "AREQUIPA", "05": "AYACUCHO",
    "06": "CAJAMARCA", "07": "CALLAO", "08": "CUSCO", "09": "HUANCAVELICA", "10": "HUANUCO",
    "11": "ICA", "12": "JUNIN", "13": "LA LIBERTAD", "14": "LAMBAYEQUE", "15": "LIMA",
    "16": "LORETO", "17": "MADRE DE DIOS", "18": "MOQUEGUA", "19": "PASCO", "20": "PIURA",
    "21": "PUNO", "22": "SAN MARTIN", "23": "TACNA", "24": "TUMBES", "25": "UCAYALI",
}  # fmt: skip

MatchEvent = Literal["requested", "accepted", "declined", "cancelled", "collected"]
ClassifierFailure = Literal["invalid_input", "unavailable", "error"]
MatchingKind = Literal["listing", "partner", "allocation", "route"]


class _Capped:
    """Keeps at most ``limit`` distinct values of a free-form label; later newcomers become ``other``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self.seen:
            return value
        if len(self.seen) >= self.limit:
            return OTHER
        self.seen.add(value)
        return value


@dataclass(frozen=True)
class _Metrics:
    build_info: Gauge
    http_requests: Counter
    http_latency: Histogram
    http_in_progress: Gauge
    http_exceptions: Counter
    classifier_requests: Counter
    classifier_latency: Histogram
    classifier_confidence: Histogram
    classifier_predictions: Counter
    classifier_abstentions: Counter
    model_info: Gauge
    model_loaded: Gauge
    feedback_accuracy: Gauge
    matching_latency: Histogram
    matching_candidates: Histogram
    matches: Counter
    listings: Counter
    collected_kg: Counter
    paid_soles: Counter
    co2e_avoided_kg: Counter
    job_duration: Histogram
    job_runs: Counter
    job_last_success: Gauge
    job_last_failure: Gauge
    job_last_duration: Gauge
    drift_score: Gauge
    drift_threshold: Gauge
    drift_last_check: Gauge
    db_pool: Gauge
    ready: Gauge
    models: _Capped
    signals: _Capped
    jobs: _Capped
    versions: _Capped


@cache
def _metrics() -> _Metrics:
    """Create and register every metric family once per process."""
    disable_created_metrics()  # the *_created series double the series count and no query here needs them
    mc, dep = ("material", "department")
    return _Metrics(
        build_info=Gauge("ayni_build_info", "Ayni version of this process (value 1).", ["version"],
                         multiprocess_mode="livemax"),
        http_requests=Counter("ayni_http_requests", "HTTP requests answered, by route template and status code.",
                              ["method", "route", "status"]),
        http_latency=Histogram("ayni_http_request_duration_seconds", "HTTP request latency by route template.",
                               ["method", "route"], buckets=LATENCY_BUCKETS),
        http_in_progress=Gauge("ayni_http_requests_in_progress", "HTTP requests being served.", ["method"],
                               multiprocess_mode="livesum"),
        http_exceptions=Counter("ayni_http_unhandled_exceptions", "Requests that ended in an unhandled exception.",
                                ["method", "route"]),
        classifier_requests=Counter("ayni_classifier_requests", "Photo classifications by outcome.", ["outcome"]),
        classifier_latency=Histogram("ayni_classifier_latency_seconds", "Time to classify one photo.",
                                     buckets=CLASSIFIER_BUCKETS),
        classifier_confidence=Histogram("ayni_classifier_confidence", "Calibrated top-1 confidence.",
                                        buckets=CONFIDENCE_BUCKETS),
        classifier_predictions=Counter("ayni_classifier_predictions", "Predicted top-1 class.", [mc]),
        classifier_abstentions=Counter("ayni_classifier_abstentions", "Predictions answered with 'not sure'."),
        model_info=Gauge("ayni_model_info", "Model version being served (value 1).", ["model", "version"],
                         multiprocess_mode="livemax"),
        model_loaded=Gauge("ayni_model_loaded", "1 when the model is loaded and serving, else 0.", ["model"],
                           multiprocess_mode="livemin"),
        feedback_accuracy=Gauge("ayni_model_feedback_accuracy", "Accuracy on user corrections and collections.",
                                ["model"], multiprocess_mode="mostrecent"),
        matching_latency=Histogram("ayni_matching_latency_seconds", "Time to rank or allocate.", ["kind"],
                                   buckets=LATENCY_BUCKETS),
        matching_candidates=Histogram("ayni_matching_candidates", "Candidates considered per request.", ["kind"],
                                      buckets=CANDIDATE_BUCKETS),
        matches=Counter("ayni_matches", "Match life-cycle events (acceptance = accepted / (accepted + declined)).",
                        [mc, dep, "event"]),
        listings=Counter("ayni_listings_created", "Listings published.", [mc, dep]),
        collected_kg=Counter("ayni_collected_kg", "Weighed kilograms collected.", [mc, dep]),
        paid_soles=Counter("ayni_paid_soles", "Soles paid to producers on collection.", [mc, dep]),
        co2e_avoided_kg=Counter("ayni_co2e_avoided_kg", "kg CO2e avoided (EPA WARM v15).", [mc, dep]),
        job_duration=Histogram("ayni_job_duration_seconds", "Batch job duration.", ["task"], buckets=JOB_BUCKETS),
        job_runs=Counter("ayni_job_runs", "Batch job runs by outcome.", ["task", "outcome"]),
        job_last_success=Gauge("ayni_job_last_success_timestamp_seconds", "Unix time of the last successful run.",
                               ["task"], multiprocess_mode="max"),
        job_last_failure=Gauge("ayni_job_last_failure_timestamp_seconds", "Unix time of the last failed run.",
                               ["task"], multiprocess_mode="max"),
        job_last_duration=Gauge("ayni_job_last_duration_seconds", "Duration of the last run.", ["task"],
                                multiprocess_mode="mostrecent"),
        drift_score=Gauge("ayni_drift_score", "Latest drift statistic per model and signal.", ["model", "signal"],
                          multiprocess_mode="mostrecent"),
        drift_threshold=Gauge("ayni_drift_threshold", "Alert threshold for ayni_drift_score.", ["model", "signal"],
                              multiprocess_mode="mostrecent"),
        drift_last_check=Gauge("ayni_drift_last_check_timestamp_seconds", "Unix time of the last drift check.",
                               ["model"], multiprocess_mode="max"),
        db_pool=Gauge("ayni_db_pool_connections", "Database pool connections by state.", ["state"],
                      multiprocess_mode="livesum"),
        ready=Gauge("ayni_ready", "1 when the readiness check passes, per check.", ["check"],
                    multiprocess_mode="livemin"),
        models=_Capped(8),
        signals=_Capped(64),
        jobs=_Capped(16),
        versions=_Capped(16),
    )  # fmt: skip


def multiprocess_dir() -> str | None:
    """The directory shared by worker processes, or ``None`` when values live in memory."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


# ---------------------------------------------------------------- label helpers


def material_label(material: str | None) -> str:
    """The classifier class of ``material`` (a class or a MINAM sub-material); ``other`` if unknown."""
    if not material:
        return UNKNOWN
    if material in MATERIAL_CLASSES:
        return material
    try:
        from ayni.domain.materials import get_material

        code = get_material(material).class_code
    except Exception:  # noqa: BLE001 - an unknown code must not break the caller's request
        return OTHER
    return code if code in MATERIAL_CLASSES else OTHER


def department_label(ubigeo: str | None) -> str:
    """Peru's department for a UBIGEO (``140101`` → ``LAMBAYEQUE``); ``unknown`` otherwise."""
    if not ubigeo:
        return UNKNOWN
    return DEPARTMENTS.get(str(ubigeo).strip()[:2], UNKNOWN)


def _method_label(method: str) -> str:
    method = method.upper()
    return method if method in HTTP_METHODS else OTHER


def _one_of(value: str, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else OTHER


def route_template(scope: Scope) -> str:
    """The matched route's full template (``/v1/listings/{listing_id}``), or ``unmatched``.

    A route inside an included router knows only its own part (``/listings/{listing_id}``); the static
    prefix (``/v1``) is the part of the request path before the piece that the route's pattern matches.
    """
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str) or not template:
        return _plain_route_template(scope)
    path, regex = scope.get("path", ""), getattr(route, "path_regex", None)
    if regex is None or not isinstance(path, str) or regex.match(path):
        return template
    for i in range(1, len(path)):
        if path[i] == "/" and regex.match(path[i:]):
            return path[:i] + template
    return template


def _plain_route_template(scope: Scope) -> str:
    """Plain Starlette routes and mounts (``/docs``, ``/metrics``, ``/static``) leave only the endpoint in the
    scope: look its template up in the app's own route table (built once, on the first such request)."""
    endpoint, app = scope.get("endpoint"), scope.get("app")
    state = getattr(app, "state", None)
    if endpoint is None or state is None:
        return UNMATCHED
    table: dict[int, str] | None = getattr(state, "metrics_route_table", None)
    if table is None:
        table = {}
        for route in getattr(getattr(app, "router", None), "routes", []):
            path = getattr(route, "path", None)
            if not isinstance(path, str):
                continue
            if getattr(route, "endpoint", None) is not None:
                table[id(route.endpoint)] = path
            elif getattr(route, "app", None) is not None:  # a Mount: its app is the endpoint
                table[id(route.app)] = f"{path}/{{path}}"
        state.metrics_route_table = table
    return table.get(id(endpoint), UNMATCHED)


# ---------------------------------------------------------------- recording functions


def record_classification(
    *, material: str, confidence: float, abstained: bool, latency_s: float, model_version: str | None = None
) -> None:
    """One photo classified: top-1 class, calibrated confidence, whether the model said 'not sure'."""
    m = _metrics()
    m.classifier_requests.labels("abstained" if abstained else "ok").inc()
    m.classifier_latency.observe(max(latency_s, 0.0))
    m.classifier_confidence.observe(min(max(confidence, 0.0), 1.0))
    m.classifier_predictions.labels(material_label(material)).inc()
    if abstained:
        m.classifier_abstentions.inc()
    if model_version:
        set_model(model="vision", version=model_version, loaded=True)


def record_classification_failure(*, reason: ClassifierFailure) -> None:
    """A classification that produced no answer: a bad photo, no model, or an internal error."""
    _metrics().classifier_requests.labels(_one_of(reason, CLASSIFIER_OUTCOMES)).inc()
    if reason == "unavailable":
        set_model(model="vision", version=None, loaded=False)


def set_model(*, model: str, version: str | None, loaded: bool) -> None:
    """The model this process serves (``ayni_model_info``) and whether it is loaded."""
    m = _metrics()
    name = m.models(model)
    m.model_loaded.labels(name).set(1.0 if loaded else 0.0)
    if version:
        label = m.versions(version)
        for other in list(m.versions.seen):
            if other != label:
                m.model_info.labels(name, other).set(0.0)
        m.model_info.labels(name, label).set(1.0)


def record_feedback_accuracy(*, model: str, accuracy: float) -> None:
    """Accuracy of the served model on the latest feedback (corrections and collections)."""
    m = _metrics()
    m.feedback_accuracy.labels(m.models(model)).set(accuracy)


def record_matching(*, kind: MatchingKind, latency_s: float, candidates: int) -> None:
    """One ranking or allocation: how long it took and how many candidates it weighed."""
    m = _metrics()
    label = _one_of(kind, MATCHING_KINDS)
    m.matching_latency.labels(label).observe(max(latency_s, 0.0))
    m.matching_candidates.labels(label).observe(max(candidates, 0))


def record_match_event(*, event: MatchEvent, material: str | None, ubigeo: str | None) -> None:
    """A match was requested, accepted, declined, cancelled or collected."""
    labels = (material_label(material), department_label(ubigeo), _one_of(event, MATCH_EVENTS))
    _metrics().matches.labels(*labels).inc()


def record_listing_created(*, material: str | None, ubigeo: str | None) -> None:
    """A producer published a listing."""
    _metrics().listings.labels(material_label(material), department_label(ubigeo)).inc()


def record_collection(
    *, material: str | None, ubigeo: str | None, kg: float, paid_cents: int, co2e_kg: float | None = None
) -> None:
    """A collection was confirmed: weighed kg, soles paid and (when known) CO2e avoided."""
    m = _metrics()
    labels = (material_label(material), department_label(ubigeo))
    m.collected_kg.labels(*labels).inc(max(float(kg), 0.0))
    m.paid_soles.labels(*labels).inc(max(paid_cents, 0) / 100.0)
    if co2e_kg is not None and co2e_kg > 0:
        m.co2e_avoided_kg.labels(*labels).inc(float(co2e_kg))


def record_job(*, task: str, success: bool, duration_s: float, finished_at: float | None = None) -> None:
    """A batch job (``allocate``, ``retrain`` …) ended. The label is ``task``: Prometheus owns ``job``."""
    m = _metrics()
    name = m.jobs(task)
    when = finished_at if finished_at is not None else time.time()
    m.job_duration.labels(name).observe(max(duration_s, 0.0))
    m.job_last_duration.labels(name).set(max(duration_s, 0.0))
    m.job_runs.labels(name, "success" if success else "failure").inc()
    (m.job_last_success if success else m.job_last_failure).labels(name).set(when)


@contextmanager
def track_job(task: str, *, pushgateway: str | None = None) -> Iterator[None]:
    """``with track_job("retrain"): …`` records duration and outcome; an exception counts as a failure.

    A batch process ends before Prometheus can scrape it: give ``pushgateway`` (``http://host:9091``)
    and its metrics are pushed there when the block ends (see ``push``).
    """
    start = time.perf_counter()
    try:
        yield
    except BaseException:
        record_job(task=task, success=False, duration_s=time.perf_counter() - start)
        if pushgateway:
            push(pushgateway, task=task)
        raise
    record_job(task=task, success=True, duration_s=time.perf_counter() - start)
    if pushgateway:
        push(pushgateway, task=task)


def push(gateway: str, *, task: str) -> bool:
    """Push this process's metrics to a Pushgateway, grouped by ``task``; ``False`` (and a warning) on failure.

    In multiprocess mode nothing is pushed: the API's ``/metrics`` already serves the shared directory.
    """
    if multiprocess_dir() is not None:
        return False
    try:
        pushadd_to_gateway(gateway, job="ayni-batch", grouping_key={"task": task}, registry=REGISTRY, timeout=10)
    except Exception:  # noqa: BLE001 - monitoring must never fail the job it watches
        log.warning("could not push metrics for %s to %s", task, gateway, exc_info=True)
        return False
    return True


def set_drift(*, model: str, signal: str, score: float, threshold: float, checked_at: float | None = None) -> None:
    """The latest drift statistic for one signal (a feature, the embedding, the confidence) and its threshold."""
    m = _metrics()
    name, sig = m.models(model), m.signals(signal)
    m.drift_score.labels(name, sig).set(score)
    m.drift_threshold.labels(name, sig).set(threshold)
    m.drift_last_check.labels(name).set(checked_at if checked_at is not None else time.time())


def record_readiness(*, database: bool, classifier: bool) -> None:
    """The result of a readiness check (``/readyz`` calls this)."""
    m = _metrics()
    m.ready.labels("database").set(1.0 if database else 0.0)
    m.ready.labels("classifier").set(1.0 if classifier else 0.0)
    m.model_loaded.labels(m.models("vision")).set(1.0 if classifier else 0.0)


def observe_pool(engine: Any) -> None:
    """Copy the SQLAlchemy pool's counters (checked out, idle, overflow) into ``ayni_db_pool_connections``."""
    pool = getattr(engine, "pool", None)
    gauge = _metrics().db_pool
    for state, attr in (("checked_out", "checkedout"), ("idle", "checkedin"), ("overflow", "overflow")):
        fn = getattr(pool, attr, None)
        if callable(fn):
            try:
                gauge.labels(state).set(max(float(fn()), 0.0))
            except Exception:  # noqa: BLE001, S112 - a pool without this counter is simply not reported
                continue


def on_commit(session: Session, record: Callable[[], None]) -> None:
    """Run ``record`` once ``session`` commits, so a rolled-back write is never counted.

    ``on_commit(session, lambda: record_listing_created(material=m, ubigeo=u))``
    """
    from sqlalchemy import event

    pending: list[Callable[[], None]] | None = session.info.get("ayni_metrics_pending")
    if pending is None:
        pending = session.info["ayni_metrics_pending"] = []
        event.listen(session, "after_commit", _flush_pending)
        event.listen(session, "after_transaction_end", _drop_pending)
    pending.append(record)


def _flush_pending(session: Session) -> None:
    pending = session.info.get("ayni_metrics_pending") or []
    while pending:
        pending.pop(0)()


def _drop_pending(session: Session, transaction: Any) -> None:
    # The outermost transaction ended without a commit (after_commit ran first otherwise): forget its records.
    if transaction.parent is None:
        (session.info.get("ayni_metrics_pending") or []).clear()


# ---------------------------------------------------------------- exposition


def registry() -> CollectorRegistry:
    """What ``/metrics`` serves: this process's registry, or the merge of every worker's files."""
    _metrics()
    if multiprocess_dir() is None:
        return REGISTRY
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
    return merged


def exposition() -> bytes:
    """The Prometheus text exposition of ``registry()``."""
    return generate_latest(registry())


class HttpMetricsMiddleware:
    """Pure ASGI middleware: counts and times every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        m = _metrics()
        method = _method_label(scope.get("method", ""))
        status = 500
        start = time.perf_counter()

        async def send_and_see(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        in_progress = m.http_in_progress.labels(method)
        in_progress.inc()
        try:
            await self.app(scope, receive, send_and_see)
        except Exception:
            m.http_exceptions.labels(method, route_template(scope)).inc()
            status = 500
            raise
        finally:
            in_progress.dec()
            route = route_template(scope)
            m.http_requests.labels(method, route, str(status)).inc()
            m.http_latency.labels(method, route).observe(time.perf_counter() - start)
            state = getattr(scope.get("app"), "state", None)
            if state is not None:
                observe_pool(getattr(state, "engine", None))


def _metrics_endpoint(request: Request) -> Response:
    from fastapi import Response

    observe_pool(getattr(request.app.state, "engine", None))
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


def _on_startup(app: FastAPI) -> None:
    from ayni import __version__

    m = _metrics()
    m.build_info.labels(__version__).set(1.0)
    for outcome in CLASSIFIER_OUTCOMES:  # series exist at 0 from the start, so rate() and increase() see the first one
        m.classifier_requests.labels(outcome)
    classifier = getattr(app.state, "classifier", None)
    meta = getattr(classifier, "meta", None)
    set_model(model="vision", version=getattr(meta, "version", None), loaded=classifier is not None)
    observe_pool(getattr(app.state, "engine", None))


def _on_shutdown() -> None:
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def install(app: FastAPI) -> None:
    """Add the HTTP metrics middleware, ``GET /metrics`` and the startup/shutdown bookkeeping to ``app``."""
    _metrics()
    app.add_middleware(HttpMetricsMiddleware)  # type: ignore[arg-type]
    app.add_route(METRICS_PATH, _metrics_endpoint, methods=["GET"], include_in_schema=False)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(the_app: Any) -> Any:
        async with inner(the_app) as state:
            _on_startup(the_app)
            try:
                yield state
            finally:
                _on_shutdown()

    app.router.lifespan_context = lifespan


__all__ = [
    "DEPARTMENTS",
    "HttpMetricsMiddleware",
    "department_label",
    "exposition",
    "install",
    "material_label",
    "multiprocess_dir",
    "observe_pool",
    "on_commit",
    "push",
    "record_classification",
    "record_classification_failure",
    "record_collection",
    "record_feedback_accuracy",
    "record_job",
    "record_listing_created",
    "record_match_event",
    "record_matching",
    "record_readiness",
    "registry",
    "route_template",
    "set_drift",
    "set_model",
    "track_job",
]

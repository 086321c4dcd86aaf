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
created on first use (``_families.metrics_families()``), not at import. ``_http`` holds the middleware.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
    pushadd_to_gateway,
)
from prometheus_client.metrics_core import Metric

from ayni.observability._families import (
    CLASSIFIER_OUTCOMES,
    DEPARTMENTS,
    MATCH_EVENTS,
    MATCHING_KINDS,
    MATCHING_SCORERS,
    ClassifierFailure,
    MatchEvent,
    MatchingKind,
    MatchingScorer,
    department_label,
    material_label,
    metrics_families,
    multiprocess_dir,
    one_of,
)
from ayni.observability._http import HttpMetricsMiddleware, observe_pool, route_template

if TYPE_CHECKING:
    from fastapi import FastAPI, Request, Response
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"


# ---------------------------------------------------------------- recording functions


def record_classification(
    *, material: str, confidence: float, abstained: bool, latency_s: float, model_version: str | None = None
) -> None:
    """One photo classified: top-1 class, calibrated confidence, whether the model said 'not sure'."""
    m = metrics_families()
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
    metrics_families().classifier_requests.labels(one_of(reason, CLASSIFIER_OUTCOMES)).inc()
    if reason == "unavailable":
        set_model(model="vision", version=None, loaded=False)


def set_model(*, model: str, version: str | None, loaded: bool) -> None:
    """The model this process serves (``ayni_model_info``) and whether it is loaded."""
    m = metrics_families()
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
    m = metrics_families()
    m.feedback_accuracy.labels(m.models(model)).set(accuracy)


def record_matching(*, kind: MatchingKind, latency_s: float, candidates: int,
                    scorer: MatchingScorer | None = None) -> None:
    """One ranking or allocation: how long it took, how many candidates it weighed and, for a ranking,
    which acceptance model scored it (``rule``: the cold-start fallback, ``ranker``: the learnt champion,
    whose version is ``ayni_model_info{model="ranker"}``)."""
    m = metrics_families()
    label = one_of(kind, MATCHING_KINDS)
    m.matching_latency.labels(label).observe(max(latency_s, 0.0))
    m.matching_candidates.labels(label).observe(max(candidates, 0))
    if scorer is not None:
        m.matching_scored.labels(label, one_of(scorer, MATCHING_SCORERS)).inc()


def record_match_event(*, event: MatchEvent, material: str | None, ubigeo: str | None) -> None:
    """A match was requested, accepted, declined, cancelled or collected."""
    labels = (material_label(material), department_label(ubigeo), one_of(event, MATCH_EVENTS))
    metrics_families().matches.labels(*labels).inc()


def record_listing_created(*, material: str | None, ubigeo: str | None) -> None:
    """A producer published a listing."""
    metrics_families().listings.labels(material_label(material), department_label(ubigeo)).inc()


def record_collection(
    *, material: str | None, ubigeo: str | None, kg: float, paid_cents: int, co2e_kg: float | None = None
) -> None:
    """A collection was confirmed: weighed kg, soles paid and (when known) CO2e avoided."""
    m = metrics_families()
    labels = (material_label(material), department_label(ubigeo))
    m.collected_kg.labels(*labels).inc(max(float(kg), 0.0))
    m.paid_soles.labels(*labels).inc(max(paid_cents, 0) / 100.0)
    if co2e_kg is not None and co2e_kg > 0:
        m.co2e_avoided_kg.labels(*labels).inc(float(co2e_kg))


def record_job(*, task: str, success: bool, duration_s: float, finished_at: float | None = None) -> None:
    """A batch job (``allocate``, ``retrain`` …) ended. The label is ``task``: Prometheus owns ``job``."""
    m = metrics_families()
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


BATCH_PREFIXES = ("ayni_job_", "ayni_drift_", "ayni_model_feedback_", "ayni_matching_")


class _BatchFamilies:
    """What a batch process pushes for one task: its job, drift, feedback and matching series, not the HTTP or
    classifier families it never used (their zeros would only add series), nor another task's job series
    (the Pushgateway would relabel them with this task's grouping key and refuse the duplicates)."""

    def __init__(self, task: str) -> None:
        self.task = task

    def collect(self) -> Iterator[Metric]:
        for family in REGISTRY.collect():
            if not family.name.startswith(BATCH_PREFIXES):
                continue
            samples = [s for s in family.samples if s.labels.get("task", self.task) == self.task]
            if samples:
                kept = Metric(family.name, family.documentation, family.type, family.unit)
                kept.samples = samples
                yield kept


def push(gateway: str, *, task: str) -> bool:
    """Push this process's batch metrics to a Pushgateway, grouped by ``task``; ``False`` (and a warning)
    on failure. In multiprocess mode nothing is pushed: the API's ``/metrics`` already serves the directory."""
    if multiprocess_dir() is not None:
        return False
    pushed = CollectorRegistry()
    pushed.register(_BatchFamilies(task))  # type: ignore[arg-type]
    try:
        pushadd_to_gateway(gateway, job="ayni-batch", grouping_key={"task": task}, registry=pushed, timeout=10)
    except Exception:  # noqa: BLE001 - monitoring must never fail the job it watches
        log.warning("could not push metrics for %s to %s", task, gateway, exc_info=True)
        return False
    return True


def set_drift(*, model: str, signal: str, score: float, threshold: float, checked_at: float | None = None) -> None:
    """The latest drift statistic for one signal (a feature, the embedding, the confidence) and its threshold."""
    m = metrics_families()
    name, sig = m.models(model), m.signals(signal)
    m.drift_score.labels(name, sig).set(score)
    m.drift_threshold.labels(name, sig).set(threshold)
    m.drift_last_check.labels(name).set(checked_at if checked_at is not None else time.time())


def record_readiness(*, database: bool, classifier: bool) -> None:
    """The result of a readiness check (``/readyz`` calls this)."""
    m = metrics_families()
    m.ready.labels("database").set(1.0 if database else 0.0)
    m.ready.labels("classifier").set(1.0 if classifier else 0.0)
    m.model_loaded.labels(m.models("vision")).set(1.0 if classifier else 0.0)


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
    metrics_families()
    if multiprocess_dir() is None:
        return REGISTRY
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
    return merged


def exposition() -> bytes:
    """The Prometheus text exposition of ``registry()``."""
    return generate_latest(registry())


def _metrics_endpoint(request: Request) -> Response:
    from fastapi import Response

    observe_pool(getattr(request.app.state, "engine", None))
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


def _on_startup(app: FastAPI) -> None:
    from ayni import __version__

    m = metrics_families()
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
    metrics_families()
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

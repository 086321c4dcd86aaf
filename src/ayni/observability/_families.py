"""The metric families, their bounded label sets and label helpers (see ``ayni.observability.metrics``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Literal

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

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
MATCHING_SCORERS = ("rule", "ranker")
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
MatchingScorer = Literal["rule", "ranker"]


class Capped:
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
class Families:
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
    matching_scored: Counter
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
    models: Capped
    signals: Capped
    jobs: Capped
    versions: Capped


@cache
def metrics_families() -> Families:
    """Create and register every metric family once per process."""
    disable_created_metrics()  # the *_created series double the series count and no query here needs them
    mc, dep = ("material", "department")
    return Families(
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
        matching_scored=Counter("ayni_matching_scored", "Rankings by the acceptance model that scored them "
                                "(rule = cold-start fallback, ranker = learnt champion).", ["kind", "scorer"]),
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
        models=Capped(8),
        signals=Capped(64),
        jobs=Capped(16),
        versions=Capped(16),
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


def one_of(value: str, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else OTHER

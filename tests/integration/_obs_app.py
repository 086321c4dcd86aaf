"""The Ayni app that tests/integration/test_observability.py serves under uvicorn.

It is the real ``create_app`` (real middleware, real ``/metrics``, real database) with a stand-in
classifier object (so ``ayni_model_info`` has a version) and a few ``/test`` routes that call the
recording functions the services will call (classification, listings, collections, jobs, drift), plus
one route that fails, so that the test can read every kind of series back through Prometheus.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, FastAPI

from ayni.api import create_app
from ayni.observability import metrics


@dataclass(frozen=True)
class _Meta:
    version: str = "test-model-1"


@dataclass(frozen=True)
class _Classifier:
    meta: _Meta = _Meta()


router = APIRouter(prefix="/test")


@router.post("/classify")
def classify(material: str, confidence: float, abstained: bool = False) -> dict[str, str]:
    metrics.record_classification(
        material=material, confidence=confidence, abstained=abstained, latency_s=0.012, model_version="test-model-1"
    )
    return {"material": material}


@router.post("/business")
def business(material: str, ubigeo: str) -> dict[str, str]:
    metrics.record_listing_created(material=material, ubigeo=ubigeo)
    metrics.record_match_event(event="requested", material=material, ubigeo=ubigeo)
    metrics.record_match_event(event="accepted", material=material, ubigeo=ubigeo)
    metrics.record_collection(material=material, ubigeo=ubigeo, kg=12.5, paid_cents=1000, co2e_kg=3.2)
    metrics.record_matching(kind="listing", latency_s=0.02, candidates=7)
    metrics.record_job(task="retrain", success=False, duration_s=42.0)
    metrics.set_drift(model="vision", signal="confidence", score=0.4, threshold=0.2)
    metrics.record_feedback_accuracy(model="vision", accuracy=0.87)
    return {"ok": "yes"}


@router.get("/boom")
def boom() -> dict[str, str]:
    raise RuntimeError("deliberate failure for the metrics test")


def create_app_for_test() -> FastAPI:
    app = create_app(classifier=_Classifier())
    app.include_router(router)
    return app

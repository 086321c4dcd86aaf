from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from ayni.observability import metrics

router = APIRouter(tags=["health"])
NO_CLASSIFIER = "not loaded: /v1/classify answers 503, everything else works"


class Readiness(BaseModel):
    status: str  # "ready" | "not ready"
    checks: dict[str, str]  # database, classifier: "ok" or what is wrong


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "The database does not answer"}})
def readyz(request: Request) -> JSONResponse:
    """Readiness: 200 when the database answers (503 otherwise); ``checks`` also says whether the photo
    classifier is loaded."""
    checks: dict[str, str] = {}
    try:
        with request.app.state.session_factory() as session:
            session.execute(text("select 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"unavailable: {type(exc).__name__}"
    classifier = getattr(request.app.state, "classifier", None)
    checks["classifier"] = "ok" if classifier is not None else NO_CLASSIFIER
    ready = checks["database"] == "ok"  # without a model the rest still works: stay in the load balancer
    metrics.record_readiness(database=ready, classifier=classifier is not None)
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )

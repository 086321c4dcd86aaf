from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from ayni.api.deps import AdminUser, SessionDep
from ayni.services import app_state
from ayni.services.model_jobs import Job, ModelOps

router = APIRouter(prefix="/admin/models", tags=["admin"])


class PromoteRequest(BaseModel):
    version: int | None = Field(default=None, ge=1, description="default: the current challenger")
    margin: float | None = Field(default=None, ge=0, le=1)


class RollbackRequest(BaseModel):
    reason: str = Field(min_length=3, max_length=300)


class JobPublic(BaseModel):
    id: str
    model: str
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    result: dict[str, Any] | None
    error: str | None


def _ops(request: Request) -> ModelOps:
    return app_state.model_ops(request.app.state)


def _job(job: Job) -> JobPublic:
    return JobPublic(id=job.id, model=job.model, kind=job.kind, status=job.status, started_at=job.started_at,
                     finished_at=job.finished_at, result=job.result, error=job.error)


@router.get("")
def list_models(request: Request, admin: AdminUser, name: str | None = None) -> list[dict[str, Any]]:
    """Registered versions with their aliases (champion, challenger), metrics and data version."""
    return [dict(v) for v in _ops(request).versions(name)]


@router.post("/{name}/promote", status_code=status.HTTP_202_ACCEPTED)
def promote(name: str, request: Request, admin: AdminUser, body: PromoteRequest | None = None) -> JobPublic:
    """Put the challenger through the quality gate in the background; poll the job for the decision."""
    body = body or PromoteRequest()
    return _job(_ops(request).start_promotion(admin, name, version=body.version, margin=body.margin))


@router.get("/jobs/{job_id}")
def job(job_id: str, request: Request, admin: AdminUser) -> JobPublic:
    return _job(_ops(request).job(job_id))


@router.post("/{name}/rollback")
def rollback(name: str, body: RollbackRequest, request: Request, admin: AdminUser,
             session: SessionDep) -> dict[str, Any]:
    """Restore the previous champion now; the served model follows at once."""
    return dict(_ops(request).rollback(session, admin, name, reason=body.reason))

"""The administrator's model page: what is served, how it does, drift, and promote / roll back.

``/admin/models`` shows the served classifier's version, its confidence and abstentions from this
process's Prometheus registry, its accuracy on the producers' corrections (``web_queries``), the latest
drift report ``ayni drift report`` wrote, and the MLflow registry's versions with their aliases and
metrics through the app's one ``ModelOps`` (shared with ``/v1/admin/models``). A promotion runs the
quality gate in a background job whose status the page shows on reload; a rollback answers at once.
The registry opens on the first visit (MLflow's schema takes seconds), so it lives on its own page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from ayni.domain.lifecycle import Role
from ayni.errors import AyniError, InvalidInput, NotFound
from ayni.services import web_queries
from ayni.services._common import require_role
from ayni.web import _forms as f
from ayni.web._csrf import checked_form
from ayni.web._mlops import classifier_figures, drift_reports, model_ops
from ayni.web._render import Db, WebRoute, WebUser, redirect, render

router = APIRouter(prefix="/admin/models", route_class=WebRoute, include_in_schema=False)
DONE = ("promote", "rollback")


def _registry(request: Request) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
    """Registered versions grouped by model (newest first), or the registry's error message."""
    try:
        versions = model_ops(request).versions(None)
    except AyniError as exc:
        return {}, exc.message
    grouped: dict[str, list[dict[str, Any]]] = {}
    for v in versions:
        grouped.setdefault(str(v["name"]), []).append(dict(v))
    return grouped, None


def _known(request: Request, name: str) -> list[dict[str, Any]]:
    models, _ = _registry(request)
    if name not in models:
        raise NotFound(f"No registered model named '{name}'.")
    return models[name]


@router.get("")
def models_page(request: Request, session: Db, user: WebUser, done: str = "") -> Response:
    require_role(user, Role.ADMIN)
    classifier = getattr(request.app.state, "classifier", None)
    models, registry_error = _registry(request)
    jobs = sorted(model_ops(request).jobs.values(), key=lambda j: j.started_at, reverse=True)
    return render(
        request,
        "models.html",
        user=user,
        served=getattr(classifier, "version", None) if classifier is not None else None,
        served_loaded=classifier is not None,
        figures=classifier_figures(),
        accuracy=web_queries.feedback_accuracy(session, user),
        drift=drift_reports(request.app.state.settings.var_dir),
        models=models,
        registry_error=registry_error,
        jobs=jobs,
        done=done if done in DONE else "",
    )


@router.post("/{name}/promote")
async def promote(request: Request, user: WebUser, name: str) -> Response:
    """Start the quality gate for the challenger (or the version chosen) in the background."""
    form = await checked_form(request)
    require_role(user, Role.ADMIN)
    versions = await run_in_threadpool(_known, request, name)  # MLflow calls: off the event loop
    chosen = f.text(form, "version", required=False, max_len=8)
    version: int | None = None
    if chosen:
        if not chosen.isdigit() or all(int(chosen) != v["version"] for v in versions):
            raise InvalidInput(f"'{chosen}' is not a version of {name}.", details={"field": "version"})
        version = int(chosen)
    model_ops(request).start_promotion(user, name, version=version, margin=None)
    return redirect("/admin/models?done=promote#jobs")


@router.post("/{name}/rollback")
async def rollback(request: Request, session: Db, user: WebUser, name: str) -> Response:
    """Restore the previous champion now; the served classifier follows at once."""
    form = await checked_form(request)
    require_role(user, Role.ADMIN)
    reason = f.text(form, "reason", max_len=300)
    if len(reason) < 3:
        raise InvalidInput("Give a reason of at least 3 characters.", details={"field": "reason"})
    await run_in_threadpool(_known, request, name)
    await run_in_threadpool(model_ops(request).rollback, session, user, name, reason=reason)
    return redirect("/admin/models?done=rollback#registry")

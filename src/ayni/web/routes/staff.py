"""Administrator and analyst pages: service health, users, and the collected kg and soles."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from fastapi import APIRouter, Request, Response

from ayni import __version__
from ayni.domain.lifecycle import Role
from ayni.errors import InvalidInput
from ayni.services import matching, users, web_queries
from ayni.services._common import require_role
from ayni.web import _forms as f
from ayni.web._charts import bars
from ayni.web._csrf import checked_form
from ayni.web._render import Db, WebRoute, WebUser, emission_factors_of, locale_of, redirect, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PAGE = 50
ALLOCATION_SECONDS = 5.0  # a page must answer: the solver stops here and reports its bound
GROUPS = ("district", "material", "month")


@router.get("/admin")
def admin(request: Request, session: Db, user: WebUser, page: str = "1") -> Response:
    require_role(user, Role.ADMIN)
    number = f.integer(page, default=1, low=1, high=10_000)
    listed = users.list_users(session, user, role=None, limit=PAGE, offset=(number - 1) * PAGE)
    classifier = getattr(request.app.state, "classifier", None)
    health = {
        "database": web_queries.database_ok(session),
        "classifier": classifier is not None,
        "model_version": getattr(classifier, "version", None) if classifier is not None else None,
        "app_version": __version__,
    }
    return render(
        request,
        "admin.html",
        user=user,
        health=health,
        users=listed.items,
        page=number,
        pages=max(1, -(-listed.total // PAGE)),
        total=listed.total,
    )


@router.post("/admin/allocation")
async def allocation(request: Request, session: Db, user: WebUser) -> Response:
    """Run the batch allocation for a region (preview, or propose the optimal matches with ``apply``)."""
    form = await checked_form(request)
    region = f.text(form, "region", max_len=6)
    apply = form.get("apply") == "1"
    report = matching.allocate(session, user, region=region, apply=apply, time_limit_s=ALLOCATION_SECONDS)
    return render(request, "allocation.html", user=user, report=report, applied=apply)


@router.post("/admin/users/{user_id}/active")
async def set_active(request: Request, session: Db, user: WebUser, user_id: int) -> Response:
    form = await checked_form(request)
    active = f.choice(form, "active", ("true", "false")) == "true"
    users.update_user(session, user, user_id, is_active=active, role=None)
    return redirect("/admin#users")


@router.get("/analyst")
def analyst(request: Request, session: Db, user: WebUser) -> Response:
    factors = emission_factors_of(request)
    tables = {by: web_queries.collected_totals(session, user, by=by, factors=factors) for by in GROUPS}
    months = tables["month"][-12:]
    loc = locale_of(request)
    return render(
        request,
        "analyst.html",
        user=user,
        tables=tables,
        kg_chart=bars([(loc.month_short(r.key), float(r.kg)) for r in months]),
        soles_chart=bars([(loc.month_short(r.key), r.cents / 100) for r in months]),
        total_kg=sum((r.kg for r in tables["material"]), start=0),
        total_cents=sum(r.cents for r in tables["material"]),
        total_co2e=None if factors is None else sum(r.co2e_kg or 0.0 for r in tables["material"]),
    )


@router.get("/analyst/export.csv")
def export(request: Request, session: Db, user: WebUser, by: str = "district") -> Response:
    if by not in GROUPS:
        raise InvalidInput(f"Unknown grouping '{by}'.", details={"field": "by"})
    loc = locale_of(request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([by, "kg", "soles", "collections", "co2e_avoided_kg"])
    for row in web_queries.collected_totals(session, user, by=by, factors=emission_factors_of(request)):
        key = loc.material(row.key) if by == "material" else row.key
        co2e = "" if row.co2e_kg is None else f"{row.co2e_kg:.1f}"
        writer.writerow([key, f"{row.kg:.3f}", f"{Decimal(row.cents) / 100:.2f}", row.collections, co2e])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="ayni-collected-by-{by}.csv"'},
    )

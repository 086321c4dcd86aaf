"""The analyst's supply forecast: expected kg per week of a material in a district, with its 80 % band.

The numbers come from ``services.forecasting.SupplyForecaster`` (MINAM's district generation and
composition), the same instance the API's ``/v1/forecast`` keeps in ``app.state.supply_forecaster``.
Without the reference data the service raises ``ServiceUnavailable`` and the page is the usual error page.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from ayni.domain.lifecycle import Role
from ayni.domain.materials import CLASSES, MATERIALS, sellable
from ayni.errors import InvalidInput, NotFound
from ayni.services import app_state, web_queries
from ayni.services._common import require_role
from ayni.services.forecasting import DEFAULT_CAPTURE_RATE, SupplyForecaster
from ayni.web import _forms as f
from ayni.web._charts import band
from ayni.web._locale import LIMA, Locale
from ayni.web._render import Db, WebRoute, WebUser, locale_of, render
from ayni.web.routes.account import _districts

router = APIRouter(prefix="/analyst", route_class=WebRoute, include_in_schema=False)

# the taxonomy's recoverable materials, each class first, then its more precise materials
MATERIAL_GROUPS = tuple(
    (c, tuple(code for code, m in MATERIALS.items() if (code == c or m.parent == c) and sellable(code)))
    for c in CLASSES
)
FORECAST_MATERIALS = tuple(code for _, codes in MATERIAL_GROUPS for code in codes)
MAX_HORIZON = 52  # weeks: a year ahead is as far as a page shows
UBIGEO = re.compile(r"^\d{6}$")


def forecaster_of(request: Request) -> SupplyForecaster:
    return app_state.supply_forecaster(request.app.state)


@dataclass(frozen=True, slots=True)
class ForecastQuery:
    district: str
    material: str
    horizon: int


def _query(district: str, material: str, horizon: str) -> ForecastQuery | None:
    """The forecast asked for, ``None`` when the form has not been filled in yet."""
    if not district:  # the district search (or a first visit): nothing to forecast yet
        return None
    if not UBIGEO.match(district):
        raise InvalidInput("Choose a district.", details={"field": "ubigeo"})
    if material not in FORECAST_MATERIALS:
        raise InvalidInput(f"'{material}' is not a material of the taxonomy.", details={"field": "material"})
    return ForecastQuery(district, material, f.integer(horizon, default=12, low=1, high=MAX_HORIZON))


def this_monday() -> date:
    today = datetime.now(LIMA).date()
    return today - timedelta(days=today.weekday())


def _weeks(request: Request, query: ForecastQuery) -> list[Any]:
    """From this week on (the API's default starts after MINAM's last year; a page plans ahead)."""
    return forecaster_of(request).weekly(ubigeo=query.district, material=query.material,
                                         horizon_weeks=query.horizon, start=this_monday())


def _short(loc: Locale, day: date) -> str:
    """``5 ene``: a chart label (the table beside the chart has the full date)."""
    return f"{day.day} {loc.month_short(day.strftime('%Y-%m'))}"


@router.get("/forecast")
def forecast(request: Request, session: Db, user: WebUser, q: str = "", district: str = "", material: str = "",
             horizon: str = "12") -> Response:
    require_role(user, Role.ANALYST, Role.ADMIN)
    query = _query(district.strip(), material.strip(), horizon)
    chosen = {"material": material if material in FORECAST_MATERIALS else "",
              "horizon": f.integer(horizon, default=12, low=1, high=MAX_HORIZON)}
    loc = locale_of(request)
    weeks: list[Any] = []
    missing = False
    if query is not None:
        try:
            weeks = _weeks(request, query)
        except NotFound:  # MINAM has no table for this district: say so on the page, keep the form
            missing = True
    chart = band([(_short(loc, w.week_start), w.kg, w.kg_low, w.kg_high) for w in weeks])
    names = web_queries.district_names(session, [query.district]) if query is not None else {}
    return render(
        request,
        "forecast.html",
        user=user,
        q=q[:80],
        districts=_districts(session, q, query.district if query is not None else None),
        query=query,
        chosen=chosen,
        district_name=names.get(query.district, "") if query is not None else "",
        material_groups=MATERIAL_GROUPS,
        max_horizon=MAX_HORIZON,
        weeks=weeks,
        chart=chart,
        missing=missing,
        capture_rate=DEFAULT_CAPTURE_RATE,
    )


@router.get("/forecast.csv")
def forecast_csv(request: Request, session: Db, user: WebUser, district: str = "", material: str = "",
                 horizon: str = "12") -> Response:
    """The table the forecast page shows, as CSV (the same rounding: 0.1 kg)."""
    require_role(user, Role.ANALYST, Role.ADMIN)
    query = _query(district.strip(), material.strip(), horizon)
    if query is None:
        raise InvalidInput("Choose a district and a material.", details={"field": "ubigeo"})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["week_start", "district", "material", "kg", "kg_low_80", "kg_high_80"])
    for w in _weeks(request, query):
        writer.writerow([w.week_start.isoformat(), query.district, query.material, f"{w.kg:.1f}",
                         f"{w.kg_low:.1f}", f"{w.kg_high:.1f}"])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="ayni-forecast-{query.district}-{query.material}.csv"'},
    )

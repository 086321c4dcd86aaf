from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from ayni.api.deps import CurrentUser
from ayni.api.schemas.forecast import ForecastPublic, WeeklySupplyPublic
from ayni.services import app_state
from ayni.services.forecasting import DEFAULT_CAPTURE_RATE, SupplyForecaster

router = APIRouter(tags=["forecast"])


def get_forecaster(request: Request) -> SupplyForecaster:
    return app_state.supply_forecaster(request.app.state)


@router.get("/forecast")
def forecast(user: CurrentUser, forecaster: Annotated[SupplyForecaster, Depends(get_forecaster)],
             district: str = Query(pattern=r"^\d{6}$", examples=["140101"]),
             material: str = Query(max_length=40, examples=["PET"]),
             horizon: int = Query(12, ge=1, le=520, description="weeks ahead"),
             capture_rate: float = Query(DEFAULT_CAPTURE_RATE, gt=0, le=1,
                                         description="share of the district's generation the platform captures")
             ) -> ForecastPublic:
    """Expected kg per week of a material that the platform can capture in a district, with an 80 % interval,
    from MINAM's district generation (2014–2023) and composition (2019–2023)."""
    weeks, version = forecaster.weekly_versioned(ubigeo=district, material=material, horizon_weeks=horizon,
                                                 capture_rate=capture_rate)
    return ForecastPublic(district=district, material=material, capture_rate=capture_rate, interval="80%",
                          weeks=[WeeklySupplyPublic(week_start=w.week_start, kg=round(w.kg, 1),
                                                    kg_low=round(w.kg_low, 1), kg_high=round(w.kg_high, 1))
                                 for w in weeks],
                          method="annual per-district model chosen by time-series cross-validation × MINAM "
                                 "composition share × capture rate (see docs/forecasting.md)",
                          model_version=version)

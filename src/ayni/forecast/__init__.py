"""Supply forecasting: per-zone forecasters, backtests, Peru supply and seed 003's Tetouan task.

Nothing here does work at import time; every function takes its data as arguments.
"""

from ayni.forecast.backtest import (
    BacktestResult,
    coverage,
    mae,
    mape,
    mase,
    mdape,
    naive_scale,
    r2,
    rmse,
    rolling_origin_backtest,
)
from ayni.forecast.drift import shifted_input_study, weather_shifts
from ayni.forecast.features import OriginFrame, calendar_features, origin_features, seasonal_naive
from ayni.forecast.models import CANDIDATES, PerZoneForecaster, ZoneForecaster
from ayni.forecast.peru import (
    AnnualBacktest,
    WeeklySupply,
    backtest_annual,
    backtest_chiclayo,
    chiclayo_forecaster,
    fit_annual_model,
    forecast_district_material,
    load_chiclayo,
    load_composition,
    load_generation,
    load_material_map,
    peru_holidays,
    score_annual,
    score_chiclayo,
)
from ayni.forecast.plot import forecast_png
from ayni.forecast.tabular import TabularForecaster
from ayni.forecast.tetouan import load_tetouan, run_day_ahead, run_seed003_protocol

__all__ = [
    "CANDIDATES",
    "AnnualBacktest",
    "BacktestResult",
    "OriginFrame",
    "PerZoneForecaster",
    "TabularForecaster",
    "WeeklySupply",
    "ZoneForecaster",
    "backtest_annual",
    "backtest_chiclayo",
    "calendar_features",
    "chiclayo_forecaster",
    "coverage",
    "fit_annual_model",
    "forecast_district_material",
    "forecast_png",
    "load_chiclayo",
    "load_composition",
    "load_generation",
    "load_material_map",
    "load_tetouan",
    "mae",
    "mape",
    "mase",
    "mdape",
    "naive_scale",
    "origin_features",
    "peru_holidays",
    "r2",
    "rmse",
    "rolling_origin_backtest",
    "run_day_ahead",
    "run_seed003_protocol",
    "score_annual",
    "score_chiclayo",
    "seasonal_naive",
    "shifted_input_study",
    "weather_shifts",
]

"""Peru supply: annual per district × material (MINAM) and Chiclayo's daily collection series.

Annual model. For every district and target year ``T`` a row holds features computed from years ``< T``
only (log growth of the last three years, the linear-trend forecast as a log ratio, urban-population and
per-capita-generation growth, region, size) and the target ``log(y_T / y_{T-1})`` for household waste
``dom_t_year``. A :class:`TabularForecaster` chooses among "last value" (predict 0), "linear trend",
ridge and gradient boosting by expanding-window CV over target years, with conformal intervals.
``use_future_population=True`` adds INEI's population estimate for year ``T`` (published ahead, but not
"the past only"): results with it are labelled.

Weekly supply = annual household tonnes × the district's latest composition share of the material ×
the platform's capture rate ÷ 52.18. MINAM publishes no within-year profile, so weeks of a year are
equal; the share is taken as known (MINAM assigns representative studies to many districts).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ayni.domain.materials import MATERIALS
from ayni.errors import InvalidInput, NotFound
from ayni.forecast.backtest import BacktestResult, coverage, mape, mdape, naive_scale, rolling_origin_backtest
from ayni.forecast.models import ZoneForecaster
from ayni.forecast.tabular import TabularForecaster

log = logging.getLogger(__name__)

WEEKS_PER_YEAR = 365.25 / 7
TARGET = "dom_t_year"
ANNUAL_CANDIDATES = ("column:zero", "column:trend_lr", "column:pop_lr1", "linear", "hist_gbm")
#: MINAM's 2018 figures are a level break (median |change| 22 % vs 2–4 % in other years): not a target.
FIRST_TARGET_YEAR = 2019
_REGIONS = {"COSTA": 0.0, "SIERRA": 1.0, "SELVA": 2.0}


# -- loading ------------------------------------------------------------------------------------------
def load_generation(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"ubigeo": str})


def load_composition(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"ubigeo": str})


def load_material_map(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path)


def load_chiclayo(path: str | Path) -> pd.Series:
    """Chiclayo's daily collected tonnes as a daily-frequency series."""
    raw = pd.read_csv(path, parse_dates=["date"])
    return pd.Series(raw["collected_t"].to_numpy(dtype=np.float64),
                     index=pd.DatetimeIndex(raw["date"], freq="D"), name="collected_t")


# -- annual panel ------------------------------------------------------------------------------------
def _trend_at(values: np.ndarray, years: np.ndarray, target_year: int) -> np.ndarray:
    """Per-row OLS line through the (finite) past values, evaluated at ``target_year``."""
    ok = np.isfinite(values)
    n = ok.sum(axis=1)
    x = np.where(ok, years[None, :], 0.0)
    v = np.where(ok, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm, vm = x.sum(1) / n, v.sum(1) / n
        sxy = (np.where(ok, (years[None, :] - xm[:, None]) * (values - vm[:, None]), 0.0)).sum(1)
        sxx = (np.where(ok, (years[None, :] - xm[:, None]) ** 2, 0.0)).sum(1)
        slope = np.where(sxx > 0, sxy / sxx, 0.0)
    return np.asarray(vm + slope * (target_year - xm))


def annual_panel(generation: pd.DataFrame, *, target_years: Iterable[int],
                 use_future_population: bool = False) -> pd.DataFrame:
    """Rows (ubigeo, target_year): features from years < target_year, ``target`` = log growth (NaN if unknown)."""
    y = generation.pivot(index="ubigeo", columns="year", values=TARGET)
    pop = generation.pivot(index="ubigeo", columns="year", values="pop_urban")
    gpc = generation.pivot(index="ubigeo", columns="year", values="gpc_dom_kg_hab_day")
    region = generation.groupby("ubigeo")["region_natural"].last().map(_REGIONS)
    frames = []
    for t in target_years:
        past = [int(c) for c in y.columns if int(c) < t]
        if len(past) < 3:
            raise InvalidInput(f"target year {t} needs at least three earlier years")
        vals = y[past].where(y[past] > 0)
        last = vals[t - 1]
        f = pd.DataFrame(index=y.index)
        f["ubigeo"], f["target_year"] = y.index, t
        for k in (1, 2, 3):
            f[f"lr{k}"] = np.log(vals[t - k] / vals[t - k - 1]) if t - k - 1 in vals else np.nan
        trend = _trend_at(vals.to_numpy(dtype=np.float64), np.asarray(past, dtype=np.float64), t)
        f["trend_lr"] = np.log(np.where(trend > 0, trend, np.nan) / last)
        f["trend3_lr"] = np.log(np.clip(_trend_at(vals[past[-3:]].to_numpy(dtype=np.float64),
                                                  np.asarray(past[-3:], dtype=np.float64), t), 1e-9, None) / last)
        f["pop_lr1"] = np.log(pop[t - 1] / pop[t - 2])
        f["gpc_lr1"] = np.log(gpc[t - 1].where(gpc[t - 1] > 0) / gpc[t - 2].where(gpc[t - 2] > 0))
        f["log_last"], f["gpc_last"], f["region"] = np.log(last), gpc[t - 1], region
        f["zero"] = 0.0
        if use_future_population:
            f["pop_lr0"] = np.log(pop[t] / pop[t - 1]) if t in pop else np.nan
        f["last"] = last
        f["target"] = np.log(y[t].where(y[t] > 0) / last) if t in y else np.nan
        frames.append(f[last.notna()])
    return pd.concat(frames, ignore_index=True).replace([np.inf, -np.inf], np.nan)


_NOT_FEATURES = ["ubigeo", "target_year", "target", "last"]


def fit_annual_model(generation: pd.DataFrame, *, last_year: int | None = None,
                     use_future_population: bool = False, coverage_level: float = 0.8,
                     first_target_year: int = FIRST_TARGET_YEAR, random_state: int = 0) -> TabularForecaster:
    """Fit the annual growth model on target years ``first_target_year``…``last_year`` (default: last present)."""
    last = int(last_year or generation["year"].max())
    panel = annual_panel(generation, target_years=range(first_target_year, last + 1),
                         use_future_population=use_future_population)
    panel = panel[np.isfinite(panel["target"])]
    X = panel.drop(columns=_NOT_FEATURES)
    candidates = ANNUAL_CANDIDATES + (("column:pop_lr0",) if use_future_population else ())
    return TabularForecaster(candidates=candidates, n_splits=2, coverage=coverage_level,
                             model_params={"hist_gbm": {"max_iter": 200, "min_samples_leaf": 50}},
                             random_state=random_state).fit(X, panel["target"].to_numpy(), time=panel["target_year"])


@dataclass(frozen=True)
class AnnualBacktest:
    """Per-district truth and forecasts of ``test_year``; ``summary`` holds MAPE/MdAPE/coverage."""

    table: pd.DataFrame
    summary: dict[str, dict[str, float]]
    chosen: str


def backtest_annual(generation: pd.DataFrame, *, test_year: int = 2023, use_future_population: bool = False,
                    random_state: int = 0) -> AnnualBacktest:
    """Forecast ``test_year`` per district from earlier years only; compare with last value and trend."""
    history = generation[generation["year"] < test_year]
    model = fit_annual_model(history, use_future_population=use_future_population, random_state=random_state)
    return score_annual(model, generation, test_year=test_year, use_future_population=use_future_population)


def score_annual(model: TabularForecaster, generation: pd.DataFrame, *, test_year: int,
                 use_future_population: bool = False) -> AnnualBacktest:
    """Score a fitted annual model on ``test_year`` (it must have been fitted on earlier years only)."""
    panel = annual_panel(generation, target_years=[test_year], use_future_population=use_future_population)
    panel = panel[np.isfinite(panel["target"])]
    X = panel.drop(columns=_NOT_FEATURES)
    pred = model.predict_interval(X)
    last = panel["last"].to_numpy()
    truth = last * np.exp(panel["target"].to_numpy())
    table = pd.DataFrame({"ubigeo": panel["ubigeo"], "truth": truth, "model": last * np.exp(pred["mean"]),
                          "lower": last * np.exp(pred["lower"]), "upper": last * np.exp(pred["upper"]),
                          "last_value": last, "linear_trend": last * np.exp(panel["trend_lr"].to_numpy())})
    summary = {c: {"mape": mape(table["truth"], table[c]), "mdape": mdape(table["truth"], table[c])}
               for c in ("model", "last_value", "linear_trend")}
    summary["model"]["coverage"] = coverage(table["truth"], table["lower"], table["upper"])
    return AnnualBacktest(table, summary, model.chosen_)


# -- weekly supply per district × material -----------------------------------------------------------
@dataclass(frozen=True)
class WeeklySupply:
    """Expected kilograms of one material that the platform can capture in one district in one week."""

    week_start: date
    ubigeo: str
    material: str
    kg: float
    kg_low: float
    kg_high: float


def material_columns(material: str, material_map: pd.DataFrame) -> list[str]:
    """Composition columns of ``material``: a class (``plastic``), a sub-material (``PET``) or a column."""
    if material in set(material_map["column"]):
        return [material]
    if material not in MATERIALS:
        raise InvalidInput(f"unknown material {material!r}", details={"field": "material"})
    codes = material_map["platform_material"]
    mask = (codes == material) | codes.map(lambda c: MATERIALS[c].class_code == material if c in MATERIALS else False)
    cols = list(material_map.loc[mask, "column"])
    if not cols:
        raise InvalidInput(f"material {material!r} has no MINAM composition column", details={"field": "material"})
    return cols


def material_share(composition: pd.DataFrame, *, ubigeo: str, columns: list[str]) -> tuple[float, int]:
    """Share of household waste in ``columns`` for the district's latest composition year, and that year."""
    rows = composition[composition["ubigeo"] == ubigeo]
    if rows.empty:
        raise NotFound(f"no composition data for district {ubigeo}")
    row = rows.iloc[int(np.argmax(rows["year"].to_numpy()))]
    total = float(row["sum_materials_t"])
    return (float(row[columns].sum()) / total if total > 0 else 0.0), int(row["year"])


def forecast_district_material(
    *,
    generation: pd.DataFrame,
    composition: pd.DataFrame,
    material_map: pd.DataFrame,
    ubigeo: str,
    material: str,
    horizon_weeks: int,
    capture_rate: float,
    start: date | None = None,
    model: TabularForecaster | None = None,
) -> list[WeeklySupply]:
    """Expected kg per week of ``material`` the platform can capture in district ``ubigeo``.

    Annual household waste is forecast by the annual model (``model``, fitted by
    :func:`fit_annual_model` on ``generation`` when not given: ~3 s, so services should fit once and pass
    it) one year past the data, then grown at the same predicted rate for later years. ``start`` defaults
    to 1 January of the year after the last MINAM year; weeks start on ``start`` and every 7 days after.
    """
    if not 0 < capture_rate <= 1:
        raise InvalidInput("capture_rate must be in (0, 1]", details={"field": "capture_rate"})
    if not 1 <= horizon_weeks <= 520:
        raise InvalidInput("horizon_weeks must be between 1 and 520", details={"field": "horizon"})
    columns = material_columns(material, material_map)
    share, _ = material_share(composition, ubigeo=ubigeo, columns=columns)
    last_year = int(generation["year"].max())
    panel = annual_panel(generation, target_years=[last_year + 1])
    row = panel[panel["ubigeo"] == ubigeo]
    if row.empty:
        raise NotFound(f"no generation data for district {ubigeo}")
    fitted = model or fit_annual_model(generation)
    pred = fitted.predict_interval(row.drop(columns=_NOT_FEATURES)).iloc[0]
    base_t = float(row["last"].iloc[0])
    first = start or date(last_year + 1, 1, 1)
    out = []
    for w in range(horizon_weeks):
        week = first + timedelta(days=7 * w)
        years_ahead = max(week.year - last_year, 1)
        kg_per_week = base_t * 1000 * share * capture_rate / WEEKS_PER_YEAR
        scale = [np.exp(years_ahead * float(pred[c])) for c in ("mean", "lower", "upper")]
        out.append(WeeklySupply(week, ubigeo, material, kg_per_week * scale[0], kg_per_week * scale[1],
                                kg_per_week * scale[2]))
    return out


# -- Chiclayo daily ----------------------------------------------------------------------------------
def _easter(year: int) -> date:
    """Gregorian Easter Sunday (Meeus/Jones/Butcher algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


_FIXED_HOLIDAYS = ((1, 1), (5, 1), (6, 7), (6, 29), (7, 23), (7, 28), (7, 29), (8, 6), (8, 30), (10, 8),
                   (11, 1), (12, 8), (12, 9), (12, 25))


def peru_holidays(years: Iterable[int]) -> set[date]:
    """Peru's national public holidays (fixed dates of Law 31788 era plus Holy Thursday and Good Friday)."""
    out: set[date] = set()
    for y in years:
        out |= {date(y, m, d) for m, d in _FIXED_HOLIDAYS}
        easter = _easter(y)
        out |= {easter - timedelta(days=3), easter - timedelta(days=2)}
    return out


def chiclayo_forecaster(*, horizon: int, random_state: int = 0) -> ZoneForecaster:
    """Daily configuration: weekly season, last 1/4 weeks, Peru holidays; intervals per step block."""
    return ZoneForecaster(horizon=horizon, seasons=(7,), windows=(7, 28), level_window=28,
                          profile_periods=(4,), holidays=peru_holidays(range(2022, 2027)),
                          annual_features=False, n_splits=3, random_state=random_state)


def score_chiclayo(model: ZoneForecaster, series: pd.Series, *, first_origin: str = "2024-03-01",
                   naive_season: int = 7) -> BacktestResult:
    """A model fitted on ``series`` before ``first_origin``, scored without refitting on every later origin."""
    values = series.to_numpy(dtype=np.float64)
    index = pd.DatetimeIndex(series.index)
    first = int(index.searchsorted(pd.Timestamp(first_origin)))
    if model.n_train_ > first:
        raise InvalidInput(f"the model saw {model.n_train_} days, past the first origin {first_origin}")
    out = model.predict_origins(values, index, np.arange(first, len(values) - model.horizon + 1))
    out["truth"] = values[out["position"].to_numpy()]
    k = out["step"].to_numpy() - 1
    back = out["position"].to_numpy() - naive_season * ((k + naive_season) // naive_season)
    out["naive"] = np.where(back >= 0, values[np.clip(back, 0, None)], np.nan)
    return BacktestResult(out, naive_scale(values[:first], season=naive_season), [model.chosen_])


def backtest_chiclayo(series: pd.Series, *, horizon: int, first_origin: str = "2024-03-01",
                      refit_every: int = 28, random_state: int = 0) -> BacktestResult:
    """Rolling origin (daily origins from ``first_origin``), refitted every ``refit_every`` days."""
    first = int(pd.DatetimeIndex(series.index).searchsorted(pd.Timestamp(first_origin)))
    return rolling_origin_backtest(lambda: chiclayo_forecaster(horizon=horizon, random_state=random_state),
                                   series, first_origin=first, refit_every=refit_every, naive_season=7)

"""``ayni forecast …``: supply forecasts and their backtests as Rich tables.

Mounted by ``ayni.cli`` as ``app.add_typer(forecast.app, name="forecast")``. Data is read from
``--data-dir`` or the settings' ``data_dir`` (``AYNI_DATA_DIR``) when a command runs, never at import.
``train`` and ``evaluate`` are the DVC pipeline's forecaster stages (models as ``.npz``, no pickle).
"""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ayni.forecast import (
    backtest_annual,
    backtest_chiclayo,
    chiclayo_forecaster,
    fit_annual_model,
    forecast_district_material,
    load_chiclayo,
    load_composition,
    load_generation,
    load_material_map,
    score_annual,
    score_chiclayo,
)
from ayni.forecast.tetouan import SEED003_ANCHOR, load_tetouan, run_day_ahead, run_seed003_protocol
from ayni.settings import get_settings

app = typer.Typer(help="Supply forecasting: Peru districts, Chiclayo daily, seed 003's Tetouan task.",
                  no_args_is_help=True)
log = logging.getLogger(__name__)

DataDir = Annotated[Path | None, typer.Option(help="Shared data folder (default: AYNI_DATA_DIR).")]
ANNUAL_FILE, DAILY_FILE, META_FILE = "annual.npz", "chiclayo.npz", "forecaster.json"


def _data(data_dir: Path | None) -> Path:
    return data_dir or get_settings().data_dir


def _show(table: Table) -> None:
    Console().print(table)


@app.command()
def district(
    ubigeo: Annotated[str, typer.Option(help="District UBIGEO, e.g. 140101 (Chiclayo).")],
    material: Annotated[str, typer.Option(help="Material class (plastic), sub-material (PET) or MINAM column.")],
    weeks: Annotated[int, typer.Option(min=1, max=520, help="Number of weeks.")] = 8,
    capture_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share the platform captures.")] = 0.05,
    start: Annotated[str | None, typer.Option(help="First week's start date (YYYY-MM-DD).")] = None,
    data_dir: DataDir = None,
) -> None:
    """Expected kg per week of a material in one district (MINAM-based annual model)."""
    peru = _data(data_dir) / "peru"
    rows = forecast_district_material(
        generation=load_generation(peru / "waste_generation_district_year.csv"),
        composition=load_composition(peru / "waste_composition_district_year.csv"),
        material_map=load_material_map(peru / "composition_material_map.csv"),
        ubigeo=ubigeo, material=material, horizon_weeks=weeks, capture_rate=capture_rate,
        start=date.fromisoformat(start) if start else None,
    )
    table = Table(title=f"{material} in {ubigeo}, capture rate {capture_rate:.0%} (80 % interval of the annual level)")
    for col in ("week starting", "kg", "low", "high"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r.week_start.isoformat(), f"{r.kg:,.1f}", f"{r.kg_low:,.1f}", f"{r.kg_high:,.1f}")
    _show(table)


@app.command()
def peru(test_year: int = 2023, data_dir: DataDir = None) -> None:
    """Backtest: forecast one MINAM year per district from the earlier years; MAPE/MdAPE vs baselines."""
    gen = load_generation(_data(data_dir) / "peru" / "waste_generation_district_year.csv")
    table = Table(title=f"MINAM household waste {test_year}, per district")
    for col in ("variant", "chosen", "MAPE %", "MdAPE %", "last value MAPE/MdAPE", "trend MAPE/MdAPE", "coverage"):
        table.add_column(col)
    for label, fp in (("past only", False), (f"with INEI {test_year} population", True)):
        r = backtest_annual(gen, test_year=test_year, use_future_population=fp)
        s = r.summary
        table.add_row(label, r.chosen, f"{s['model']['mape']:.2f}", f"{s['model']['mdape']:.2f}",
                      f"{s['last_value']['mape']:.2f} / {s['last_value']['mdape']:.2f}",
                      f"{s['linear_trend']['mape']:.2f} / {s['linear_trend']['mdape']:.2f}",
                      f"{s['model']['coverage']:.1%}")
    _show(table)


@app.command()
def chiclayo(
    horizon: Annotated[list[int] | None, typer.Option(help="Horizon(s) in days.")] = None,
    refit_every: int = 28,
    data_dir: DataDir = None,
) -> None:
    """Rolling-origin backtest of Chiclayo's daily collection vs the weekly seasonal naive."""
    series = load_chiclayo(_data(data_dir) / "peru" / "chiclayo_collection_daily.csv")
    table = Table(title="Chiclayo daily collection (t/day), rolling origin from 2024-03-01")
    for col in ("horizon", "MAE", "naive MAE", "MASE", "naive MASE", "80 % coverage"):
        table.add_column(col, justify="right")
    for h in horizon or [7, 28]:
        s = backtest_chiclayo(series, horizon=h, refit_every=refit_every).summary()
        table.add_row(str(h), f"{s['mae']:.2f}", f"{s['naive_mae']:.2f}", f"{s['mase']:.3f}",
                      f"{s['naive_mase']:.3f}", f"{s['coverage']:.1%}")
    _show(table)


@app.command()
def tetouan(
    part: Annotated[str, typer.Option(help="'protocol' (seed 003's shuffled split) or 'day-ahead'.")] = "day-ahead",
    weather: Annotated[bool, typer.Option(help="Day-ahead only: use same-time observed weather.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Seed 003's task on the Tetouan data: its protocol, or the honest day-ahead forecast."""
    df = load_tetouan(_data(data_dir) / "tetouan" / "tetuan_city_power_consumption.csv")
    if part == "protocol":
        table = Table(title="Seed 003 protocol (shuffled 60/20/20) — interpolation, not forecasting")
        for col in ("zone", "val MAE", "anchor", "test MAE", "anchor", "fit s", "saved MB"):
            table.add_column(col, justify="right")
        for s in run_seed003_protocol(df):
            m = s.metrics
            table.add_row(s.zone, f"{m['val_mae']:.1f}", str(SEED003_ANCHOR["val_mae"][s.zone]),
                          f"{m['test_mae']:.1f}", str(SEED003_ANCHOR["test_mae"][s.zone]),
                          f"{s.fit_seconds:.1f}", f"{s.saved_bytes / 1e6:.2f}")
    elif part == "day-ahead":
        label = "same-time observed weather (not a real forecast)" if weather else "past only"
        table = Table(title=f"Day-ahead, Nov–Dec 2017, {label}")
        for col in ("zone", "chosen", "MAE", "day earlier", "week earlier", "80 % coverage"):
            table.add_column(col, justify="right")
        for s in run_day_ahead(df, exog_mode="same_time" if weather else "none"):
            m = s.metrics
            table.add_row(s.zone, s.model, f"{m['mae']:.1f}", f"{m['day_earlier_mae']:.1f}",
                          f"{m['week_earlier_mae']:.1f}", f"{m['coverage']:.1%}")
    else:
        raise typer.BadParameter("part must be 'protocol' or 'day-ahead'")
    _show(table)


@app.command()
def train(
    out: Annotated[Path, typer.Option(help="Model directory to write.")],
    test_year: Annotated[int | None, typer.Option(
        help="Annual model: fitted on the years before this one (default: AYNI_FORECASTER__TEST_YEAR).")] = None,
    horizon: Annotated[int, typer.Option(min=1, help="Chiclayo daily model: days ahead.")] = 7,
    first_origin: Annotated[str, typer.Option(help="Chiclayo: fitted on the days before this date.")]
    = "2024-03-01",
    data_dir: DataDir = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: AYNI_FORECASTER__SEED).")] = None,
) -> None:
    """Fit the annual district model (years < TEST_YEAR) and Chiclayo's daily model (days < FIRST_ORIGIN)."""
    configured = get_settings().forecaster
    test_year = configured.test_year if test_year is None else test_year
    seed = configured.seed if seed is None else seed
    peru = _data(data_dir) / "peru"
    gen = load_generation(peru / "waste_generation_district_year.csv")
    annual = fit_annual_model(gen[gen["year"] < test_year], random_state=seed)
    series = load_chiclayo(peru / "chiclayo_collection_daily.csv")
    daily = chiclayo_forecaster(horizon=horizon, random_state=seed).fit(series[series.index < first_origin])
    out.mkdir(parents=True, exist_ok=True)
    annual.save(out / ANNUAL_FILE)
    daily.save(out / DAILY_FILE)
    meta = {"test_year": test_year, "seed": seed, "horizon": horizon, "first_origin": first_origin,
            "annual": {"chosen": annual.chosen_, "cv_scores": annual.cv_scores_},
            "chiclayo": {"chosen": daily.chosen_, "cv_scores": daily.cv_scores_, "n_train": daily.n_train_}}
    (out / META_FILE).write_text(json.dumps(meta, indent=2, default=float) + "\n", encoding="utf-8")
    typer.echo(f"annual: {annual.chosen_} (years < {test_year}); Chiclayo {horizon}-day: {daily.chosen_} "
               f"({daily.n_train_} days) → {out}")


@app.command()
def evaluate(
    model_dir: Annotated[Path, typer.Option(help="Directory written by `ayni forecast train`.")],
    out: Annotated[Path, typer.Option(help="Write the metrics JSON here.")],
    data_dir: DataDir = None,
) -> None:
    """Score the saved models, without refitting: annual MAPE on the test year, Chiclayo MASE after the origin."""
    from ayni.forecast import TabularForecaster, ZoneForecaster

    meta = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
    peru = _data(data_dir) / "peru"
    annual = score_annual(TabularForecaster.load(model_dir / ANNUAL_FILE),
                          load_generation(peru / "waste_generation_district_year.csv"), test_year=meta["test_year"])
    daily = score_chiclayo(ZoneForecaster.load(model_dir / DAILY_FILE),
                           load_chiclayo(peru / "chiclayo_collection_daily.csv"), first_origin=meta["first_origin"])
    d = daily.summary()
    metrics = {"mase": d["mase"], "mape": annual.summary["model"]["mape"],
               "annual": {"test_year": meta["test_year"], "chosen": annual.chosen, "districts": len(annual.table),
                          **annual.summary},
               "chiclayo": {"horizon": meta["horizon"], "first_origin": meta["first_origin"], **d}}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"annual {meta['test_year']}: MAPE {metrics['mape']:.2f} % "
               f"(last value {annual.summary['last_value']['mape']:.2f} %); Chiclayo {meta['horizon']}-day: "
               f"MASE {d['mase']:.3f} (seasonal naive {d['naive_mase']:.3f}) → {out}")

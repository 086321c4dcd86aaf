"""Supply-forecasting benchmark (issue 9): Tetouan (seed 003's protocol and an honest day-ahead
forecast), MINAM 2023 per district, Chiclayo at 7 and 28 days, interval coverage everywhere.

    python -m benchmarks.forecast           # full run (~6–10 min on 2 cores)
    python -m benchmarks.forecast --quick   # smaller run (fewer refits, no seed-style forest)

Writes the ``forecast`` section of docs/benchmarks.md. Data: ``AYNI_DATA_DIR`` (default ../shared/data).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ayni.forecast import backtest_annual, backtest_chiclayo, load_chiclayo, load_generation
from ayni.forecast.drift import shifted_input_study, weather_shifts
from ayni.forecast.plot import forecast_png
from ayni.forecast.tetouan import (
    SEED003_ANCHOR,
    WEATHER,
    ZoneScore,
    clip_at_99th,
    day_ahead_origins,
    load_tetouan,
    run_day_ahead,
    run_seed003_protocol,
    seed003_features,
    seed003_split,
)
from ayni.mlops.drift import bin_fractions, feature_reference, psi
from ayni.settings import get_settings
from benchmarks._report import write_section

log = logging.getLogger("benchmarks.forecast")
DOCS = Path(__file__).resolve().parent.parent / "docs"
PROTOCOL_PARAMS = {"hist_gbm": {"max_iter": 500, "learning_rate": 0.1, "max_leaf_nodes": 63,
                                "min_samples_leaf": 5, "l2_regularization": 0.0}}


def _f(x: float, nd: int = 1) -> str:
    return f"{x:,.{nd}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def seed_style_forest(df: pd.DataFrame) -> dict[str, float]:
    """Fit one seed-003-style forest (200 full-depth trees, seed's 14 features) for zone 1: time, size."""
    from sklearn.ensemble import RandomForestRegressor

    data = clip_at_99th(df)
    X = seed003_features(data, extra=False).to_numpy()
    train, _, _ = seed003_split(len(data))
    start = time.perf_counter()
    forest = RandomForestRegressor(n_estimators=200, random_state=42, n_jobs=2)
    forest.fit(X[train], data["zone1"].to_numpy()[train])
    seconds = time.perf_counter() - start
    nbytes = sum(e.tree_.__getstate__()["nodes"].nbytes + e.tree_.__getstate__()["values"].nbytes
                 for e in forest.estimators_)
    return {"seconds": seconds, "bytes": float(nbytes)}


def tetouan_protocol(df: pd.DataFrame, quick: bool) -> tuple[str, list[ZoneScore], dict[str, Any]]:
    a = SEED003_ANCHOR
    runs = {"ours (seed's 14 features + 2 time features)": run_seed003_protocol(df, model_params=PROTOCOL_PARAMS)}
    runs["ours, seed's 14 features only"] = run_seed003_protocol(df, model_params=PROTOCOL_PARAMS,
                                                                  extra_features=False)
    rows = []
    for label, scores in runs.items():
        for s in scores:
            m = s.metrics
            rows.append([label, s.zone, f"{_f(m['val_mae'])} vs {a['val_mae'][s.zone]}",
                         f"{_f(m['test_mae'])} vs {a['test_mae'][s.zone]}",
                         f"{m['val_r2']:.3f} / {m['test_r2']:.3f}", _f(m["val_rmse"]), _f(m["test_rmse"]),
                         f"{m['test_coverage'] * 100:.1f} %", f"{s.fit_seconds:.1f}", f"{s.saved_bytes / 1e6:.2f}"])
    main = runs["ours (seed's 14 features + 2 time features)"]
    total_s = sum(s.fit_seconds for s in main)
    max_mb = max(s.saved_bytes for s in main) / 1e6
    md = ["### Tetouan (a): seed 003's protocol (shuffled 60/20/20, seed 42, targets clipped at each zone's "
          "99th percentile)", "",
          "Same protocol as seed 003 but dates parsed month-first (the file's real format). Anchor = seed 003's "
          "own code re-run on the UCI file (issue 9). A shuffled split lets models interpolate between "
          "neighbouring 10-minute readings: these figures are *not* forecasting skill; see (b).", "",
          _table(["model", "zone", "val MAE (ours vs anchor)", "test MAE (ours vs anchor)", "R² val / test",
                  "val RMSE", "test RMSE", "80 % PI coverage (test)", "fit s", "saved MB"], rows), "",
          f"Training, all three zones (model choice included): **{total_s:.1f} s** vs the anchor's 2,386 s "
          f"(**{2386 / total_s:.0f}× faster**; target ≥ 10×). Saved model: **{max_mb:.2f} MB** per zone "
          f"(compressed `.npz`, no pickle) vs ≈ 565 MB (**{565 / max_mb:.0f}× smaller**; target ≥ 50×)."]
    extra: dict[str, Any] = {"total_s": total_s, "max_mb": max_mb}
    if not quick:
        ref = seed_style_forest(df)
        extra["seed_forest"] = ref
        md += ["", f"Measured side by side on this machine: one seed-style forest (200 full-depth trees, "
               f"`n_jobs=2`, zone 1, the final refit only — seed 003 also runs a 5-fold grid of 12 settings) took "
               f"**{ref['seconds']:.1f} s** and holds **{ref['bytes'] / 1e6:.0f} MB** of tree arrays; our "
               f"zone 1 fit took {main[0].fit_seconds:.1f} s and saves to {main[0].saved_bytes / 1e6:.2f} MB."]
    return "\n".join(md), main, extra


def tetouan_day_ahead(df: pd.DataFrame, quick: bool) -> tuple[str, dict[str, list[ZoneScore]]]:
    a = SEED003_ANCHOR
    variants = {"past only": "none", "same-time observed weather (not a real forecast)": "same_time"}
    results = {label: run_day_ahead(df, exog_mode=mode) for label, mode in variants.items()}
    rows = []
    for label, scores in results.items():
        for s in scores:
            m = s.metrics
            best = min(m["day_earlier_mae"], m["week_earlier_mae"])
            verdict = "beats" if m["mae"] < best else "does not beat"
            rows.append([label, s.zone, s.model, f"**{_f(m['mae'])}**", _f(m["day_earlier_mae"]),
                         _f(m["week_earlier_mae"]), _f(a["time_ordered_rf_mae"][s.zone]),
                         f"{(1 - m['mae'] / best) * 100:+.1f} % ({verdict})",
                         f"{m['coverage'] * 100:.1f} %", f"{s.fit_seconds:.1f}"])
    md = ["### Tetouan (b): time-ordered day-ahead forecast", "",
          "Train 2017-01-01…10-31; every midnight from 11-01 to 12-30 forecast the next 144 ten-minute steps "
          "from the past only (60 days × 144 steps per zone), raw (unclipped) targets. The model per zone is "
          "chosen by expanding-window CV on the training months among seasonal naive (day, week), ridge, "
          "random forest and gradient boosting.", "",
          _table(["variant", "zone", "chosen", "MAE", "day earlier", "week earlier",
                  "seed 003 RF (same-time weather, no lags)", "vs better naive", "80 % PI coverage", "fit s"],
                 rows)]
    return "\n".join(md), results


def _max_psi(reference: pd.DataFrame, current: pd.DataFrame) -> float:
    """Largest PSI over the weather columns (``ayni.mlops.drift``), current vs reference rows."""
    out = 0.0
    for col in WEATHER:
        ref = feature_reference(reference[col].to_numpy())
        out = max(out, psi(ref.fractions, bin_fractions(current[col].to_numpy(), ref.edges)))
    return out


def tetouan_drift(df: pd.DataFrame, protocol: list[ZoneScore], day_ahead: list[ZoneScore]) -> str:
    data = clip_at_99th(df)
    X = seed003_features(data)
    train, _, test = seed003_split(len(data))
    shifts = weather_shifts()
    psi_rows = [["none", f"{_max_psi(X.iloc[train], X.iloc[test]):.3f}"]]
    psi_rows += [[name, f"{_max_psi(X.iloc[train], shift(X.iloc[test])):.3f}"] for name, shift in shifts.items()]
    rows = []
    for s in protocol:
        est = s.estimator
        frame = X.iloc[test].copy()

        def predict(inputs: pd.DataFrame, est: Any = est) -> np.ndarray:
            inputs = inputs.copy()
            inputs["temp_x_hum"] = inputs["temperature"] * inputs["humidity"]
            inputs["radiation_total"] = inputs["general_diffuse"] + inputs["diffuse"]
            return np.asarray(est.predict(inputs))

        study = shifted_input_study(predict, frame, data[s.zone].to_numpy()[test], shifts)
        rows += [["seed protocol, test split", s.zone, r.scenario, _f(r.mae), f"{r.mae_change_pct:+.2f} %",
                  f"{r.rmse_change_pct:+.2f} %"] for r in study.itertuples()]
    n_train, origins = day_ahead_origins(df)
    index = pd.DatetimeIndex(df.index)
    for s in day_ahead:
        est = s.estimator
        y = df[s.zone].to_numpy(dtype=np.float64)
        truth = y[(origins[:, None] + np.arange(144)[None, :]).ravel()]

        def predict_da(weather: pd.DataFrame, est: Any = est, y: np.ndarray = y) -> np.ndarray:
            return np.asarray(est.predict_origins(y, index, origins, weather)["mean"])

        study = shifted_input_study(predict_da, df[list(WEATHER)], truth, shifts)
        rows += [["day-ahead, same-time weather", s.zone, r.scenario, _f(r.mae), f"{r.mae_change_pct:+.2f} %",
                  f"{r.rmse_change_pct:+.2f} %"] for r in study.itertuples()]
    return "\n".join(["### Tetouan: robustness to shifted weather inputs (seed 003's drift study)", "",
                      "Seed 003 reported MAE +1.42 / +3.15 / +7.37 % under its (unspecified) drift. Here: "
                      "the same fitted models scored with weather inputs shifted as listed. How large each "
                      "shift is, as the MLOps drift module measures it (largest PSI over the five weather "
                      "columns, test split vs training split; 0.2 is the usual alarm level):", "",
                      _table(["shift", "max PSI"], psi_rows), "",
                      _table(["model", "zone", "shift", "MAE", "MAE change", "RMSE change"], rows)])


def minam(data_dir: Any) -> tuple[str, dict[str, Any]]:
    gen = load_generation(data_dir / "peru" / "waste_generation_district_year.csv")
    rows, out = [], {}
    for label, fp in (("past only", False), ("with INEI 2023 urban population (exogenous)", True)):
        r = backtest_annual(gen, test_year=2023, use_future_population=fp)
        out[label] = r
        sm = r.summary
        rows.append([label, r.chosen, f"**{sm['model']['mape']:.2f}**", f"**{sm['model']['mdape']:.2f}**",
                     f"{sm['last_value']['mape']:.2f}", f"{sm['last_value']['mdape']:.2f}",
                     f"{sm['linear_trend']['mape']:.2f}", f"{sm['linear_trend']['mdape']:.2f}",
                     f"{sm['model']['coverage'] * 100:.1f} %", str(len(r.table))])
    md = ["### MINAM: household waste 2023 per district, forecast from 2014–2022", "",
          "Target `dom_t_year` (t/year). Model = growth model over districts, chosen by expanding-window CV "
          "over target years 2021–2022 (training target years from 2019: MINAM's 2018 figures are a level "
          "break) among last value, linear trend, last year's urban-population growth, ridge and gradient "
          "boosting. Baselines use 2014–2022.", "",
          _table(["variant", "chosen", "MAPE %", "MdAPE %", "last value MAPE", "last value MdAPE",
                  "linear trend MAPE", "linear trend MdAPE", "80 % PI coverage", "districts"], rows)]
    return "\n".join(md), out


def chiclayo(data_dir: Any, quick: bool) -> tuple[str, dict[int, Any]]:
    series = load_chiclayo(data_dir / "peru" / "chiclayo_collection_daily.csv")
    rows, out = [], {}
    for h in (7, 28):
        r = backtest_chiclayo(series, horizon=h, refit_every=56 if quick else 28)
        out[h] = r
        s = r.summary()
        rows.append([str(h), f"**{_f(s['mae'], 2)}**", _f(s["naive_mae"], 2), f"**{s['mase']:.3f}**",
                     f"{s['naive_mase']:.3f}", f"{(1 - s['mae'] / s['naive_mae']) * 100:+.1f} %",
                     f"{s['coverage'] * 100:.1f} %", str(int(s["n"])),
                     ", ".join(f"{k}×{r.models.count(k)}" for k in sorted(set(r.models)))])
    png = _chiclayo_png(series, out[28])
    md = ["### Chiclayo: daily collected tonnes, rolling origin", "",
          "Origins every day from 2024-03-01 (last origin leaves a full horizon before 2024-10-31); the model "
          f"is refitted on the past every {56 if quick else 28} days; MASE scale = in-sample weekly seasonal-naive "
          "MAE before 2024-03-01. Seasonal naive = same weekday of the last observed week.", "",
          _table(["horizon (days)", "MAE t/day", "seasonal naive MAE", "MASE", "naive MASE", "vs naive",
                  "80 % PI coverage", "forecasts", "models chosen at refits"], rows), "",
          f"![Chiclayo, 28-day forecast from the last origin, 80 % band, truth in black]({png})"]
    return "\n".join(md), out


def _chiclayo_png(series: pd.Series, result: Any) -> str:
    """Draw the last 28-day rolling-origin forecast (docs/forecasting_chiclayo.png); returns the doc-relative path."""
    f = result.forecasts
    last = f[f["origin"] == f["origin"].max()].set_index("timestamp")
    origin = int(last["origin"].iloc[0])
    png = forecast_png(series.iloc[origin - 120:origin], last[["mean", "lower", "upper"]],
                       truth=series.iloc[origin:origin + 28],
                       title="Chiclayo collected t/day: 28-day forecast (blue, 80 % band) vs truth (black)")
    DOCS.joinpath("forecasting_chiclayo.png").write_bytes(png)
    return "forecasting_chiclayo.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller run: fewer refits, no seed-style forest")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    data_dir = get_settings().data_dir
    start = time.perf_counter()
    df = load_tetouan(data_dir / "tetouan" / "tetuan_city_power_consumption.csv")
    md_a, protocol, _ = tetouan_protocol(df, args.quick)
    log.info("tetouan protocol done (%.0f s)", time.perf_counter() - start)
    md_b, day_ahead = tetouan_day_ahead(df, args.quick)
    log.info("tetouan day-ahead done (%.0f s)", time.perf_counter() - start)
    md_d = tetouan_drift(df, protocol, day_ahead["same-time observed weather (not a real forecast)"])
    md_m, _ = minam(data_dir)
    md_c, _ = chiclayo(data_dir, args.quick)
    total = time.perf_counter() - start
    body = "\n\n".join([
        "## Supply forecasting" + (" (quick run)" if args.quick else ""),
        "Issue 9. Nominal prediction intervals are 80 % everywhere (split-conformal on out-of-fold "
        "residuals); the measured coverage is in each table. Method and caveats: docs/forecasting.md.",
        md_a, md_b, md_d, md_m, md_c, f"Whole run: {total:.0f} s.",
    ])
    print(body)
    if not args.no_write:
        write_section("forecast", body, command="python -m benchmarks.forecast" + (" --quick" if args.quick else ""))


if __name__ == "__main__":
    main()

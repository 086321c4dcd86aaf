"""``ayni`` MLOps commands: registry, register, evaluate, promote, rollback, retrain, drift-report, validate,
tiny-data, subsample-manifest.

Each command is thin: it reads files or the database (through ``ayni.services``), calls ``ayni.mlops`` and
prints what happened. The registry is MLflow on ``AYNI_VAR_DIR/mlflow`` unless ``MLFLOW_TRACKING_URI``
points at a server. Heavy imports (MLflow, PyTorch) happen inside the commands, never when the CLI starts.
Exit codes: 0 done (a refused challenger is a normal outcome, unless ``--strict``), 1 refused with
``--strict``, drift with ``--fail-on-drift`` or a rejected data batch, 2 bad usage.
"""

from __future__ import annotations

import functools
import json
import logging
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from ayni.commands._mlops_io import (
    drift_for,
    empty_feedback,
    flat_metrics,
    flat_params,
    job_metrics,
    plots,
    publish_drift,
    read_feedback,
)
from ayni.errors import AyniError
from ayni.settings import Settings, get_settings

if TYPE_CHECKING:
    import pandas as pd

    from ayni.mlops.feedback import EvalSet
    from ayni.mlops.registry import ModelRegistry
    from ayni.services.mlops_models import ModelSpec

app = typer.Typer(help="MLOps: model registry, promotion gate, rollback, retraining, drift, data validation.",
                  no_args_is_help=True)
log = logging.getLogger(__name__)

ModelArg = Annotated[str, typer.Argument(help="Registered model name, e.g. vision, ranker, forecaster, tiny.")]
BaseOpt = Annotated[Path | None, typer.Option(
    help="Base data (tiny: CSV; vision: split manifest; ranker: interaction log; forecaster: MINAM generation CSV).")]
MarginOpt = Annotated[float | None, typer.Option(help="Minimum improvement of the gate metric (absolute).")]
StrictOpt = Annotated[bool, typer.Option(help="Exit 1 when the challenger is refused.")]


P = ParamSpec("P")
R = TypeVar("R")


def _friendly(func: Callable[P, R]) -> Callable[P, R]:
    """Print an ``AyniError`` as one line a person can act on (exit 1) instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except AyniError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(1) from exc

    return wrapper


def _settings() -> Settings:
    from ayni.observability.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, json_lines=False)
    # absolute, because base tables hold absolute photo paths (AYNI_DATA_DIR may be relative, as in dvc.yaml)
    return settings.model_copy(update={"data_dir": settings.data_dir.resolve()})


def _registry(settings: Settings) -> ModelRegistry:
    from ayni.mlops.registry import ModelRegistry, RegistryConfig

    return ModelRegistry(RegistryConfig.from_env(settings.var_dir))


def _mlops_dir(settings: Settings, model: str) -> Path:
    return settings.var_dir / "mlops" / model


def _spec(settings: Settings, model: str, base: Path | None, margin: float | None) -> ModelSpec:
    from ayni.services.mlops_models import spec_for

    return spec_for(model, var_dir=settings.var_dir, data_dir=settings.data_dir, base_path=base, margin=margin,
                    ranker=settings.ranker, forecaster=settings.forecaster)


def _eval_set(settings: Settings, model: str, base: pd.DataFrame) -> EvalSet:
    from ayni.mlops.feedback import freeze_eval_set

    return freeze_eval_set(base, _mlops_dir(settings, model) / "eval_set.csv")


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@app.command("registry")
@_friendly
def registry_list(model: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
                  as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List registered models and versions: aliases, status, gate reason, data version, metrics."""
    from rich.console import Console
    from rich.table import Table

    from ayni.services.mlops_models import list_versions

    rows: list[dict[str, Any]] = list_versions(_registry(_settings()), model)  # type: ignore[assignment]
    if as_json:
        _echo_json(rows)
        return
    table = Table("model", "version", "aliases", "status", "data", "key metrics", "reason", title="Model registry")
    for r in rows:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(r["metrics"].items())
                            if not k.startswith("cv_") and any(t in k for t in ("accuracy", "mae", "mase", "ndcg")))
        table.add_row(r["name"], str(r["version"]), ",".join(r["aliases"]), r["status"] or "", r["data_version"] or "",
                      metrics[:60], (r["reason"] or "")[:70])
    Console().print(table)


@app.command()
@_friendly
def register(model: ModelArg,
             model_dir: Annotated[Path, typer.Option(help="A trained model directory (plain files, no pickle).")],
             metrics: Annotated[list[Path] | None, typer.Option(help="Metrics JSON files (flat numbers are logged).")] = None,
             data: Annotated[list[Path] | None, typer.Option(help="Inputs whose hash is the data version.")] = None,
             params: Annotated[list[Path] | None, typer.Option(help="Params YAML/JSON files to log.")] = None,
             alias: Annotated[str, typer.Option(help="Alias for the new version.")] = "challenger",
             base: BaseOpt = None,
             out: Annotated[Path | None, typer.Option(help="Write the new version as JSON here.")] = None) -> None:
    """Log a model directory built by a pipeline stage as a run and register it (as the challenger)."""
    from ayni.mlops.data_version import hash_files

    settings = _settings()
    reg = _registry(settings)
    metrics, data, params = metrics or [], data or [model_dir], params or []
    with tempfile.TemporaryDirectory() as tmp:
        staged = _with_reference(settings, model, model_dir, base, Path(tmp) / "model")
        run_id = reg.log_run(model_name=model, model_dir=staged, data_version=hash_files(data),
                             params=flat_params(params), metrics=flat_metrics(metrics),
                             plots=plots(model_dir), artifacts=[p for p in metrics if p.is_file()])
    mv = reg.register(model_name=model, run_id=run_id, alias=alias or None)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(mv.as_dict(), indent=2, default=str) + "\n", encoding="utf-8")
    typer.echo(f"registered {model} version {mv.version} as {alias} (run {run_id}, data {mv.data_version})")


def _with_reference(settings: Settings, model: str, model_dir: Path, base: Path | None, staging: Path) -> Path:
    """A model built by a pipeline stage gets its drift reference when it has none: in a copy at ``staging``,
    so that the stage's output (a DVC-tracked directory) is never changed by registering it."""
    import shutil

    from ayni.mlops.drift import REFERENCE_FILE
    from ayni.services.mlops_models import model_specs

    spec = model_specs(var_dir=settings.var_dir, data_dir=settings.data_dir, base_path=base,
                       ranker=settings.ranker, forecaster=settings.forecaster).get(model)
    if (model_dir / REFERENCE_FILE).is_file() or spec is None or spec.reference is None:
        return model_dir
    shutil.copytree(model_dir, staging)
    spec.reference(staging, spec.base())
    return staging


@app.command("evaluate")
@_friendly
def evaluate_cmd(model: ModelArg,
                 model_dir: Annotated[Path, typer.Option(help="A trained model directory.")],
                 out: Annotated[Path, typer.Option(help="Write the metrics JSON here.")],
                 base: BaseOpt = None) -> None:
    """Score a model directory on the base data's test rows and run its behavioural checks (a pipeline stage).

    The same ``Trainer.evaluate`` / ``checks`` the gate uses, so the stage's metrics are the gate's."""
    from ayni.services.mlops_models import write_json

    settings = _settings()
    spec = _spec(settings, model, base, None)
    frame = spec.base()
    test = frame[frame["split"] == "test"].reset_index(drop=True)
    if test.empty:
        raise typer.BadParameter(f"the base data of {model} has no test rows")
    trainer = spec.trainer()
    metrics = trainer.evaluate(model_dir, test)
    checks = trainer.checks(model_dir, test)
    write_json(out, {"test": {**metrics, "n": len(test)},
                     "checks": {c.name: {"passed": c.passed, "value": c.value} for c in checks}})
    typer.echo(f"{model}: " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items())
               + f" on {len(test)} test rows; checks " + ", ".join(f"{c.name}: {'ok' if c.passed else 'FAILED'}"
                                                          for c in checks) + f" → {out}")


@app.command()
@_friendly
def promote(model: ModelArg,
            version: Annotated[int | None, typer.Option(help="Version to consider (default: the challenger).")] = None,
            base: BaseOpt = None, margin: MarginOpt = None, strict: StrictOpt = False,
            out: Annotated[Path | None, typer.Option(help="Write the decision as JSON here.")] = None) -> None:
    """Put the challenger through the gate: promoted only if it beats the champion on the frozen set.

    The frozen set is the window of AYNI_RANKER__TEST_WEEKS / AYNI_FORECASTER__TEST_YEAR (first gate only)."""
    from ayni.services.mlops_models import promote_model

    settings = _settings()
    outcome = promote_model(_registry(settings), model, var_dir=settings.var_dir, data_dir=settings.data_dir,
                            version=version, margin=margin, base_path=base, ranker=settings.ranker,
                            forecaster=settings.forecaster)
    verdict = "PROMOTED" if outcome.decision.promote else "REFUSED"
    typer.echo(f"{model} v{outcome.challenger.version}: {verdict} — {outcome.decision.reason}")
    if out:
        from ayni.services.mlops_models import write_json

        write_json(out, {"version": outcome.challenger.version, **outcome.decision.as_dict()})
    if strict and not outcome.decision.promote:
        raise typer.Exit(1)


@app.command()
@_friendly
def rollback(model: ModelArg,
             reason: Annotated[str, typer.Option(help="Why (kept on the version).")] = "manual rollback") -> None:
    """Restore the previous champion in one step."""
    from ayni.services.mlops_models import rollback_model

    mv = rollback_model(_registry(_settings()), model, reason=reason)
    typer.echo(f"{model}: champion is version {mv.version} again ({reason})")


@app.command("retrain")
@_friendly
def retrain_cmd(model: Annotated[list[str] | None, typer.Argument(
                    help="Models to retrain (default: every wired model that has a champion).")] = None,
                base: BaseOpt = None, margin: MarginOpt = None, strict: StrictOpt = False,
                feedback: Annotated[Path | None, typer.Option(help="Feedback CSV instead of the database.")] = None,
                no_feedback: Annotated[bool, typer.Option(help="Retrain on the base data alone.")] = False,
                since_days: Annotated[int | None, typer.Option(help="Only feedback from the last N days.")] = None,
                report: Annotated[Path | None, typer.Option(help="Write the outcome as JSON here.")] = None) -> None:
    """Base data + feedback → a challenger → evaluation on the frozen set → the gate (the weekly job).

    Seed and held-out window: AYNI_RANKER__SEED / __TEST_WEEKS, AYNI_FORECASTER__SEED / __TEST_YEAR."""
    from ayni.mlops.retrain import retrain
    from ayni.services.mlops_models import model_specs

    settings = _settings()
    reg = _registry(settings)
    wired = model_specs(var_dir=settings.var_dir, data_dir=settings.data_dir)
    names = model or [n for n in reg.models() if n in wired and reg.champion(n) is not None]
    if not names:
        typer.echo("nothing to retrain: no wired model has a champion yet (name one to bootstrap it)")
        return
    refused = []
    with job_metrics("retrain", settings):
        for name in names:
            spec = _spec(settings, name, base, margin)
            fb = empty_feedback() if no_feedback else read_feedback(settings, feedback, since_days, spec)
            base_frame = spec.base()
            result = retrain(reg, spec.trainer(), model_name=name, base=base_frame, feedback=fb,
                             eval_set=_eval_set(settings, name, base_frame), gate=spec.gate,
                             work_dir=_mlops_dir(settings, name) / "work", build=spec.training_set,
                             report_path=report if report and len(names) == 1 else _mlops_dir(settings, name)
                             / "retrain.json")
            _echo_json(result.as_dict())
            refused += [] if result.promoted else [name]
    if strict and refused:
        raise typer.Exit(1)


@app.command("drift-report")
@_friendly
def drift_report(model: ModelArg,
                 current: Annotated[Path | None, typer.Option(help="Window as CSV (default: the database).")] = None,
                 window_days: Annotated[int, typer.Option(help="Database window: the last N days.")] = 7,
                 out: Annotated[Path | None, typer.Option(help="HTML report (default var/mlops/MODEL/drift.html).")]
                 = None,
                 fail_on_drift: Annotated[bool, typer.Option(help="Exit 1 when any signal drifts.")] = False) -> None:
    """Compare a window of production inputs with the champion's reference; HTML report + Prometheus gauges."""
    from ayni.mlops._drift_html import render
    from ayni.mlops.drift import DriftReference

    settings = _settings()
    reg = _registry(settings)
    champion = reg.champion(model)
    if champion is None:
        raise typer.BadParameter(f"{model} has no champion, so there is no reference to compare with.")
    model_dir = reg.download(champion, _mlops_dir(settings, model) / "cache")
    reference = DriftReference.load(model_dir)
    report = drift_for(settings, model, reference, current, window_days, model_dir=model_dir)
    target = out or _mlops_dir(settings, model) / "drift.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(report, title=f"Drift — {model} v{champion.version}"), encoding="utf-8")
    target.with_suffix(".json").write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    publish_drift(report)
    typer.echo(f"{model} v{champion.version}: {len(report.signals)} signals over {report.n_current} samples; "
               f"drifted: {', '.join(report.drifted_signals()) or 'none'} → {target}")
    if fail_on_drift and report.drifted:
        raise typer.Exit(1)


@app.command()
@_friendly
def validate(table: Annotated[str, typer.Argument(help="interactions, feedback, districts or waste_generation.")],
             path: Annotated[Path, typer.Argument(help="CSV file to check.")],
             out: Annotated[Path | None, typer.Option(help="Write the report JSON here.")] = None) -> None:
    """Validate a CSV batch against its schema; a bad batch exits 1 with the report."""
    import pandas as pd

    from ayni.errors import DataValidationError
    from ayni.mlops import validation

    schemas = {"interactions": validation.INTERACTIONS, "feedback": validation.FEEDBACK,
               "districts": validation.DISTRICTS, "waste_generation": validation.GENERATION}
    if table not in schemas:
        raise typer.BadParameter(f"unknown table {table}; one of {', '.join(schemas)}")
    _settings()
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.EmptyDataError) as exc:
        raise typer.BadParameter(f"cannot read {path} as CSV: {exc}") from exc
    try:
        _, rep = validation.validate(frame, schemas[table])
        result: dict[str, Any] = {"ok": True, **rep.as_dict()}
    except DataValidationError as exc:
        result = {"ok": False, "error": exc.message, **exc.details}
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    typer.echo(f"{table}: {result.get('rows_accepted', 0)} of {result.get('rows_in', '?')} rows accepted"
               + ("" if result["ok"] else f" — REFUSED: {result['error']}"))
    if not result["ok"]:
        raise typer.Exit(1)


@app.command("tiny-data")
@_friendly
def tiny_data(out: Annotated[Path, typer.Option(help="Where to write the base CSV.")],
              feedback_out: Annotated[Path | None, typer.Option(
                  help="Also write corrections of the noisy labels here (a feedback CSV).")] = None,
              rows: Annotated[int, typer.Option(help="Examples.")] = 300,
              noise: Annotated[float, typer.Option(help="Share of training labels flipped.")] = 0.2,
              seed: Annotated[int, typer.Option(help="Random seed.")] = 0) -> None:
    """Write a small synthetic base table for the ``tiny`` model (CI and the DVC tiny profile)."""
    import hashlib

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    classes = np.array(["glass", "paper", "metal"])
    truth = classes[np.arange(rows) % 3]
    X = np.eye(4)[np.arange(rows) % 3] * 2.5 + rng.normal(0, 1, (rows, 4))
    split = np.where(np.arange(rows) % 5 == 0, "test", "train")
    flip = (split == "train") & (rng.random(rows) < noise)
    labels = np.where(flip, classes[(np.arange(rows) + 1) % 3], truth)
    keys = [hashlib.sha256(f"tiny-{seed}-{i}".encode()).hexdigest() for i in range(rows)]
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(4)])
    frame.insert(0, "label", labels)
    frame.insert(0, "key", keys)
    frame["split"] = split
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False)
    typer.echo(f"wrote {rows} rows ({int(flip.sum())} noisy labels) to {out}")
    if feedback_out is not None:
        fixed = np.flatnonzero(flip)
        fb = empty_feedback().reindex(range(len(fixed)))
        fb["id"], fb["kind"], fb["confidence"] = np.arange(1, len(fixed) + 1), "classification_correction", 0.5
        fb["photo_sha256"] = [keys[i] for i in fixed]
        fb["predicted_material"], fb["corrected_material"] = labels[fixed], truth[fixed]
        fb["created_at"] = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
        feedback_out.parent.mkdir(parents=True, exist_ok=True)
        fb.to_csv(feedback_out, index=False)
        typer.echo(f"wrote {len(fb)} corrections to {feedback_out}")


@app.command("subsample-manifest")
@_friendly
def subsample_manifest(manifest: Annotated[Path, typer.Argument(help="Split manifest (file, class, split, group).")],
                       out: Annotated[Path, typer.Option(help="Where to write the subset.")],
                       per_class: Annotated[int, typer.Option(min=0, help="Images per class per split (0 = all).")],
                       seed: Annotated[int, typer.Option(help="Random seed.")] = 0) -> None:
    """Keep at most N images per class in each split, whole near-duplicate groups first (the tiny profile)."""
    import pandas as pd

    from ayni.mlops.sampling import stratified_subsample

    frame = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    subset = stratified_subsample(frame, n=per_class, strata=["split", "class"], key="sha256", cluster="group",
                                  random_state=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    subset.to_csv(out, index=False)
    counts = subset.groupby("split").size().to_dict()
    typer.echo(f"kept {len(subset)} of {len(frame)} images ({', '.join(f'{k} {v}' for k, v in counts.items())}) "
               f"→ {out}")


if __name__ == "__main__":  # `python -m ayni.commands.mlops …` (the DVC stages use this, whatever the mount)
    app()

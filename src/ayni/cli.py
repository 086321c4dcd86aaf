"""The ``ayni`` command line: serve, database, reference data, demo community, users, and the ML commands."""

from __future__ import annotations

import logging
import os
import shutil
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ayni.settings import Settings, get_settings

app = typer.Typer(help="Ayni: community waste to income in Peru.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema and backups.", no_args_is_help=True)
data_app = typer.Typer(help="Reference data (districts, MINAM tables).", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(data_app, name="data")
app.add_typer(users_app, name="users")
console = Console()


def _mount() -> None:
    """The ML and operations command groups, each defined next to its code in ``ayni.commands``."""
    from ayni.commands import db as db_commands
    from ayni.commands import forecast, matching, mlops, vision

    db_app.command("backup")(db_commands.backup)
    db_app.command("restore")(db_commands.restore)
    app.add_typer(vision.app, name="vision")
    app.add_typer(forecast.app, name="forecast")
    app.add_typer(matching.app, name="matching")
    app.add_typer(mlops.app, name="mlops")
    train_app = typer.Typer(help="Train a model (same as 'ayni vision train' …).", no_args_is_help=True)
    train_app.command("vision")(vision.train)
    app.add_typer(train_app, name="train")
    evaluate_app = typer.Typer(help="Evaluate a model.", no_args_is_help=True)
    evaluate_app.command("vision")(vision.evaluate)
    app.add_typer(evaluate_app, name="evaluate")
    drift_app = typer.Typer(help="Drift of the served models' inputs.", no_args_is_help=True)
    drift_app.command("report")(mlops.drift_report)
    app.add_typer(drift_app, name="drift")
    app.command("simulate")(matching.simulate)
    app.command("promote")(mlops.promote)
    app.command("rollback")(mlops.rollback)
    app.command("retrain")(mlops.retrain_cmd)


_mount()


def _settings() -> Settings:
    from ayni.observability.logging import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, json_lines=False)
    return settings


def _factory(settings: Settings):  # type: ignore[no-untyped-def]
    from ayni.storage.engine import make_engine, make_session_factory

    return make_session_factory(make_engine(settings.database_url))


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from ayni.storage.engine import make_engine
    from ayni.storage.migrate import current_revision, upgrade

    settings = _settings()
    before = current_revision(make_engine(settings.database_url))
    upgrade(settings.database_url, revision)
    after = current_revision(make_engine(settings.database_url))
    msg = "already up to date" if before == after else f"upgraded {before or 'empty'} → {after}"
    console.print(f"[green]Database[/] {_safe_url(settings.database_url)}: {msg}.")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. 'base' or '-1'.")) -> None:
    """Revert migrations down to REVISION."""
    from ayni.storage.migrate import downgrade

    settings = _settings()
    downgrade(settings.database_url, revision)
    console.print(f"Database {_safe_url(settings.database_url)} downgraded to {revision}.")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@data_app.command("load")
def data_load(force: Annotated[bool, typer.Option(help="Reload even if already loaded.")] = False) -> None:
    """Validate and load districts and the MINAM generation/composition tables from AYNI_DATA_DIR."""
    from ayni.services.reference_data import load_reference_data
    from ayni.storage.engine import transaction

    settings = _settings()
    with transaction(_factory(settings)) as session:
        result = load_reference_data(session, settings.data_dir, force=force)
    table = Table(
        "table", "rows in", "accepted", "rejected", "why rejected", title=f"Reference data from {settings.data_dir}"
    )
    for rep in result.reports:
        why = ", ".join(f"{k} ×{v}" for k, v in rep.reasons().items()) or "-"
        table.add_row(rep.table, str(rep.rows_in), str(rep.rows_accepted), str(rep.rows_rejected), why)
    console.print(table)
    for rep in result.reports:
        for row, reason in rep.rejected[:5]:
            console.print(f"  {rep.table} row {row + 2} (line in file): {reason}")
    if result.skipped:
        console.print("Already loaded with the same row counts: nothing written (use --force to reload).")
    else:
        console.print("Loaded: " + ", ".join(f"{k} {v:,}" for k, v in result.loaded.items()))


@app.command()
def demo() -> None:
    """Create the demo community (idempotent) and print its log-ins."""
    from ayni.services.demo import build_demo
    from ayni.services.matching import emission_factors
    from ayni.storage.engine import transaction

    settings = _settings()
    with transaction(_factory(settings)) as session:
        result = build_demo(session, demo=settings.demo, auth=settings.auth,
                            factors=emission_factors(settings.data_dir))
    verb = "Created" if result.created else "Already there:"
    console.print(
        f"{verb} demo community in {settings.demo.province.title()}: "
        + ", ".join(f"{v} {k}" for k, v in result.counts.items())
    )
    table = Table("role", "e-mail", "password", title="Demo log-ins")
    for role, email in result.logins.items():
        table.add_row(role, email, settings.demo.password)
    console.print(table)


@users_app.command("create")
def users_create(
    email: str,
    role: str = typer.Option(..., help="producer, partner, admin or analyst"),
    name: str = typer.Option(..., help="Display name"),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Create a user of any role (idempotent: an existing e-mail is reported, not changed)."""
    from sqlalchemy import select

    from ayni.domain.lifecycle import Role
    from ayni.services.auth import create_user, normalise_email
    from ayni.storage.engine import transaction
    from ayni.storage.tables import User

    settings = _settings()
    with transaction(_factory(settings)) as session:
        if session.scalar(select(User.id).where(User.email == normalise_email(email))) is not None:
            console.print(f"User {email} already exists; nothing changed.")
            return
        user = create_user(
            session, email=email, password=password, role=Role(role), display_name=name, settings=settings.auth
        )
        console.print(f"Created {user.role} {user.email} (id {user.id}).")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    http: Annotated[str, typer.Option(help="HTTP parser: auto (httptools when installed), httptools or h11")] = "auto",
    loop: Annotated[str, typer.Option(help="Event loop: auto (uvloop when installed), uvloop or asyncio")] = "auto",
    admit: Annotated[int | None, typer.Option(
        help="Requests inside the app at once per worker, the others queue in order; 0 = no limit "
             "(default: AYNI_SERVER__ADMIT, 8)")] = None,
) -> None:
    """Serve the API and web app (on httptools and uvloop, both dependencies; ``--http h11 --loop asyncio``
    for uvicorn's pure-Python ones)."""
    import uvicorn

    if admit is not None:  # the app (in each worker) reads its settings from the environment
        os.environ["AYNI_SERVER__ADMIT"] = str(admit)
        get_settings.cache_clear()
    settings = _settings()
    from ayni.observability.logging import configure_logging

    configure_logging(settings.log_level, json_lines=settings.log_json)
    h, p = host or settings.server.host, port or settings.server.port
    logging.getLogger("ayni").info("serving on http://%s:%s", h, p)
    console.print(f"Ayni is serving on [bold]http://{h}:{p}[/] (API docs: http://{h}:{p}/docs)")
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # several processes share one /metrics view through a fresh directory of per-process files
        mp_dir = settings.var_dir / f"prometheus-multiproc-{os.getpid()}"
        shutil.rmtree(mp_dir, ignore_errors=True)
        mp_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(mp_dir)
    uvicorn.run("ayni.api.app:create_app", factory=True, host=h, port=p, workers=workers, log_config=None,
                http=http, loop=loop)


def main() -> None:
    """Entry point: errors Ayni raises on purpose are shown as one readable line, not a traceback."""
    import sys

    import click

    from ayni.errors import AyniError

    try:
        app(standalone_mode=False)
    except AyniError as exc:
        console.print(f"[red]Error:[/] {exc.message}")
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(1)


@app.command()
def allocate(region: Annotated[str, typer.Argument(help="UBIGEO prefix: department (2), province (4) or district (6)")],
             apply: Annotated[bool, typer.Option(help="Turn the optimal assignment into proposed matches.")] = False,
             time_limit: Annotated[float, typer.Option(help="Solver time limit, seconds.")] = 10.0,
             admin_email: Annotated[str, typer.Option(help="Administrator running it (audit log).")] = "admin@demo.ayni.pe",
             ) -> None:
    """Assign all open listings of a region to partners (exact optimum vs greedy baselines)."""
    from sqlalchemy import select

    from ayni.services.matching import allocate as run
    from ayni.storage.engine import transaction
    from ayni.storage.tables import User

    settings = _settings()
    with transaction(_factory(settings)) as session:
        admin = session.scalar(select(User).where(User.email == admin_email))
        if admin is None:
            raise typer.BadParameter(f"No user {admin_email}; create one with 'ayni users create'.")
        report = run(session, admin, region=region, apply=apply, time_limit_s=time_limit)
    table = Table("method", "assigned", "kg placed", "expected net S/", "capacity violations", "seconds",
                  title=f"Allocation of {report.listings} open listings in {region} to {report.partners} partners "
                        f"({report.arcs} feasible pairs)")
    for name, r in report.results.items():
        table.add_row(name, str(r.n_assigned), f"{r.kg_placed:,.1f}", f"{r.total_value_cents / 100:,.2f}",
                      str(report.violations[name]), f"{r.seconds:.2f}")
    console.print(table)
    if apply:
        console.print(f"Proposed {report.proposed} matches; partners see them as pickup requests.")


@app.command()
def expire() -> None:
    """Close listings whose availability has ended and release their open matches (audited; run hourly)."""
    from ayni.services.listings import expire_listings
    from ayni.storage.engine import transaction

    settings = _settings()
    with transaction(_factory(settings)) as session:
        n = expire_listings(session)
    console.print(f"Expired {n} listing(s) past their availability.")

"""``ayni db backup`` and ``ayni db restore``: consistent copies of the database while the API runs.

SQLite uses SQLite's online backup API (a consistent snapshot even while other connections write);
PostgreSQL uses ``pg_dump --format=custom`` and ``pg_restore`` (the PostgreSQL client tools must be on
``PATH`` and their major version must be at least the server's). The password never appears on a
command line: it is handed to the tools through ``PGPASSWORD``.

Mounted by ``ayni.cli`` as ``ayni db``; the functions ``backup_database`` and ``restore_database``
do the work and are what the tests call.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from sqlalchemy.engine import URL, make_url

from ayni.errors import AyniError, InvalidInput, NotFound, ServiceUnavailable
from ayni.settings import get_settings

app = typer.Typer(help="Database backups: backup and restore (SQLite and PostgreSQL).", no_args_is_help=True)
log = logging.getLogger(__name__)

SQLITE_SUFFIX = ".sqlite3"
PG_SUFFIX = ".pgdump"
PG_TIMEOUT_S = 3600


def _kind(url: URL) -> str:
    backend = url.get_backend_name()
    if backend in ("sqlite", "postgresql"):
        return backend
    raise InvalidInput(f"Backups support SQLite and PostgreSQL, not '{backend}'.")


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise InvalidInput("An in-memory SQLite database cannot be backed up or restored.")
    return Path(url.database)


def default_backup_path(database_url: str, backups_dir: Path, *, now: datetime | None = None) -> Path:
    """``<backups_dir>/ayni-20261122T180000Z.sqlite3`` (or ``.pgdump``)."""
    suffix = SQLITE_SUFFIX if _kind(make_url(database_url)) == "sqlite" else PG_SUFFIX
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return backups_dir / f"ayni-{stamp}{suffix}"


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ServiceUnavailable(f"'{name}' is not on PATH: install the PostgreSQL client tools (postgresql-client).")
    return found


def _pg_conninfo(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and the environment that carries the password."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=PG_TIMEOUT_S, check=False)
    if result.returncode != 0:
        raise ServiceUnavailable(f"{what} failed: {result.stderr.strip() or result.stdout.strip()}")


def backup_database(database_url: str, destination: Path) -> Path:
    """Write a consistent backup of ``database_url`` to ``destination`` (atomically); return the path."""
    url = make_url(database_url)
    kind = _kind(url)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if kind == "sqlite":
            _sqlite_backup(_sqlite_path(url), partial)
        else:
            conninfo, env = _pg_conninfo(url)
            cmd = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}"]
            _run([*cmd, f"--dbname={conninfo}"], env, "pg_dump")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(destination)
    log.info("backed up %s to %s (%d bytes)", url.render_as_string(hide_password=True), destination,
             destination.stat().st_size)
    return destination


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.is_file():
        raise NotFound(f"There is no SQLite database at {source}.")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _check_sqlite_backup(path: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"{path} is not a SQLite database.") from exc
    if not ok or ok[0] != "ok":
        raise InvalidInput(f"{path} fails SQLite's integrity check: {ok}.")
    if "alembic_version" not in tables:
        raise InvalidInput(f"{path} is not an Ayni database (no alembic_version table).")


def restore_database(database_url: str, source: Path) -> None:
    """Replace the contents of ``database_url`` with the backup at ``source``.

    SQLite: the backup is checked (integrity, Ayni schema) and copied into the live file with the online
    backup API, so open connections see either the old or the new database, never a mix. PostgreSQL:
    ``pg_restore --clean --if-exists --single-transaction``: all or nothing.
    """
    if not source.is_file():
        raise NotFound(f"There is no backup at {source}.")
    url = make_url(database_url)
    if _kind(url) == "sqlite":
        _check_sqlite_backup(source)
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    else:
        conninfo, env = _pg_conninfo(url)
        cmd = [_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges",
               "--single-transaction", "--exit-on-error", f"--dbname={conninfo}", str(source)]  # fmt: skip
        _run(cmd, env, "pg_restore")
    log.info("restored %s from %s", url.render_as_string(hide_password=True), source)


@app.command()
def backup(
    output: Annotated[
        Path | None, typer.Option(help="Backup file (default: $AYNI_VAR_DIR/backups/ayni-<UTC time>.sqlite3|.pgdump).")
    ] = None,
) -> None:
    """Write a consistent backup of the configured database (safe while the API runs)."""
    settings = get_settings()
    url = settings.database_url
    try:
        path = backup_database(url, output or default_backup_path(url, settings.var_dir / "backups"))
    except AyniError as exc:
        _fail(exc)
    typer.echo(f"Backed up {make_url(url).render_as_string(hide_password=True)} to {path} "
               f"({path.stat().st_size:,} bytes).")  # fmt: skip


@app.command()
def restore(
    backup_file: Annotated[Path, typer.Argument(help="A file written by 'ayni db backup'.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Replace the configured database's contents with BACKUP_FILE. Stop the API and the jobs first."""
    settings = get_settings()
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    if not yes:
        typer.confirm(f"Replace everything in {shown} with {backup_file}?", abort=True)
    try:
        restore_database(settings.database_url, backup_file)
    except AyniError as exc:
        _fail(exc)
    typer.echo(f"Restored {shown} from {backup_file}. Run 'ayni db upgrade' if the backup is from an older release.")


def _fail(exc: AyniError) -> NoReturn:
    typer.echo(f"Error: {exc.message}", err=True)
    raise typer.Exit(code=1) from exc

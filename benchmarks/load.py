"""Sustained mixed traffic against a real Ayni server on loopback, bounded in time.

    python -m benchmarks.load                              # 30 s, 32 connections, 1 worker
    python -m benchmarks.load --workers 2                  # the configuration the targets are for
    python -m benchmarks.load --baseline 48cc185 --rounds 3 --seconds 20   # before/after, same run
    python -m benchmarks.load --baseline-args "--http h11 --loop asyncio" --rounds 3   # same code, other options
    python -m benchmarks.load --soak                       # 10 minutes; server memory after warm-up and at the end
    python -m benchmarks.load --only browse --connections 8 --seconds 8 --baseline HEAD --no-write   # one kind alone
    python -m benchmarks.load --workers 2 --postgres postgresql://127.0.0.1/test   # on PostgreSQL (section load-postgres)

Starts ``ayni serve`` on a fresh SQLite database in a temp dir (``--postgres URL``: a fresh PostgreSQL
database made on that server for each round from a seeded template, then dropped; migrated, reference data loaded when the
shared data is present, demo community seeded), logs in as the demo producer, and sends a mix with the
classification at its real share: browse listings 45 %, one listing 15 %, ranked partners 15 %, create a
listing 10 %, classify a photo 5 %, district search 10 %. A warm-up run (not counted) comes first.

The load generator is ``wrk`` with ``benchmarks/load_mix.lua`` when it is installed (Debian: ``apt-get
install wrk``; C, a few % of a core), else the lean asyncio client ``benchmarks._load_client``; both run
as their own process on the same cores as the server, and the CPU each used is reported. ``--baseline REV``
serves ``git archive REV src`` in alternate rounds with the working tree and reports medians and ratios;
``--baseline-args`` gives the baseline's ``ayni serve`` extra options (alone: the working tree with them).
Results go to docs/benchmarks.md ("load", or "load-soak").
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks._load_mix import MIX, photo
from benchmarks._report import write_section

REPO = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().with_name("load_mix.lua")
TICK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- the server's processes


def _pids(pid: int) -> list[int]:
    try:
        kids = [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        kids = []
    return [pid, *[p for k in kids for p in _pids(k)]]


def rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants (the uvicorn workers)."""
    total = 0
    for p in _pids(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants."""
    total = 0
    for p in _pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / TICK


@dataclass
class Variant:
    """The code a server runs: the working tree, or ``git archive REV src`` (``src`` then goes first on
    PYTHONPATH, ahead of the editable install)."""

    name: str
    src: Path | None = None
    seed: Path | None = None  # a prepared var/ directory, copied for each round
    serve_args: list[str] = field(default_factory=list)  # extra options for ``ayni serve``
    postgres: str | None = None  # a PostgreSQL server URL (any database on it): serve from PostgreSQL

    def env(self, var_dir: Path, database: str | None = None) -> dict[str, str]:
        env = {**os.environ, "AYNI_VAR_DIR": str(var_dir), "AYNI_LOG_LEVEL": "WARNING",
               "AYNI_VISION__REGISTRY_REFRESH_S": "0"}
        if self.postgres is not None and database is not None:
            env["AYNI_DATABASE__URL"] = _pg_url(self.postgres, database)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        if self.src is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(self.src), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        return env


def checkout(rev: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", rev, "src"], cwd=REPO, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def _ayni() -> str:
    return str(Path(sys.executable).with_name("ayni"))


def _pg_url(server: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(server).set(database=database).render_as_string(hide_password=False)


def _pg_database(variant: Variant, role: str) -> str:
    return f"ayni_load_{role}_{variant.name}"


def _pg_execute(server: str, statements: list[str]) -> None:
    """Run ``statements`` on ``server`` outside a transaction (CREATE/DROP DATABASE need that)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _pg_drop_sql(database: str) -> str:
    return f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'


def _pg_create(server: str, database: str, *, template: str | None = None) -> None:
    """(Re)create ``database`` on ``server``, empty or copied from ``template``."""
    create = f'CREATE DATABASE "{database}"' + (f' TEMPLATE "{template}"' if template else "")
    _pg_execute(server, [_pg_drop_sql(database), create])


def prepare(variant: Variant, tmp: Path) -> None:
    """Migrate, load reference data and seed the demo community once; each round copies the result (the
    var directory, and on PostgreSQL the seeded database as a template)."""
    var = tmp / f"seed-{variant.name}" / "var"
    var.mkdir(parents=True, exist_ok=True)
    seed_db = _pg_database(variant, "seed")
    if variant.postgres is not None:
        _pg_create(variant.postgres, seed_db)
    for cmd in (["db", "upgrade"], ["data", "load"], ["demo"]):
        subprocess.run([_ayni(), *cmd], env=variant.env(var, seed_db), check=True, capture_output=True)
    variant.seed = var


def serve(variant: Variant, tmp: Path, *, port: int, workers: int) -> subprocess.Popen[bytes]:
    assert variant.seed is not None
    var = tmp / f"round-{variant.name}-{port}" / "var"
    shutil.rmtree(var.parent, ignore_errors=True)
    shutil.copytree(variant.seed, var)
    round_db = _pg_database(variant, "round")
    if variant.postgres is not None:
        _pg_create(variant.postgres, round_db, template=_pg_database(variant, "seed"))
    proc = subprocess.Popen([_ayni(), "serve", "--port", str(port), "--workers", str(workers), *variant.serve_args],
                            env=variant.env(var, round_db), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(240):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"the {variant.name} server did not become ready")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------- the clients


@dataclass
class Fixture:
    """What a client needs: a token, the demo producer's listing ids, the photo (as files for wrk)."""

    token: str
    ids_file: Path
    photo_file: Path
    only: str | None = None  # send only this kind of request (``--only``)


def login(port: int, tmp: Path) -> Fixture:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
        r = c.post("/v1/auth/login", json={"email": "productor@demo.ayni.pe", "password": "ayni-demo-2026"})
        token = r.json()["access_token"]
        page = c.get("/v1/listings", params={"limit": 200}, headers={"Authorization": f"Bearer {token}"}).json()
    ids_file, photo_file = tmp / f"ids-{port}.txt", tmp / "photo.jpg"
    ids_file.write_text(",".join(str(x["id"]) for x in page["items"]) or "1")
    if not photo_file.exists():
        photo_file.write_bytes(photo())
    return Fixture(token, ids_file, photo_file)


@dataclass
class Run:
    client: str
    seconds: float
    requests: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    statuses: dict[str, int]
    kinds: dict[str, dict[str, object]] = field(default_factory=dict)
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def _run_child(cmd: list[str], timeout_s: float) -> tuple[str, float]:
    """Run a client process; its output and the CPU seconds it used (user + system)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO)
    assert proc.stdout is not None
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(timeout_s)
    out = b"".join(chunks).decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}):\n{out[-2000:]}")
    return out, usage.ru_utime + usage.ru_stime


def _errors(statuses: dict[str, int]) -> int:
    return sum(n for s, n in statuses.items() if int(s) >= 500 or int(s) in (0, 429))


def run_wrk(port: int, fx: Fixture, *, seconds: float, connections: int) -> Run:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s", "-s", str(LUA),
           f"http://127.0.0.1:{port}", "--", fx.token, str(fx.ids_file), str(fx.photo_file),
           *(["0", fx.only] if fx.only else [])]
    out, cpu = _run_child(cmd, seconds + 60)
    data = json.loads(next(line for line in out.splitlines() if line.startswith("AYNI_WRK ")).split(" ", 1)[1])
    statuses = {str(k): int(v) for k, v in data["statuses"].items()}
    socket_errors = data["connect_errors"] + data["read_errors"] + data["write_errors"] + data["timeouts"]
    if socket_errors:
        statuses["0"] = statuses.get("0", 0) + socket_errors
    kinds = {k: {"n": n} for k, n in data["sent"].items()}
    return Run("wrk", data["duration_us"] / 1e6, data["requests"], data["p50_us"] / 1000, data["p90_us"] / 1000,
               data["p99_us"] / 1000, _errors(statuses), statuses, kinds, client_cpu_s=cpu)


def run_python(port: int, fx: Fixture, *, seconds: float, connections: int) -> Run:
    cmd = [sys.executable, "-m", "benchmarks._load_client", "--port", str(port), "--seconds", f"{seconds:g}",
           "--connections", str(connections), *(["--only", fx.only] if fx.only else []), fx.token, str(fx.ids_file),
           str(fx.photo_file)]
    out, cpu = _run_child(cmd, seconds + 60)
    data = json.loads(next(line for line in out.splitlines() if line.startswith("AYNI_CLIENT ")).split(" ", 1)[1])
    statuses = {str(k): int(v) for k, v in data["statuses"].items()}
    return Run("python", data["seconds"], data["requests"], data["p50_ms"], data["p90_ms"], data["p99_ms"],
               _errors(statuses), statuses, data["kinds"], client_cpu_s=cpu)


def load(client: str, port: int, fx: Fixture, *, seconds: float, connections: int, server: int) -> Run:
    runner = run_wrk if client == "wrk" else run_python
    before = cpu_s(server)
    result = runner(port, fx, seconds=seconds, connections=connections)
    result.server_cpu_s = cpu_s(server) - before
    return result


# ---------------------------------------------------------------- one server, one measured run


@dataclass
class Measured:
    variant: str
    run: Run
    rss_idle_kb: int
    rss_warm_kb: int
    rss_end_kb: int
    rss_trace: list[tuple[float, int]]
    loadavg: tuple[float, float] = (0.0, 0.0)  # 1-minute load average as the measured run began and ended

    @property
    def growth(self) -> float:
        return (self.rss_end_kb - self.rss_warm_kb) / self.rss_warm_kb * 100 if self.rss_warm_kb else float("nan")


def measure(variant: Variant, tmp: Path, args: argparse.Namespace, *, port: int) -> Measured:
    proc = serve(variant, tmp, port=port, workers=args.workers)
    trace: list[tuple[float, int]] = []
    done = threading.Event()
    try:
        fx = login(port, tmp)
        fx.only = args.only
        time.sleep(1)
        idle = rss_kb(proc.pid)
        if args.warmup > 0:
            load(args.client, port, fx, seconds=args.warmup, connections=args.connections, server=proc.pid)
        warm = rss_kb(proc.pid)
        load_start = os.getloadavg()[0]
        start = time.monotonic()

        def sample() -> None:
            while not done.wait(args.sample_s):
                trace.append((time.monotonic() - start, rss_kb(proc.pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        result = load(args.client, port, fx, seconds=args.seconds, connections=args.connections, server=proc.pid)
        done.set()
        end = rss_kb(proc.pid)
        load_end = os.getloadavg()[0]
    finally:
        done.set()
        stop(proc)
    m = Measured(variant.name, result, idle, warm, end, trace, (load_start, load_end))
    print(f"  {variant.name:9s} {result.rate:6.0f} req/s  p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:7.1f} ms  "  # noqa: T201
          f"errors {result.errors}  RSS {warm / 1024:.0f} → {end / 1024:.0f} MB ({m.growth:+.1f} %)  "
          f"load average {load_start:.1f} → {load_end:.1f}", flush=True)
    return m


# ---------------------------------------------------------------- the report


def _cpu_line(m: Measured, workers: int) -> str:
    r = m.run
    cores = os.cpu_count() or 1
    share = r.client_cpu_s / (r.client_cpu_s + r.server_cpu_s) * 100 if r.server_cpu_s else float("nan")
    return (f"CPU over the run: server {r.server_cpu_s / r.seconds:.2f} cores ({workers} worker(s)), client "
            f"(`{r.client}`) {r.client_cpu_s / r.seconds:.2f} cores = {share:.0f} % of the CPU the two used, on a "
            f"{cores}-core machine shared with other work (1-minute load average {m.loadavg[0]:.1f} as the run began, "
            f"{m.loadavg[1]:.1f} at its end); {r.server_cpu_s / max(r.requests, 1) * 1000:.2f} ms "
            "of server CPU per request.")


def _kinds_table(m: Measured) -> str:
    rows = []
    for kind, _ in MIX:
        k = m.run.kinds.get(kind)
        if not k:
            continue
        if "p50_ms" in k:
            rows.append(f"| {kind} | {k['n']} | {k['p50_ms']:.1f} | {k['p99_ms']:.1f} | {k['statuses']} |")
        else:
            rows.append(f"| {kind} | {k['n']} | – | – | – |")
    note = "" if m.run.client == "python" else "\n(wrk reports latency over all requests only; per kind: `--client python`.)\n"
    return "| request | sent | p50 ms | p99 ms | statuses |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n" + note


def _headline(m: Measured, args: argparse.Namespace) -> str:
    r = m.run
    return (f"**{r.rate:.0f} requests/s**, p50 {r.p50_ms:.1f} ms, p90 {r.p90_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, "
            f"server errors {r.errors} of {r.requests} (statuses {dict(sorted(r.statuses.items()))}); targets "
            f"≥ 300 req/s, p99 ≤ 250 ms, 0 errors. Server memory (RSS, all processes): idle "
            f"{m.rss_idle_kb / 1024:.0f} MB, after the {args.warmup:g} s warm-up {m.rss_warm_kb / 1024:.0f} MB, at "
            f"the end {m.rss_end_kb / 1024:.0f} MB ({m.growth:+.1f} % after warm-up; target ≤ 10 %).")


def _comparison(results: dict[str, list[Measured]], baseline: str) -> str:
    def med(name: str, f: str) -> float:
        values = [getattr(x.run, f) if f != "rate" else x.run.rate for x in results[name]]
        return statistics.median(values)

    rows = []
    for label, f, fmt in (("requests/s", "rate", "{:.0f}"), ("p50 ms", "p50_ms", "{:.1f}"),
                          ("p99 ms", "p99_ms", "{:.1f}"), ("errors", "errors", "{:.0f}")):
        b, c = med("baseline", f), med("current", f)
        ratio = f"{c / b:.2f}×" if b else "–"
        rows.append(f"| {label} | {fmt.format(b)} | {fmt.format(c)} | {ratio} |")
    cpu = [statistics.median(x.run.server_cpu_s / max(x.run.requests, 1) * 1000 for x in results[n])
           for n in ("baseline", "current")]
    rows.append(f"| server CPU ms per request | {cpu[0]:.2f} | {cpu[1]:.2f} | {cpu[1] / cpu[0]:.2f}× |")
    growth = [f"{statistics.median(x.growth for x in results[n]):+.1f} %" for n in ("baseline", "current")]
    rows.append(f"| RSS growth after warm-up | {growth[0]} | {growth[1]} | |")
    n = len(results["current"])
    return (f"Before ({baseline}) and after (working tree), same run, alternating, {n} round(s) each; medians:\n\n"
            "| | before | after | after / before |\n|---|---|---|---|\n" + "\n".join(rows) + "\n")


def _baseline_label(args: argparse.Namespace) -> str:
    label = f"`{args.baseline}`" if args.baseline else "working tree"
    return f"{label}, `ayni serve {args.baseline_args}`" if args.baseline_args else label


def _trace(m: Measured) -> str:
    if len(m.rss_trace) < 2:
        return ""
    step = max(1, len(m.rss_trace) // 10)
    points = ", ".join(f"{t:.0f} s {kb / 1024:.0f} MB" for t, kb in m.rss_trace[::step])
    return f"RSS during the run: {points}, end {m.rss_end_kb / 1024:.0f} MB.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--warmup", type=float, default=None, help="seconds of load before measuring (5; soak 60)")
    parser.add_argument("--baseline", metavar="REV", help="also serve `git archive REV src`, alternating")
    parser.add_argument("--baseline-args", metavar="OPTIONS", default="",
                        help='extra `ayni serve` options for the baseline, e.g. "--http h11 --loop asyncio"')
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--soak", action="store_true", help="10 minutes (unless --seconds), RSS every 30 s")
    parser.add_argument("--only", choices=[k for k, _ in MIX], help="send only this kind of request (not the mix)")
    parser.add_argument("--section", default=None, help="section of docs/benchmarks.md (load; soak: load-soak)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--postgres", metavar="URL", help="serve from PostgreSQL: databases ayni_load_* are made "
                        "and dropped on this server (e.g. postgresql://127.0.0.1/test); section load-postgres")
    args = parser.parse_args()
    if args.soak and args.seconds == parser.get_default("seconds"):
        args.seconds = 600
    args.warmup = args.warmup if args.warmup is not None else (60 if args.soak else 5)
    args.sample_s = 30 if args.soak else 5
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "python"
    results: dict[str, list[Measured]] = {"baseline": [], "current": []}
    with tempfile.TemporaryDirectory(prefix="ayni-load-") as d:
        tmp = Path(d)
        variants = [Variant("current", postgres=args.postgres)]
        if args.baseline or args.baseline_args:
            src = checkout(args.baseline, tmp / "baseline") if args.baseline else None
            variants.insert(0, Variant("baseline", src=src, serve_args=shlex.split(args.baseline_args),
                                       postgres=args.postgres))
        try:
            for v in variants:
                prepare(v, tmp)
            for i in range(args.rounds):
                for v in variants if i % 2 == 0 else variants[::-1]:
                    results[v.name].append(measure(v, tmp, args, port=args.port))
        finally:
            if args.postgres:
                _pg_execute(args.postgres, [_pg_drop_sql(_pg_database(v, r)) for v in variants for r in ("round", "seed")])
    final = min(results["current"], key=lambda m: abs(m.run.rate - statistics.median(x.run.rate for x in results["current"])))
    title = "## Load: 10-minute soak" if args.soak else "## Load: mixed traffic on loopback"
    body = (
        f"{title}{f' (only {args.only})' if args.only else ''}\n\n{args.connections} concurrent connections for {final.run.seconds:.0f} s (after a "
        f"{args.warmup:g} s warm-up) against `ayni serve --workers {args.workers}` ({'PostgreSQL' if args.postgres else 'SQLite'}, demo community); "
        f"load from `{final.run.client}` on the same cores.\n\n"
        + _headline(final, args) + "\n\n" + _cpu_line(final, args.workers) + "\n\n" + _kinds_table(final)
        + ("\n" + _trace(final) if args.soak else "")
        + ("\n" + _comparison(results, _baseline_label(args)) if results["baseline"] else "")
    )
    print(body)  # noqa: T201
    command = f"python -m benchmarks.load --seconds {args.seconds:g} --connections {args.connections} " \
              f"--workers {args.workers} --client {args.client}"
    command += " --soak" if args.soak else ""
    command += f" --only {args.only}" if args.only else ""
    command += f" --baseline {args.baseline}" if args.baseline else ""
    command += f" --baseline-args {shlex.quote(args.baseline_args)}" if args.baseline_args else ""
    command += f" --rounds {args.rounds}" if results["baseline"] else ""
    command += f" --postgres {args.postgres}" if args.postgres else ""
    command += f" --section {args.section}" if args.section else ""
    if not args.no_write:
        default = "load-soak" if args.soak else "load"
        write_section(args.section or (f"{default}-postgres" if args.postgres else default), body, command=command)


if __name__ == "__main__":
    main()

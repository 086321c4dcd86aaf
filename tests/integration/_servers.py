"""Real processes for integration tests: Ayni under uvicorn and Prometheus, each on a free loopback port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_tool(name: str) -> str:
    """The tool's path; skip the test when it is missing, unless AYNI_REQUIRE_TOOLS=1 makes that a failure."""
    path = shutil.which(name)
    if path is None:
        reason = f"'{name}' is not installed (Debian: apt-get install -y prometheus prometheus-pushgateway)"
        if os.environ.get("AYNI_REQUIRE_TOOLS") == "1":
            pytest.fail(f"AYNI_REQUIRE_TOOLS=1 but {reason}")
        pytest.skip(reason)
    return path


def wait_until_ok(url: str, *, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise AssertionError(f"process for {url} exited with {proc.returncode}:\n{out[-3000:]}")
        try:
            r = httpx.get(url, timeout=2)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready after {timeout_s}s ({last})")


@dataclass(frozen=True)
class Server:
    cmd: list[str]
    env: dict[str, str]
    ready_url: str


@contextmanager
def running(*servers: Server, timeout_s: float = 60) -> Iterator[None]:
    """Start every server at once, wait until each ``ready_url`` answers 200; stop them all on exit."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for server in servers:
            procs.append(
                subprocess.Popen(server.cmd, env=server.env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            )
        for server, proc in zip(servers, procs, strict=True):
            wait_until_ok(server.ready_url, timeout_s=timeout_s, proc=proc)
        yield
    finally:
        for proc in procs:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc.stdout:
        proc.stdout.close()


def ayni_env(*, database_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for an Ayni process: its own database and var dir, fast password hashing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AYNI_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        AYNI_DATABASE__URL=database_url,
        AYNI_VAR_DIR=str(var_dir),
        AYNI_DATA_DIR=str(var_dir / "data"),
        AYNI_LOG_LEVEL="WARNING",
        AYNI_AUTH__ARGON2_TIME_COST="1",
        AYNI_AUTH__ARGON2_MEMORY_KIB="1024",
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO)]),
        **extra,
    )
    return env


def uvicorn_cmd(factory: str, port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log"]  # fmt: skip

"""A throw-away PostgreSQL cluster of the test's own (initdb into a temp dir, a free loopback port), so a
test can stop and start its database without disturbing anyone else's."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration._servers import free_port


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class Cluster:
    bin_dir: Path
    data_dir: Path
    socket_dir: Path
    port: int
    as_user: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args],
                       check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c max_connections=60"
        self._ctl("-o", options, "-l", str(self.data_dir.parent / "server.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: clean shut-down; ``immediate``: like a crash (recovery from the WAL at the next start)."""
        self._ctl("-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()


@contextmanager
def own_postgres() -> Iterator[Cluster]:
    """A started cluster (superuser ``postgres``, trust auth), removed at the end; skips without PostgreSQL."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        if os.environ.get("AYNI_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are required here")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="ayni-pg-"))
    if as_user:
        shutil.chown(root, "postgres")
    cluster = Cluster(bin_dir, root / "data", root, free_port(), as_user)
    try:
        subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(cluster.data_dir), "-A", "trust", "-U",
                        "postgres", "-E", "UTF8", "--no-sync"], check=True, capture_output=True, timeout=120)
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            try:
                cluster.stop("immediate")
            except subprocess.SubprocessError:
                time.sleep(1)
        shutil.rmtree(root, ignore_errors=True)

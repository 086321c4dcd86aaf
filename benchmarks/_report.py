"""Write one benchmark's section of ``docs/benchmarks.md`` without touching the others.

Each benchmark owns the text between ``<!-- BEGIN name -->`` and ``<!-- END name -->``.
"""

from __future__ import annotations

import platform
import re
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Every figure here is written by a script in `benchmarks/` that anyone can run; each section says\n"
    "which command produced it, when and on what machine. Figures are medians unless stated.\n"
)


def machine() -> str:
    """Architecture, CPU model (Linux), cores and Python: per-core speed differs between machines of one kind."""
    import os

    cpu = platform.machine()
    info = Path("/proc/cpuinfo")
    if info.is_file():
        names = re.findall(r"^model name\s*:\s*(.+)$", info.read_text(encoding="utf-8", errors="replace"), re.M)
        cpu = f"{cpu} {names[0].strip()}" if names else cpu
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(name: str, body: str, *, command: str) -> Path:
    """Replace (or append) the section ``name`` of docs/benchmarks.md with ``body``."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"<!-- BEGIN {name} -->\n{body.rstrip()}\n\n"
        f"_Produced by `{command}` on {stamp} ({machine()})._\n<!-- END {name} -->"
    )
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else HEADER
    pattern = re.compile(rf"<!-- BEGIN {re.escape(name)} -->.*?<!-- END {re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    return DOC

"""``ayni serve`` runs uvicorn on httptools and uvloop (dependencies), or on the pure-Python ones when asked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner
from uvicorn.loops.auto import auto_loop_factory
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ayni import cli
from ayni.observability import logging as ayni_logging
from ayni.settings import get_settings


@pytest.fixture
def uvicorn_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setenv("AYNI_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.setattr(ayni_logging, "configure_logging", lambda *args, **kwargs: None)
    get_settings.cache_clear()
    yield calls
    get_settings.cache_clear()


def test_serve_lets_uvicorn_pick_httptools_and_uvloop(uvicorn_calls: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(cli.app, ["serve", "--port", "8999"])
    assert result.exit_code == 0, result.output
    assert uvicorn_calls[0]["http"] == "auto" and uvicorn_calls[0]["loop"] == "auto"
    assert AutoHTTPProtocol is HttpToolsProtocol
    loop = auto_loop_factory()()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()


def test_serve_passes_the_pure_python_parser_and_loop_through(uvicorn_calls: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(cli.app, ["serve", "--port", "8999", "--http", "h11", "--loop", "asyncio"])
    assert result.exit_code == 0, result.output
    assert uvicorn_calls[0]["http"] == "h11" and uvicorn_calls[0]["loop"] == "asyncio"


def test_serve_passes_the_admission_limit_to_the_workers(uvicorn_calls: list[dict[str, Any]],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AYNI_SERVER__ADMIT", raising=False)
    result = CliRunner().invoke(cli.app, ["serve", "--port", "8999", "--admit", "0"])
    assert result.exit_code == 0, result.output
    assert get_settings().server.admit == 0  # the settings each worker's app reads
    monkeypatch.delenv("AYNI_SERVER__ADMIT")

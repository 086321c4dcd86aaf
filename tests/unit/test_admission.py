"""``api._admission.Admission``: at most ``limit`` requests inside the app, the others in arrival order."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ayni.api._admission import Admission


class Recorder:
    """An ASGI app that notes who is inside and waits until released."""

    def __init__(self) -> None:
        self.inside: set[str] = set()
        self.entered: list[str] = []
        self.most = 0
        self.release: dict[str, asyncio.Event] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        name = scope["path"]
        self.entered.append(name)
        self.inside.add(name)
        self.most = max(self.most, len(self.inside))
        await self.release.setdefault(name, asyncio.Event()).wait()
        self.inside.discard(name)


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run`` in a thread of its own: in the full suite another test's event loop may be running in
    this thread (``asyncio.run`` refuses to start inside one)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


def _scope(path: str) -> dict[str, Any]:
    return {"type": "http", "path": path, "method": "GET"}


async def _receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}


async def _send(message: Any) -> None:
    return None


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_requests_past_the_limit_wait_and_enter_in_arrival_order() -> None:
    async def main() -> None:
        app = Recorder()
        admission = Admission(app, limit=2)
        names = [f"/r{i}" for i in range(6)]
        tasks = []
        for name in names:
            tasks.append(asyncio.create_task(admission(_scope(name), _receive, _send)))
            await _settle()
        assert app.entered == ["/r0", "/r1"]
        for name in names:
            app.release.setdefault(name, asyncio.Event()).set()
            await _settle()
        await asyncio.gather(*tasks)
        assert app.entered == names and app.most == 2 and admission.inside == 0

    _run(main())


def test_health_probes_skip_the_queue() -> None:
    async def main() -> None:
        app = Recorder()
        admission = Admission(app, limit=1)
        busy = asyncio.create_task(admission(_scope("/v1/listings"), _receive, _send))
        probe = asyncio.create_task(admission(_scope("/readyz"), _receive, _send))
        await _settle()
        assert app.inside == {"/v1/listings", "/readyz"}
        for event in app.release.values():
            event.set()
        await asyncio.gather(busy, probe)

    _run(main())


def test_a_request_cancelled_while_waiting_leaves_the_queue_and_the_place_goes_on() -> None:
    async def main() -> None:
        app = Recorder()
        admission = Admission(app, limit=1)
        first = asyncio.create_task(admission(_scope("/a"), _receive, _send))
        await _settle()
        gone = asyncio.create_task(admission(_scope("/gone"), _receive, _send))
        last = asyncio.create_task(admission(_scope("/b"), _receive, _send))
        await _settle()
        gone.cancel()
        await _settle()
        app.release.setdefault("/a", asyncio.Event()).set()
        app.release.setdefault("/b", asyncio.Event()).set()
        await asyncio.gather(first, last)
        assert app.entered == ["/a", "/b"] and admission.inside == 0

    _run(main())


def test_limit_zero_admits_everyone() -> None:
    async def main() -> None:
        app = Recorder()
        admission = Admission(app, limit=0)
        tasks = [asyncio.create_task(admission(_scope(f"/r{i}"), _receive, _send)) for i in range(5)]
        await _settle()
        assert len(app.inside) == 5
        for event in app.release.values():
            event.set()
        await asyncio.gather(*tasks)

    _run(main())

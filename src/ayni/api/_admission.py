"""Admission: at most ``limit`` requests inside the app at once, the others wait their turn in arrival order.

A process serves its requests on one event loop, and every ``await`` that gives the loop up (a trip to a
worker thread, a chunk of an upload) puts the request at the back of the loop's queue, behind every other
request in progress. When many are in progress, a request that gives the loop up three times (a write, an
upload) waits three times as long as one that does not (most reads), so the slowest answers are several
times the typical one. Admitting a few at a time keeps that queue short: the wait moves to the door, where
every request waits once, first come first served. The mean time in the server does not change (it is set
by how many requests are in flight and how fast they are served); its spread, and so the p99, does.

A request keeps its place while it waits for a worker thread (a write, an inference). Lending it to the
next in line meanwhile was tried: the loop then stays as crowded as without admission, and the threads'
work, which needs the GIL back after every query, waits behind it (writes and photos took 2–3 times as long).

Health probes (``/healthz``, ``/readyz``) and ``/metrics`` skip the queue, so a busy process still answers
them. ``limit`` 0 turns admission off.
"""

from __future__ import annotations

import asyncio
from collections import deque

from starlette.types import ASGIApp, Receive, Scope, Send

UNQUEUED = frozenset({"/healthz", "/readyz", "/metrics"})


class Admission:
    """Pure ASGI middleware; see the module's note. The queue is strictly first come, first served."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.inside = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.limit <= 0 or scope["type"] != "http" or scope.get("path") in UNQUEUED:
            await self.app(scope, receive, send)
            return
        await self._enter()
        try:
            await self.app(scope, receive, send)
        finally:
            self._leave()

    async def _enter(self) -> None:
        if self.inside < self.limit and not self._waiting:
            self.inside += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn  # _leave hands its place over: ``inside`` already counts this request
        except BaseException:
            if turn.done() and not turn.cancelled():
                self._leave()  # admitted as it was cancelled: give the place on
            elif turn in self._waiting:
                self._waiting.remove(turn)
            raise

    def _leave(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)  # the place goes straight to the next in line
                return
        self.inside -= 1


"""Periodic chores of a running platform, in one daemon thread per process.

Today one chore: listings past their availability are expired and their open matches released
(``listings.expire_listings``, audited). It is a conditional update, so several replicas doing it at once
is harmless; Kubernetes runs the same work as the ``ayni-expire`` CronJob, ``ayni expire`` by hand.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from ayni.services.listings import expire_listings

log = logging.getLogger(__name__)


class Housekeeper:
    """Every ``interval_s`` seconds (the first time after one interval), expire what has run out."""

    def __init__(self, sessions: Callable[[], AbstractContextManager[Session]], *, interval_s: float,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.sessions = sessions
        self.interval_s = interval_s
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="housekeeper", daemon=True)

    def run_once(self) -> int:
        """Expire the listings past their availability now; how many were expired."""
        with self.sessions() as session:
            n = expire_listings(session, now=self.clock())
        if n:
            log.info("expired %d listing(s) past their availability", n)
        return n

    def start(self) -> None:
        if self.interval_s > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - a failed round (database down) is retried next round
                log.exception("housekeeping round failed; retrying in %.0f s", self.interval_s)

"""Brute-force protection for log-in: after ``free_failures`` failures for one e-mail (or one client
address) within ``window_s``, each further attempt must wait an exponentially growing delay.

State is per process (a replica behind a load balancer keeps its own counts); that bounds an attacker
to ``replicas × free_failures`` quick guesses per window, then to the back-off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ayni.errors import TooManyRequests


@dataclass
class _Entry:
    failures: list[float] = field(default_factory=list)
    blocked_until: float = 0.0


class LoginThrottle:
    def __init__(self, *, free_failures: int = 5, window_s: float = 900.0, base_delay_s: float = 2.0,
                 max_delay_s: float = 900.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.free_failures = free_failures
        self.window_s = window_s
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def check(self, *keys: str) -> None:
        """Raise ``TooManyRequests`` (with ``retry_after_s``) if any key is in its back-off period."""
        now = self.clock()
        with self._lock:
            wait = max((self._entries[k].blocked_until - now for k in keys if k in self._entries), default=0.0)
        if wait > 0:
            raise TooManyRequests(f"Too many failed log-ins. Try again in {int(wait) + 1} seconds.",
                                  details={"retry_after_s": int(wait) + 1})

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                entry = self._entries.setdefault(key, _Entry())
                entry.failures = [t for t in entry.failures if now - t < self.window_s] + [now]
                extra = len(entry.failures) - self.free_failures
                if extra > 0:
                    entry.blocked_until = now + min(self.max_delay_s, self.base_delay_s * 2 ** (extra - 1))
            if len(self._entries) > 100_000:  # bound memory under a spray of random e-mails
                self._entries = {k: v for k, v in self._entries.items() if v.blocked_until > now}

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)

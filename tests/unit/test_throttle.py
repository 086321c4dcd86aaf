from __future__ import annotations

import pytest

from ayni.errors import TooManyRequests
from ayni.services.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_back_off_grows_and_expires() -> None:
    clock = Clock()
    throttle = LoginThrottle(free_failures=2, base_delay_s=10, clock=clock)
    for _ in range(2):
        throttle.failed("a")
    throttle.check("a")  # two free failures
    throttle.failed("a")
    with pytest.raises(TooManyRequests) as first:
        throttle.check("a")
    clock.t += 11
    throttle.check("a")
    throttle.failed("a")
    with pytest.raises(TooManyRequests) as second:
        throttle.check("a")
    assert second.value.details["retry_after_s"] > first.value.details["retry_after_s"]
    throttle.succeeded("a")
    throttle.check("a")
    throttle.check("b")

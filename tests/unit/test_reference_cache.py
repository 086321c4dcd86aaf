"""``services.reference.ReferenceCache``: answers from reference data kept ``ttl_s`` seconds, bounded."""

from __future__ import annotations

import pytest

from ayni.services import reference
from ayni.services.reference import ReferenceCache


def test_an_answer_is_made_once_within_its_time_to_live_and_again_after(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(reference.time, "monotonic", lambda: now[0])
    cache, made = ReferenceCache(ttl_s=60), []

    def make() -> int:
        made.append(1)
        return len(made)

    assert cache.get("q", make) == 1
    now[0] += 59
    assert cache.get("q", make) == 1
    now[0] += 2
    assert cache.get("q", make) == 2
    assert cache.get("other", make) == 3


def test_the_oldest_answers_go_first_past_the_bound() -> None:
    cache = ReferenceCache(max_entries=2)
    for key in ("a", "b", "c"):
        cache.get(key, lambda key=key: key)  # type: ignore[misc]
    assert cache.get("a", lambda: "made again") == "made again"
    assert cache.get("c", lambda: "made again") == "c"

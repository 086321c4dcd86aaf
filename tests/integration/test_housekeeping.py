"""The server's housekeeper expires listings past their availability (and keeps going when a round fails)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ayni.services.housekeeping import Housekeeper
from ayni.storage.engine import transaction
from ayni.storage.tables import AuditEvent, Listing
from tests.integration.conftest import Factory


def test_a_round_expires_only_listings_past_their_availability(make: Factory) -> None:
    producer = make.producer()
    short, long = make.listing(producer, days=1), make.listing(producer, days=5)
    later = datetime.now(UTC) + timedelta(days=2)
    keeper = Housekeeper(lambda: transaction(make.session_factory), interval_s=0, clock=lambda: later)
    assert keeper.run_once() == 1
    assert keeper.run_once() == 0  # nothing left to do: rounds are idempotent
    with make.session_factory() as s:
        status = dict(s.execute(select(Listing.id, Listing.status).where(Listing.id.in_([short["id"], long["id"]]))).all())
        assert status == {short["id"]: "expired", long["id"]: "open"}
        assert s.scalar(select(AuditEvent.action).where(AuditEvent.entity_id == short["id"],
                                                        AuditEvent.action == "listing.expired")) is not None


def test_the_thread_runs_rounds_and_survives_a_failed_one() -> None:
    rounds: list[int] = []
    done = threading.Event()

    @contextmanager
    def sessions() -> Iterator[Session]:
        rounds.append(1)
        if len(rounds) == 1:
            raise ConnectionError("database down")  # the first round fails; the next ones must still come
        if len(rounds) >= 3:
            done.set()
        raise LookupError("stop before touching a database")
        yield  # pragma: no cover

    keeper = Housekeeper(sessions, interval_s=0.01)
    keeper.start()
    try:
        assert done.wait(5), f"only {len(rounds)} round(s) ran"
    finally:
        keeper.stop()


def test_zero_interval_means_never() -> None:
    keeper = Housekeeper(lambda: transaction(None), interval_s=0)  # type: ignore[arg-type]
    keeper.start()
    assert not keeper._thread.is_alive()

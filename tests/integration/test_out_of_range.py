"""Numbers the database cannot hold (found by the fuzzer: a listing id of 2**63 crashed SQLite's driver) are
refused with a 422 problem, on both databases, never a 500."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Factory

pytestmark = pytest.mark.integration
HUGE = 2**63


def test_ids_and_offsets_past_the_database_range_answer_422(make: Factory) -> None:
    producer = make.producer()
    listing = make.listing(producer)
    answers = [
        producer.get(f"/v1/listings/{HUGE - 1}"),
        producer.put(f"/v1/listings/{HUGE}/photo", files={"file": ("p.jpg", b"01", "image/jpeg")}),
        producer.get("/v1/listings", params={"offset": HUGE}),
        producer.post(f"/v1/listings/{listing['id']}/pickup-requests", json={"partner_id": 2**40}),
        producer.get(f"/v1/matches/{2**31}"),
    ]
    for r in answers:
        assert r.status_code in (404, 422), (r.request.url, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"

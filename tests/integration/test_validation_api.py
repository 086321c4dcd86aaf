"""Bad input gets a clear 4xx and writes nothing."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ayni.storage.tables import Listing, Partner, Producer
from tests.integration.conftest import Factory


def _count(session: Session, table: type) -> int:
    return session.scalar(select(func.count()).select_from(table)) or 0


@pytest.mark.parametrize(
    ("kg", "fragment"), [("-3", "more than 0"), ("0", "more than 0"), ("50000", "more than"), ("abc", "")]
)
def test_absurd_quantities_are_refused(make: Factory, session: Session, kg: str, fragment: str) -> None:
    producer = make.producer()
    before = _count(session, Listing)
    r = producer.post("/v1/listings", json={"material": "PET", "estimated_kg": kg})
    assert r.status_code == 422 and fragment in r.json()["detail"]
    assert _count(session, Listing) == before


def test_unknown_material_and_unsellable_material_are_refused(make: Factory) -> None:
    producer = make.producer()
    r = producer.post("/v1/listings", json={"material": "kryptonite", "estimated_kg": "2"})
    assert r.status_code == 422 and "Unknown material" in r.json()["detail"]
    r = producer.post("/v1/listings", json={"material": "sanitary", "estimated_kg": "2"})
    assert r.status_code == 422 and "cannot be recovered" in r.json()["detail"]


def test_unknown_district_and_coordinates_outside_peru_are_refused(make: Factory, session: Session) -> None:
    actor = make.user("producer")
    before = _count(session, Producer)
    r = actor.post("/v1/producers", json={"name": "X", "ubigeo": "999999"})
    assert r.status_code == 422 and "Unknown district" in r.json()["detail"]
    r = actor.post("/v1/producers", json={"name": "X", "ubigeo": "140101", "latitude": 40.4, "longitude": -3.7})
    assert r.status_code == 422 and "outside Peru" in r.json()["detail"]
    assert _count(session, Producer) == before
    partner = make.user("partner")
    r = partner.post(
        "/v1/partners",
        json={
            "name": "P",
            "kind": "recycler",
            "ubigeo": "140101",
            "latitude": 0.5,
            "longitude": -79.0,
            "service_radius_km": 10,
            "pickup_days": ["mon"],
            "materials": [{"material": "PET", "price_cents_per_kg": 50, "weekly_capacity_kg": "10"}],
        },
    )
    assert r.status_code == 422 and "outside Peru" in r.json()["detail"]
    assert _count(session, Partner) == 0


def test_partner_profile_validation(make: Factory) -> None:
    partner = make.user("partner")
    base = {
        "name": "P",
        "kind": "recycler",
        "ubigeo": "140101",
        "service_radius_km": 10,
        "pickup_days": ["mon"],
        "materials": [{"material": "PET", "price_cents_per_kg": 50, "weekly_capacity_kg": "10"}],
    }
    assert partner.post("/v1/partners", json={**base, "pickup_days": ["someday"]}).status_code == 422
    assert partner.post("/v1/partners", json={**base, "service_radius_km": -1}).status_code == 422
    neg_price = {**base, "materials": [{"material": "PET", "price_cents_per_kg": -5, "weekly_capacity_kg": "10"}]}
    assert partner.post("/v1/partners", json=neg_price).status_code == 422
    dup = {**base, "materials": base["materials"] * 2}
    assert partner.post("/v1/partners", json=dup).status_code == 422
    r = partner.post("/v1/partners", json=base)
    assert r.status_code == 201 and r.json()["pickup_days"] == ["mon"]
    assert partner.post("/v1/partners", json=base).status_code == 409


def test_window_in_the_past_or_reversed_is_refused(make: Factory) -> None:
    producer = make.producer()
    r = producer.post(
        "/v1/listings",
        json={
            "material": "PET",
            "estimated_kg": "2",
            "available_from": "2026-01-02T00:00:00Z",
            "available_until": "2026-01-01T00:00:00Z",
        },
    )
    assert r.status_code == 422 and "after" in r.json()["detail"]
    r = producer.post(
        "/v1/listings",
        json={
            "material": "PET",
            "estimated_kg": "2",
            "available_from": "2020-01-01T00:00:00Z",
            "available_until": "2020-01-05T00:00:00Z",
        },
    )
    assert r.status_code == 422


def _jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


def test_photo_upload_round_trip(make: Factory) -> None:
    producer = make.producer()
    listing = make.listing(producer)
    r = producer.put(f"/v1/listings/{listing['id']}/photo", files={"file": ("bottle.jpg", _jpeg(), "image/jpeg")})
    assert r.status_code == 200 and r.json()["has_photo"] is True
    photo = producer.get(f"/v1/listings/{listing['id']}/photo")
    assert photo.status_code == 200 and photo.content == _jpeg()


@pytest.mark.parametrize(
    ("payload", "ctype", "status"),
    [
        (b"%PDF-1.4 not an image", "application/pdf", 415),
        (b"just some text", "image/jpeg", 415),
        (b"", "image/jpeg", 422),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_written(
    make: Factory, app_settings: object, payload: bytes, ctype: str, status: int
) -> None:
    producer = make.producer()
    listing = make.listing(producer)
    r = producer.put(f"/v1/listings/{listing['id']}/photo", files={"file": ("x", payload, ctype)})
    assert r.status_code == status, r.text
    assert r.json()["detail"]
    media = app_settings.media_path  # type: ignore[attr-defined]
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))
    assert producer.get(f"/v1/listings/{listing['id']}").json()["has_photo"] is False


def test_truncated_and_oversize_uploads(make: Factory, app_settings: object) -> None:
    producer = make.producer()
    listing = make.listing(producer)
    r = producer.put(f"/v1/listings/{listing['id']}/photo", files={"file": ("t.jpg", _jpeg()[:200], "image/jpeg")})
    assert r.status_code == 422 and "corrupt" in r.json()["detail"]
    big = b"\xff\xd8" + b"0" * (app_settings.upload.max_bytes + 10)  # type: ignore[attr-defined]
    r = producer.put(f"/v1/listings/{listing['id']}/photo", files={"file": ("big.jpg", big, "image/jpeg")})
    assert r.status_code == 413


def test_decompression_bomb_is_refused(make: Factory, app_settings: object) -> None:
    producer = make.producer()
    listing = make.listing(producer)
    app_settings.upload.max_pixels = 1000  # type: ignore[attr-defined]
    r = producer.put(f"/v1/listings/{listing['id']}/photo", files={"file": ("b.jpg", _jpeg((100, 100)), "image/jpeg")})
    assert r.status_code == 422 and "pixels" in r.json()["detail"]


def test_malformed_json_and_wrong_types_get_readable_422(make: Factory) -> None:
    producer = make.producer()
    r = producer.post("/v1/listings", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = producer.post("/v1/listings", json={"material": 5})
    assert r.status_code == 422 and r.json()["errors"]

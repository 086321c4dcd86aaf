"""POST /v1/classify with the shipped ONNX model: answers, bad uploads, and photo → listing prediction."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ayni.api import create_app
from ayni.settings import Settings
from ayni.vision import Classifier
from tests.integration.conftest import Factory


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    return Classifier.load(threads=1)


@pytest.fixture
def vision_client(db_engine: Engine, session_factory: sessionmaker[Session], app_settings: Settings,
                  classifier: Classifier) -> Iterator[TestClient]:
    app = create_app(app_settings, engine=db_engine, session_factory=session_factory, classifier=classifier)
    with TestClient(app) as c:
        yield c


def _photo(fmt: str = "JPEG", size: tuple[int, int] = (320, 240)) -> bytes:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def test_classify_answers_with_calibrated_top3_advice_and_version(vision_client: TestClient, make: Factory) -> None:
    make.client = vision_client
    producer = make.producer()
    make.partner()  # offers plastic at 80 and cardboard at 30 céntimos/kg
    r = producer.post("/v1/classify", files={"file": ("p.jpg", _photo(), "image/jpeg")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["material"] in {"cardboard", "glass", "metal", "paper", "plastic", "organic", "trash"}
    probs = [t["probability"] for t in body["top3"]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
    assert body["confidence"] == probs[0] and body["model_version"]
    assert body["advice_es"] and body["advice_en"] and body["verdict"] in {"organic", "recyclable", "non_recoverable"}
    assert isinstance(body["abstained"], bool)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_classify_accepts_png_and_webp(vision_client: TestClient, make: Factory, fmt: str) -> None:
    make.client = vision_client
    producer = make.producer()
    r = producer.post("/v1/classify", files={"file": ("p", _photo(fmt), f"image/{fmt.lower()}")})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("payload", "ctype", "status"), [
    (b"%PDF-1.7 hello", "application/pdf", 415),
    (b"GIF89a" + b"\x00" * 100, "image/gif", 415),
    (b"", "image/jpeg", 422),
])
def test_classify_refuses_bad_uploads_clearly(vision_client: TestClient, make: Factory, payload: bytes,
                                              ctype: str, status: int) -> None:
    make.client = vision_client
    producer = make.producer()
    r = producer.post("/v1/classify", files={"file": ("x", payload, ctype)})
    assert r.status_code == status, r.text
    assert r.json()["detail"]


def test_classify_refuses_truncated_and_oversized(vision_client: TestClient, make: Factory,
                                                  app_settings: Settings) -> None:
    make.client = vision_client
    producer = make.producer()
    r = producer.post("/v1/classify", files={"file": ("t.jpg", _photo()[:300], "image/jpeg")})
    assert r.status_code == 422
    big = b"\xff\xd8\xff" + b"0" * (app_settings.upload.max_bytes + 1)
    assert producer.post("/v1/classify", files={"file": ("b.jpg", big, "image/jpeg")}).status_code == 413


def test_without_a_model_classify_answers_503_and_listings_still_work(client: TestClient, make: Factory) -> None:
    producer = make.producer()
    r = producer.post("/v1/classify", files={"file": ("p.jpg", _photo(), "image/jpeg")})
    assert r.status_code == 503 and "by hand" in r.json()["detail"]
    assert make.listing(producer)["status"] == "open"


def test_a_listing_photo_keeps_the_prediction(vision_client: TestClient, make: Factory) -> None:
    make.client = vision_client
    producer = make.producer()
    listing = make.listing(producer)
    r = producer.put(f"/v1/listings/{listing['id']}/photo", files={"file": ("p.jpg", _photo(), "image/jpeg")})
    assert r.status_code == 200
    body = r.json()
    assert body["predicted_material"] is not None and 0 < body["predicted_confidence"] <= 1
    assert body["model_version"]

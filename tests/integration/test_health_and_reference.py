from __future__ import annotations

from fastapi.testclient import TestClient


def test_healthz_and_readyz_answer(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"]["database"] == "ok"


def test_district_search_ignores_case_and_accents(client: TestClient) -> None:
    r = client.get("/v1/districts", params={"q": "José Leonardo"})
    assert r.status_code == 200
    assert [d["ubigeo"] for d in r.json()["items"]] == ["140105"]
    assert client.get("/v1/districts/140101").json()["distrito"] == "CHICLAYO"
    assert client.get("/v1/districts/999999").status_code == 404


def test_lists_are_paginated(client: TestClient) -> None:
    page = client.get("/v1/districts", params={"limit": 2, "offset": 1}).json()
    assert page["limit"] == 2 and page["offset"] == 1 and len(page["items"]) == 2 and page["total"] == 4
    assert client.get("/v1/districts", params={"limit": 0}).status_code == 422
    assert client.get("/v1/districts", params={"limit": 500}).status_code == 422


def test_materials_lookup_has_classes_and_sub_materials(client: TestClient) -> None:
    page = client.get("/v1/materials", params={"limit": 200}).json()
    codes = {m["code"]: m for m in page["items"]}
    assert {"cardboard", "glass", "metal", "paper", "plastic", "organic", "trash"} <= set(codes)
    assert codes["PET"]["parent"] == "plastic" and codes["PET"]["verdict"] == "recyclable"
    assert client.get("/v1/materials/unobtainium").status_code == 422


def test_openapi_lists_every_route(client: TestClient) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    for expected in (
        "/v1/auth/login",
        "/v1/listings",
        "/v1/listings/{listing_id}/photo",
        "/v1/matches/{match_id}/accept",
        "/v1/districts",
        "/v1/materials",
        "/v1/admin/users",
        "/healthz",
        "/readyz",
    ):
        assert expected in paths


def test_every_response_has_a_request_id_and_security_headers(client: TestClient) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    made = client.get("/v1/districts/999999")  # errors too
    assert made.status_code == 404 and len(made.headers["x-request-id"]) == 16
    assert made.headers["x-content-type-options"] == "nosniff" and made.headers["x-frame-options"] == "DENY"

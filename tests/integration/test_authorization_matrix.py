"""Each role × each endpoint: allowed, or 401/403/404. Mutating calls run the allowed role last."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.conftest import Actor, Factory

ROLES = ("anonymous", "owner", "other_producer", "match_partner", "other_partner", "admin", "analyst")


@dataclass
class World:
    actors: dict[str, Actor | None]
    ids: dict[str, int]


@pytest.fixture
def world(make: Factory, client: TestClient) -> World:
    owner, other = make.producer(), make.producer()
    partner, other_partner = make.partner(), make.partner()
    open_listing = make.listing(owner)
    listing, match = make.match(owner, partner)
    admin, analyst = make.user("admin"), make.user("analyst")
    actors: dict[str, Actor | None] = {
        "anonymous": None,
        "owner": owner,
        "other_producer": other,
        "match_partner": partner,
        "other_partner": other_partner,
        "admin": admin,
        "analyst": analyst,
    }
    return World(
        actors,
        {
            "open": open_listing["id"],
            "listing": listing["id"],
            "match": match["id"],
            "owner_user": owner.user_id,
            "owner_producer": owner.profile_id or 0,
        },
    )


def _call(client: TestClient, actor: Actor | None, method: str, url: str, body: Any) -> int:
    headers = actor.headers if actor else {}
    client.cookies.clear()  # only the bearer token (or nothing) identifies the caller
    return client.request(method, url, headers=headers, json=body).status_code


# (method, url template, body, {role: status}); roles not named expect `default`.
CASES: list[tuple[str, str, Any, dict[str, int]]] = [
    ("GET", "/v1/auth/me", None, {"anonymous": 401, "*": 200}),
    ("GET", "/v1/listings", None, {"anonymous": 401, "*": 200}),
    ("GET", "/v1/listings/{open}", None, {"anonymous": 401, "other_producer": 404, "*": 200}),
    (
        "PATCH",
        "/v1/listings/{open}",
        {"description": "x"},
        {
            "anonymous": 401,
            "other_producer": 404,
            "match_partner": 403,
            "other_partner": 403,
            "admin": 403,
            "analyst": 403,
            "owner": 200,
        },
    ),
    (
        "POST",
        "/v1/listings",
        {"material": "PET", "estimated_kg": "2"},
        {
            "anonymous": 401,
            "match_partner": 403,
            "other_partner": 403,
            "admin": 403,
            "analyst": 403,
            "other_producer": 201,
            "owner": 201,
        },
    ),
    (
        "POST",
        "/v1/listings/{open}/cancel",
        None,
        {
            "anonymous": 401,
            "other_producer": 404,
            "match_partner": 403,
            "other_partner": 403,
            "admin": 403,
            "analyst": 403,
            "owner": 200,
        },
    ),
    ("GET", "/v1/matches", None, {"anonymous": 401, "*": 200}),
    ("GET", "/v1/matches/{match}", None, {"anonymous": 401, "other_producer": 404, "other_partner": 404, "*": 200}),
    (
        "POST",
        "/v1/matches/{match}/accept",
        {},
        {
            "anonymous": 401,
            "owner": 403,
            "other_producer": 404,
            "other_partner": 404,
            "admin": 403,
            "analyst": 403,
            "match_partner": 200,
        },
    ),
    (
        "POST",
        "/v1/matches/{match}/decline",
        {},
        {
            "anonymous": 401,
            "owner": 403,
            "other_producer": 404,
            "other_partner": 404,
            "admin": 403,
            "analyst": 403,
            "match_partner": 200,
        },
    ),
    (
        "POST",
        "/v1/matches/{match}/cancel",
        None,
        {
            "anonymous": 401,
            "other_producer": 404,
            "other_partner": 404,
            "admin": 403,
            "analyst": 403,
            "owner": 200,
            "match_partner": 409,
        },
    ),
    (
        "GET",
        "/v1/producers/me",
        None,
        {"anonymous": 401, "match_partner": 403, "other_partner": 403, "admin": 403, "analyst": 403, "*": 200},
    ),
    ("GET", "/v1/producers/{owner_producer}", None, {"anonymous": 401, "admin": 200, "analyst": 200, "*": 403}),
    ("GET", "/v1/partners/me", None, {"anonymous": 401, "match_partner": 200, "other_partner": 200, "*": 403}),
    ("GET", "/v1/partners", None, {"anonymous": 401, "*": 200}),
    ("GET", "/v1/admin/users", None, {"anonymous": 401, "admin": 200, "*": 403}),
    ("PATCH", "/v1/admin/users/{owner_user}", {"is_active": True}, {"anonymous": 401, "admin": 200, "*": 403}),
    (
        "POST",
        "/v1/admin/users",
        {"email": "new-analyst@example.pe", "password": "Analyst-pass-1", "role": "analyst", "display_name": "N"},
        {"anonymous": 401, "admin": 201, "*": 403},
    ),
    ("GET", "/v1/districts", None, {"*": 200}),
    ("GET", "/healthz", None, {"*": 200}),
]


def _order(expected: dict[str, int]) -> list[str]:
    """Refusals first, then the allowed roles, then conflicts (a second caller after the state has moved on)."""
    status = {r: expected.get(r, expected.get("*", 0)) for r in ROLES}
    return sorted(ROLES, key=lambda r: (status[r] == 409, status[r] < 400, r))


@pytest.mark.parametrize(("method", "url", "body", "expected"), CASES, ids=[f"{m} {u}" for m, u, _, _ in CASES])
def test_role_matrix(
    client: TestClient, world: World, method: str, url: str, body: Any, expected: dict[str, int]
) -> None:
    path = url.format(**world.ids)
    got = {}
    for role in _order(expected):
        got[role] = _call(client, world.actors[role], method, path, body)
    want = {r: expected.get(r, expected.get("*")) for r in ROLES}
    assert got == want


def test_partner_sees_producer_contact_only_after_accepting(make: Factory) -> None:
    owner, partner, other = make.producer(), make.partner(), make.partner()
    listing, match = make.match(owner, partner)
    url = f"/v1/listings/{listing['id']}"
    assert partner.get(url).json()["producer_contact"] is None
    assert other.get(url).json()["producer_contact"] is None
    assert owner.get(url).json()["producer_contact"]["email"] == owner.email
    partner.post(f"/v1/matches/{match['id']}/accept", json={})
    assert partner.get(url).json()["producer_contact"]["email"] == owner.email
    assert other.get(url).status_code == 404  # scheduled listings are no longer public opportunities
    listed = partner.get("/v1/listings").json()["items"]
    assert all(item["producer_contact"] is None for item in listed if item["id"] != listing["id"])

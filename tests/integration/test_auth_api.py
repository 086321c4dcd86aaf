from __future__ import annotations

from fastapi.testclient import TestClient

from tests.integration.conftest import PASSWORD, Factory


def test_register_login_me_logout_revokes_the_token(client: TestClient) -> None:
    r = client.post(
        "/v1/auth/register",
        json={"email": "Ana@Example.pe", "password": PASSWORD, "role": "producer", "display_name": "Ana"},
    )
    assert r.status_code == 201
    assert "password" not in r.text and "password_hash" not in r.text
    r = client.post("/v1/auth/login", json={"email": "ana@example.pe", "password": PASSWORD})
    assert r.status_code == 200
    token = r.json()["access_token"]
    assert "httponly" in r.headers["set-cookie"].lower()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/auth/me", headers=headers).json()["email"] == "ana@example.pe"
    assert client.post("/v1/auth/logout", headers=headers).status_code == 204
    r = client.get("/v1/auth/me", headers=headers)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")


def test_login_with_a_wrong_password_is_refused_with_one_message(client: TestClient, make: Factory) -> None:
    actor = make.user("producer")
    wrong = client.post("/v1/auth/login", json={"email": actor.email, "password": "Wrong-password-9"})
    unknown = client.post("/v1/auth/login", json={"email": "nobody@example.pe", "password": "Wrong-password-9"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_register_refuses_duplicates_weak_passwords_bad_emails_and_admin_roles(client: TestClient) -> None:
    body = {"email": "dup@example.pe", "password": PASSWORD, "role": "partner", "display_name": "D"}
    assert client.post("/v1/auth/register", json=body).status_code == 201
    dup = client.post("/v1/auth/register", json=body)
    assert dup.status_code == 409 and "already exists" in dup.json()["detail"]
    weak = client.post("/v1/auth/register", json={**body, "email": "w@example.pe", "password": "short"})
    assert weak.status_code == 422 and "at least" in weak.json()["detail"]
    bad = client.post("/v1/auth/register", json={**body, "email": "not-an-email"})
    assert bad.status_code == 422
    admin = client.post("/v1/auth/register", json={**body, "email": "a@example.pe", "role": "admin"})
    assert admin.status_code == 422


def test_cookie_session_authenticates_the_browser(client: TestClient, make: Factory) -> None:
    actor = make.user("producer")
    client.cookies.clear()
    client.post("/v1/auth/login", json={"email": actor.email, "password": PASSWORD})
    assert client.get("/v1/auth/me").status_code == 200
    client.cookies.clear()
    assert client.get("/v1/auth/me").status_code == 401


def test_disabled_account_can_no_longer_use_its_token(client: TestClient, make: Factory) -> None:
    admin, producer = make.user("admin"), make.user("producer")
    r = admin.patch(f"/v1/admin/users/{producer.user_id}", json={"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert producer.get("/v1/auth/me").status_code == 401


def test_repeated_wrong_passwords_are_slowed_down_with_retry_after(client: TestClient, make: Factory) -> None:
    actor = make.user("producer")
    statuses = [client.post("/v1/auth/login", json={"email": actor.email, "password": "Wrong-password-9"}).status_code
                for _ in range(6)]
    assert statuses[:5] == [401] * 5
    blocked = client.post("/v1/auth/login", json={"email": actor.email, "password": PASSWORD})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
    assert "Try again" in blocked.json()["detail"]

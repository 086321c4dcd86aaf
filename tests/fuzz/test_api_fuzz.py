"""Schemathesis against Ayni's own OpenAPI: every operation, as a signed-in producer, partner and admin.

Bounded here (``AYNI_FUZZ_EXAMPLES``, default 8 per operation and role) so it fits the test command;
``make fuzz`` runs many more. The property: no request, however malformed, gets a 5xx.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import update

from ayni.api import create_app
from ayni.domain.lifecycle import Role
from ayni.services.auth import create_user
from ayni.services.security import token_digest
from ayni.settings import Settings
from ayni.storage.engine import make_engine, make_session_factory, transaction
from ayni.storage.migrate import upgrade
from ayni.storage.tables import AuthToken, District, User
from ayni.vision import Classifier
from tests.integration.conftest import DISTRICTS, FAST_AUTH, PASSWORD

EXAMPLES = int(os.environ.get("AYNI_FUZZ_EXAMPLES", "8"))
# Every answer is documented: its status code, content type, body schema and headers.
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance,
               response_headers_conformance]
log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{tmp / 'fuzz.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with transaction(factory) as s:
        s.add_all([District(ubigeo=u, departamento=d, provincia=p, distrito=n, latitude=la, longitude=lo,
                            pop_total=pt, pop_urban=pu) for u, d, p, n, la, lo, pt, pu in DISTRICTS])
        for role in ("producer", "partner", "admin"):
            create_user(s, email=f"{role}@fuzz.pe", password=PASSWORD, role=Role(role), display_name=role,
                        settings=FAST_AUTH)
    settings_ = Settings(var_dir=tmp / "var", data_dir=Path(tmp / "no-data"), log_json=False, auth=FAST_AUTH)
    app = create_app(settings_, engine=engine, session_factory=factory, classifier=Classifier.load(threads=1))
    with TestClient(app) as client:
        app.state.tokens = {role: client.post("/v1/auth/login", json={"email": f"{role}@fuzz.pe",
                                                                       "password": PASSWORD}).json()["access_token"]
                            for role in ("producer", "partner", "admin")}
        producer = {"Authorization": f"Bearer {app.state.tokens['producer']}"}
        answers = [
            client.post("/v1/producers", headers=producer, json={"name": "F", "kind": "bodega", "ubigeo": "140101"}),
            client.post("/v1/listings", headers=producer, json={"material": "PET", "estimated_kg": "3"}),
        ]
        partner = {"Authorization": f"Bearer {app.state.tokens['partner']}"}
        answers.append(client.post("/v1/partners", headers=partner, json={
            "name": "P", "kind": "recycler", "ubigeo": "140101", "service_radius_km": 10, "pickup_days": ["mon"],
            "materials": [{"material": "PET", "price_cents_per_kg": 50, "weekly_capacity_kg": "100"}]}))
        assert [r.status_code for r in answers] == [201, 201, 201], [r.text for r in answers]
        yield app
    engine.dispose()


# Calls that would leave the three fuzzing accounts signed out, disabled or with another role (every later
# call would then only see 401/403): the accounts are put back after each of them.
UNDO = {"/v1/auth/logout", "/v1/admin/users/{user_id}"}


def _restore_accounts(app: Any) -> None:
    digests = [token_digest(token) for token in app.state.tokens.values()]
    with transaction(app.state.session_factory) as s:
        for role in ("producer", "partner", "admin"):
            s.execute(update(User).where(User.email == f"{role}@fuzz.pe").values(is_active=True, role=role))
        s.execute(update(AuthToken).where(AuthToken.token_hash.in_(digests)).values(revoked_at=None))


def _expected_outage(path: str, response: Any) -> bool:
    """The fuzz app has no MINAM tables on purpose (fitting on them takes seconds): forecasts then answer
    their documented 503, which tests/integration/test_forecast_api.py covers."""
    return path == "/v1/forecast" and response.status_code == 503 and "MINAM" in response.text


def test_no_request_gets_a_server_error(fuzz_app: Any) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) > 40
    tested, failures, nonconforming, calls = 0, [], [], []
    for op in operations:
        if op.path.startswith("/v1/admin/models"):
            continue  # these start MLflow (seconds per call); covered by tests/integration/test_models_api.py

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def run(case: Any) -> None:
            calls.append(1)
            for role in ("producer", "partner", "admin"):
                headers = {"Authorization": f"Bearer {fuzz_app.state.tokens[role]}"}
                response = case.call(headers=headers)
                if case.path in UNDO:
                    _restore_accounts(fuzz_app)
                if response.status_code >= 500 and not _expected_outage(case.path, response):
                    failures.append(f"{case.method} {case.path} as {role}: {response.status_code} "
                                    f"{response.text[:200]} for {case.path_parameters} {case.query} {case.body!r:.200}")
                try:
                    case.validate_response(response, checks=CONFORMANCE, headers=headers)
                except (FailureGroup, Failure) as exc:
                    nonconforming.append(f"{case.method} {case.path} as {role}: {str(exc)[:700]}")

        run()
        tested += 1
    assert tested > 40
    log.info("fuzzed %d operations with %d generated requests × 3 roles", tested, len(calls))
    assert failures == [], "\n".join(failures[:20])
    assert nonconforming == [], "\n".join(nonconforming[:20])

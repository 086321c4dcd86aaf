"""Stateful fuzzing: schemathesis chains calls along the schema's OpenAPI links (``ayni.api.openapi_links``).

Sequences follow the links on real ids ("list my listings → the first → its ranked partners → a pickup
from the best → the partner accepts → collects" is one path the links allow), each call made by the role
that would make it (match transitions by the partner, admin routes by the admin, the rest by the
producer); every scenario starts from the same database. In the bounded run the chains reach listing
reads and cancellations, admin user updates and partner reads; the pickup → accept → collect chain is
seldom drawn (it is covered by tests/integration/test_lifecycle_api.py). Properties: no 5xx,
every answer documented (status, content type, body schema, headers). Bounded by
``AYNI_FUZZ_STATEFUL_EXAMPLES`` (default 30 scenarios of up to 12 calls); ``make fuzz`` runs more.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from contextlib import closing
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation.modes import GenerationMode

from ayni.api.openapi_links import LINKS
from tests.fuzz.test_api_fuzz import CONFORMANCE, _expected_outage, _restore_accounts, fuzz_app  # noqa: F401

EXAMPLES = int(os.environ.get("AYNI_FUZZ_STATEFUL_EXAMPLES", "30"))
log = logging.getLogger(__name__)
PARTNER_ONLY = ("/accept", "/decline", "/collect")


def _role(path: str) -> str:
    if path.startswith("/v1/admin"):
        return "admin"
    if path.startswith("/v1/partners/me") or path.endswith(PARTNER_ONLY):
        return "partner"
    return "producer"


def test_the_published_schema_carries_the_workflow_links(fuzz_app: Any) -> None:  # noqa: F811
    spec = fuzz_app.openapi()
    found = {name for ops in spec["paths"].values() for op in ops.values()
             for response in op["responses"].values() for name in response.get("links", {})}
    assert {link.name for link in LINKS} <= found
    best = spec["paths"]["/v1/listings/{listing_id}/matches"]["get"]["responses"]["200"]["links"]
    assert best["RequestPickupFromBest"]["requestBody"] == {"partner_id": "$response.body#/0/partner_id"}


def test_chained_calls_never_get_a_server_error(fuzz_app: Any) -> None:  # noqa: F811
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app).exclude(
        path_regex="^/v1/admin/models")  # MLflow: tests/integration/test_models_api.py
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])  # malformed input: test_api_fuzz.py
    calls: list[str] = []
    problems: list[str] = []

    # Every scenario starts from the same database (the fixture's open listing, partner, accounts):
    # the ids the links carry are then the same from one scenario to the next, which Hypothesis needs
    # (data drawn from responses must not depend on what earlier scenarios left behind).
    database = fuzz_app.state.engine.url.database
    snapshot = sqlite3.connect(":memory:")
    with closing(sqlite3.connect(database)) as live:
        live.backup(snapshot)

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            with closing(sqlite3.connect(database)) as live:
                snapshot.backup(live)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": {"Authorization": f"Bearer {fuzz_app.state.tokens[_role(case.path)]}"}}

        def after_call(self, response: Any, case: Any) -> None:
            calls.append(f"{case.method} {case.path} {response.status_code}")
            if case.path in ("/v1/auth/logout", "/v1/admin/users/{user_id}"):
                _restore_accounts(fuzz_app)

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None,
                              **kwargs: Any) -> None:
            if _expected_outage(case.path, response):
                return
            try:
                case.validate_response(response, checks=[not_a_server_error, *CONFORMANCE], **kwargs)
            except (FailureGroup, Failure) as exc:
                problems.append(f"{case.method} {case.path} as {_role(case.path)}: {str(exc)[:600]}")

    Machine.run(settings=settings(max_examples=EXAMPLES, stateful_step_count=12, deadline=None,
                                  derandomize=True, database=None, suppress_health_check=list(HealthCheck)))
    log.info("stateful: %d calls in %d scenarios; reached %s", len(calls), EXAMPLES, sorted(set(calls)))
    log.debug("calls: %s", calls)
    assert problems == [], "\n".join(problems[:20])
    # the chains reached the transitions, not only the entry points
    reached = {c.rsplit(" ", 1)[0] for c in calls}
    assert len(calls) >= EXAMPLES * 2, calls
    assert any(path.startswith("GET /v1/listings/{listing_id}") for path in reached), sorted(reached)

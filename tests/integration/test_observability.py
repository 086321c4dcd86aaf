"""Metrics end to end: a real Ayni under uvicorn (temporary SQLite), scraped by the real Prometheus binary
on loopback with the project's alert rules loaded; the series are read back through Prometheus's HTTP API.
And: every query of the Grafana dashboard runs in that Prometheus and names only metrics the app exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ayni.storage.migrate import upgrade
from tests.integration._servers import REPO, Server, ayni_env, free_port, require_tool, running, uvicorn_cmd

pytestmark = pytest.mark.integration

DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "ayni.json"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}


@dataclass
class Stack:
    api: str
    prometheus: str
    pushgateway: str | None

    def query(self, expr: str) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.prometheus}/api/v1/query", params={"query": expr}, timeout=5)
        body = r.json()
        assert r.status_code == 200 and body["status"] == "success", f"{expr}: {body}"
        return list(body["data"]["result"])

    def wait_for(self, expr: str, *, timeout_s: float = 20,
                 until: Callable[[list[dict[str, Any]]], bool] | None = None) -> list[dict[str, Any]]:
        """The query's result once it is non-empty and, with ``until``, once ``until(result)`` holds: a scrape
        taken while the traffic was still being sent shows partial counts (Prometheus scrapes every second)."""
        deadline = time.monotonic() + timeout_s
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result and (until is None or until(result)):
                return result
            time.sleep(0.25)
        if result:
            return result  # let the caller's assertion show what was seen
        raise AssertionError(f"no series for {expr} after {timeout_s}s")


def _prometheus_config(path: Path, api_port: int, push_port: int | None) -> None:
    # JSON is YAML: no YAML library needed to write Prometheus's config.
    jobs: list[dict[str, Any]] = [
        {"job_name": "ayni", "metrics_path": "/metrics", "static_configs": [{"targets": [f"127.0.0.1:{api_port}"]}]}
    ]
    if push_port is not None:
        target = {"targets": [f"127.0.0.1:{push_port}"]}
        jobs.append({"job_name": "pushgateway", "honor_labels": True, "static_configs": [target]})
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],
        "scrape_configs": jobs,
    }
    path.write_text(json.dumps(config), encoding="utf-8")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus = require_tool("prometheus")
    tmp = tmp_path_factory.mktemp("observability")
    url = f"sqlite:///{tmp / 'ayni.db'}"
    upgrade(url)
    api_port, prom_port = free_port(), free_port()
    pushgateway = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
    push_port = free_port() if pushgateway else None
    _prometheus_config(tmp / "prometheus.yml", api_port, push_port)
    prom_cmd = [
        prometheus,
        f"--config.file={tmp / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
        "--log.level=warn",
    ]
    api_cmd = uvicorn_cmd("tests.integration._obs_app:create_app_for_test", api_port)
    api, prom = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{prom_port}"
    servers = [
        Server(api_cmd, ayni_env(database_url=url, var_dir=tmp / "var"), f"{api}/healthz"),
        Server(prom_cmd, {}, f"{prom}/-/ready"),
    ]
    push = f"http://127.0.0.1:{push_port}" if push_port else None
    if pushgateway and push:
        push_cmd = [pushgateway, f"--web.listen-address=127.0.0.1:{push_port}", "--log.level=warn"]
        servers.append(Server(push_cmd, {}, f"{push}/-/ready"))
    with running(*servers):
        _send_traffic(api)
        time.sleep(2.5)  # at least one full scrape (every 1 s) after the last request
        yield Stack(api=api, prometheus=prom, pushgateway=push)


def _send_traffic(api: str) -> None:
    with httpx.Client(base_url=api, timeout=10) as c:
        assert c.get("/readyz").status_code == 200
        for listing_id in (101, 202, 303):
            assert c.get(f"/v1/listings/{listing_id}").status_code == 401
        assert c.get("/no/such/page/12345").status_code == 404
        assert c.post("/v1/auth/login", json={"email": "nobody"}).status_code == 422
        for _ in range(2):  # uvicorn closes the connection after an unhandled exception: don't reuse it
            assert c.get("/test/boom", headers={"Connection": "close"}).status_code == 500
        for material, confidence, abstained in (("plastic", 0.93, False), ("PET", 0.41, True), ("glass", 0.88, False)):
            params: dict[str, str | float | bool] = {"material": material, "confidence": confidence, "abstained": abstained}
            assert c.post("/test/classify", params=params).status_code == 200
        assert c.post("/test/business", params={"material": "PET", "ubigeo": "140101"}).status_code == 200


def _value(result: list[dict[str, Any]]) -> float:
    return sum(float(r["value"][1]) for r in result)


def test_prometheus_scrapes_http_series_by_route_template(stack: Stack) -> None:
    rows = stack.wait_for('ayni_http_requests_total{route="/v1/listings/{listing_id}",status="401"}')
    assert _value(rows) == 3
    assert rows[0]["metric"]["job"] == "ayni" and rows[0]["metric"]["method"] == "GET"
    assert _value(stack.wait_for('ayni_http_requests_total{route="unmatched",status="404"}')) == 1
    assert _value(stack.wait_for('ayni_http_requests_total{route="/v1/auth/login",status="422"}')) == 1
    latency = stack.wait_for('ayni_http_request_duration_seconds_count{route="/v1/listings/{listing_id}"}')
    assert _value(latency) == 3
    routes = {r["metric"]["route"] for r in stack.query("ayni_http_requests_total")}
    assert not any(re.search(r"\d{3,}", route) for route in routes), f"raw paths leaked into labels: {routes}"


def test_prometheus_sees_server_errors_and_the_error_ratio(stack: Stack) -> None:
    assert _value(stack.wait_for('ayni_http_requests_total{route="/test/boom",status="500"}')) == 2
    ratio = stack.wait_for(
        'sum(ayni_http_requests_total{status=~"5.."}) / sum(ayni_http_requests_total{route!="/metrics"})'
    )
    assert 0 < _value(ratio) < 1


def test_prometheus_sees_classifications_model_version_and_readiness(stack: Stack) -> None:
    rows = stack.wait_for("ayni_classifier_predictions_total", until=lambda rs: sum(float(r["value"][1]) for r in rs) >= 3)
    predicted = {r["metric"]["material"]: float(r["value"][1]) for r in rows}
    assert predicted == {"plastic": 2.0, "glass": 1.0}  # PET is counted as its class, plastic
    assert _value(stack.wait_for("ayni_classifier_confidence_count")) == 3
    assert _value(stack.wait_for('ayni_classifier_confidence_bucket{le="0.5"}')) == 1
    assert _value(stack.wait_for("ayni_classifier_abstentions_total")) == 1
    info = stack.wait_for("ayni_model_info == 1")
    assert {r["metric"]["version"] for r in info} == {"test-model-1"}
    assert _value(stack.wait_for('ayni_model_loaded{model="vision"}')) == 1
    assert _value(stack.wait_for('ayni_ready{check="database"}')) == 1
    assert _value(stack.wait_for('up{job="ayni"}')) == 1


def test_prometheus_sees_business_job_and_drift_series_with_bounded_labels(stack: Stack) -> None:
    rows = stack.wait_for("ayni_listings_created_total")
    assert [(r["metric"]["material"], r["metric"]["department"]) for r in rows] == [("plastic", "LAMBAYEQUE")]
    assert _value(stack.wait_for("ayni_collected_kg_total")) == 12.5
    assert _value(stack.wait_for("ayni_paid_soles_total")) == 10.0
    assert _value(stack.wait_for("ayni_co2e_avoided_kg_total")) == pytest.approx(3.2)
    assert _value(stack.wait_for('ayni_matches_total{event="accepted"}')) == 1
    assert _value(stack.wait_for('ayni_job_runs_total{job="ayni",task="retrain",outcome="failure"}')) == 1
    assert _value(stack.wait_for('ayni_drift_score{model="vision",signal="confidence"}')) == pytest.approx(0.4)


def test_alert_rules_load_and_the_drift_and_retraining_alerts_go_pending(stack: Stack) -> None:
    deadline = time.monotonic() + 20
    while True:
        groups = httpx.get(f"{stack.prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
        rules = [rule for g in groups for rule in g["rules"]]
        states = {rule["name"]: rule["state"] for rule in rules}
        if states.get("AyniModelDrift") in ("pending", "firing") and states.get("AyniRetrainingFailed") == "firing":
            break
        assert time.monotonic() < deadline, f"alerts did not trigger: {states}"
        time.sleep(0.5)
    assert len(rules) == 12
    assert all(rule["health"] == "ok" for rule in rules), [(r["name"], r.get("lastError")) for r in rules]


BATCH_JOB = """
import sys
from ayni.observability import metrics

try:
    with metrics.track_job("retrain", pushgateway=sys.argv[1]):
        raise RuntimeError("the trainer crashed")
except RuntimeError:
    pass
with metrics.track_job("allocate", pushgateway=sys.argv[1]):
    metrics.record_matching(kind="allocation", latency_s=1.5, candidates=40)
"""


def test_a_batch_job_pushes_its_outcome_through_the_pushgateway_and_the_failure_alert_fires(stack: Stack) -> None:
    if stack.pushgateway is None:
        require_tool("prometheus-pushgateway")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run([sys.executable, "-c", BATCH_JOB, str(stack.pushgateway)], env=env, check=True, timeout=60)
    failed = stack.wait_for('ayni_job_last_failure_timestamp_seconds{job="ayni-batch",task="retrain"}')
    assert 0 < _value(failed) <= time.time()
    assert stack.wait_for('ayni_job_last_success_timestamp_seconds{job="ayni-batch",task="allocate"}')
    assert _value(stack.wait_for('ayni_matching_candidates_sum{job="ayni-batch",kind="allocation"}')) == 40
    assert stack.query('{job="ayni-batch",__name__=~"ayni_http_.*|ayni_classifier_.*"}') == []
    alerts = stack.wait_for('ALERTS{alertname="AyniRetrainingFailed",alertstate="firing"}')
    assert {a["metric"]["task"] for a in alerts} == {"retrain"}
    assert stack.query('ALERTS{alertname="AyniAllocationFailed"}') == []


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (strings, label matchers, grouping lists and ranges removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", text):
        word, is_call = match.group(1), match.group(2)
        if is_call or word in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def exported_names(exposition: str) -> set[str]:
    """Every sample name the exposition can contain: histograms give _bucket/_sum/_count, counters _total."""
    names: set[str] = set()
    for line in exposition.splitlines():
        m = re.match(r"# TYPE (\S+) (\w+)", line)
        if not m:
            continue
        name, kind = m.groups()
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif kind == "counter" and not name.endswith("_total"):
            names.add(f"{name}_total")
    return names


def test_every_dashboard_query_names_only_metrics_the_live_app_exports(stack: Stack) -> None:
    exported = exported_names(httpx.get(f"{stack.api}/metrics", timeout=5).text)
    queries = dashboard_queries()
    assert len(queries) >= 30
    used: set[str] = set()
    for title, expr in queries:
        names = metric_names(expr)
        assert names, f"panel '{title}' reads no metric: {expr}"
        missing = names - exported
        assert not missing, f"panel '{title}' reads {sorted(missing)}, which /metrics does not export"
        used |= names
    assert {"ayni_http_requests_total", "ayni_classifier_confidence_bucket", "ayni_drift_score"} <= used


def test_every_dashboard_query_runs_in_prometheus(stack: Stack) -> None:
    for title, expr in dashboard_queries():
        concrete = expr.replace("$__range", "5m").replace("$material", ".*").replace("$department", ".*")
        r = httpx.get(f"{stack.prometheus}/api/v1/query", params={"query": concrete}, timeout=5)
        assert r.status_code == 200 and r.json()["status"] == "success", f"panel '{title}': {r.text}"


def test_metric_name_extraction_ignores_labels_functions_and_grouping() -> None:
    expr = 'histogram_quantile(0.95, sum by (le, route) (rate(x_bucket{route!="/metrics",le="0.5"}[5m]))) / on (a) y'
    assert metric_names(expr) == {"x_bucket", "y"}
    assert metric_names("(time() - max by (task) (z_ts)) / 3600") == {"z_ts"}

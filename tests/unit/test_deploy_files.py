"""The deployment files are checked, not just written: Prometheus config and rules with promtool (and the
rule unit tests that fire every alert), the Grafana dashboard's PromQL, the Kubernetes manifests against a
pinned Kubernetes version's schemas, and the Dockerfile and docker-compose.yml for the properties we rely on.

A missing tool skips its test with the reason, unless AYNI_REQUIRE_TOOLS=1 (CI), where it fails. There is
no Docker engine here, so no image is built: the Dockerfile is parsed, and compose is checked with
``docker-compose config`` (which needs no engine)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROM = DEPLOY / "prometheus"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.34.0"  # the oldest Kubernetes release the manifests must be valid for


def _missing(reason: str) -> None:
    if os.environ.get("AYNI_REQUIRE_TOOLS") == "1":
        pytest.fail(f"AYNI_REQUIRE_TOOLS=1 but {reason}")
    pytest.skip(reason)


def _tool(name: str, install: str) -> str:
    path = shutil.which(name)
    if path is None:
        _missing(f"'{name}' is not installed ({install})")
    assert path is not None
    return path


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        _missing("PyYAML is not installed (pip install pyyaml==6.0.3)")
    return yaml


def _load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in _yaml().safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _run(cmd: list[str], cwd: Path = REPO, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


# ------------------------------------------------------------------------------------------ Prometheus


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-k8s.yml"])
def test_promtool_accepts_the_prometheus_config(config: str) -> None:
    out = _run([_tool("promtool", "apt-get install -y prometheus"), "check", "config", config], cwd=PROM)
    assert "SUCCESS" in out


def test_promtool_accepts_the_alert_rules() -> None:
    out = _run([_tool("promtool", "apt-get install -y prometheus"), "check", "rules", "alerts.yml"], cwd=PROM)
    assert "SUCCESS" in out


def test_promtool_rule_unit_tests_pass() -> None:
    tests = sorted(str(p.relative_to(PROM)) for p in (PROM / "tests").glob("*.yml"))
    assert tests
    out = _run([_tool("promtool", "apt-get install -y prometheus"), "test", "rules", *tests], cwd=PROM)
    assert "FAILED" not in out


def _alerts() -> dict[str, dict[str, Any]]:
    (doc,) = _load_all(PROM / "alerts.yml")
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"] if "alert" in r}


def test_every_alert_is_made_to_fire_by_a_rule_unit_test() -> None:
    fired: set[str] = set()
    for path in (PROM / "tests").glob("*.yml"):
        for doc in _load_all(path):
            for case in doc["tests"]:
                for check in case.get("alert_rule_test", []):
                    if check.get("exp_alerts"):
                        fired.add(check["alertname"])
    assert set(_alerts()) == fired


def test_the_required_alerts_exist_with_a_severity_and_a_runbook_in_the_operations_guide() -> None:
    alerts = _alerts()
    required = {
        "AyniHighErrorRate",
        "AyniLatencySLOFastBurn",
        "AyniModelUnavailable",
        "AyniModelDrift",
        "AyniClassifierConfidenceCollapse",
        "AyniRetrainingFailed",
    }
    assert required <= set(alerts)
    guide = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-") for h in re.findall(r"^#+ (.+)$", guide, re.M)}
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        runbook = rule["annotations"]["runbook"]
        assert runbook.startswith("docs/operations.md#"), name
        assert runbook.split("#", 1)[1] in anchors, f"{name}: no heading for {runbook} in docs/operations.md"


def test_compose_prometheus_scrapes_the_api_and_the_pushgateway() -> None:
    (config,) = _load_all(PROM / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["ayni"]["static_configs"][0]["targets"] == ["api:8000"]
    assert jobs["pushgateway"]["honor_labels"] is True
    assert config["rule_files"] == ["alerts.yml"]


# ------------------------------------------------------------------------------------------ Grafana


def _dashboard() -> dict[str, Any]:
    return dict(json.loads((DEPLOY / "grafana" / "dashboards" / "ayni.json").read_text(encoding="utf-8")))


def test_dashboard_has_the_four_sections_and_uses_the_provisioned_datasource() -> None:
    dash = _dashboard()
    rows = [p["title"] for p in dash["panels"] if p["type"] == "row"]
    assert rows[:1] == ["Service"] and {"Service", "Models", "Business", "Drift"} <= set(rows)
    (datasource,) = _load_all(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    uid = datasource["datasources"][0]["uid"]
    for panel in dash["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == uid, panel["title"]
    (provider,) = _load_all(DEPLOY / "grafana" / "provisioning" / "dashboards" / "ayni.yml")
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each panel query (as a recording rule); the live check is in test_observability."""
    exprs = [t["expr"] for p in _dashboard()["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 30
    rules = [
        {"record": f"dashboard:query_{i}", "expr": e.replace("$__range", "1h").replace("$material", ".*").replace("$department", ".*")}
        for i, e in enumerate(exprs)
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    out = _run([_tool("promtool", "apt-get install -y prometheus"), "check", "rules", str(path)])
    assert f"SUCCESS: {len(rules)} rules found" in out


# ------------------------------------------------------------------------------------------ Kubernetes


def _manifests() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, doc) for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml" for doc in _load_all(p)]


def _kinds() -> dict[tuple[str, str], dict[str, Any]]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in _manifests()}


def test_kubernetes_manifests_validate_against_the_pinned_kubernetes_schemas() -> None:
    try:
        import kubernetes_validate
    except ImportError:
        _missing("kubernetes-validate is not installed (pip install kubernetes-validate==1.37.0)")
    manifests = _manifests()
    assert len(manifests) >= 12
    for path, doc in manifests:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name} {doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.path)}")


def test_kustomization_lists_every_manifest_except_the_secret_template_and_the_migration_job() -> None:
    """The Secret is filled in by hand; the migration Job runs (and completes) before each rollout."""
    (kustomization,) = _load_all(K8S / "kustomization.yaml")
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.template.yaml", "migrate-job.yaml"}
    assert set(kustomization["resources"]) == files


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return dict(spec["template"]["spec"])


def test_api_deployment_has_probes_limits_and_runs_as_non_root() -> None:
    deployment = _kinds()[("Deployment", "ayni-api")]
    pod = _pod_spec(deployment)
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert deployment["spec"]["replicas"] >= 2
    claims = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
    assert "ayni-var" in claims and ("PersistentVolumeClaim", "ayni-var") in _kinds()


def test_every_container_has_resource_limits_and_the_database_url_from_the_secret() -> None:
    for (kind, name), doc in _kinds().items():
        if kind not in ("Deployment", "Job", "CronJob"):
            continue
        for container in _pod_spec(doc)["containers"]:
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), f"{kind}/{name}"
            if container["image"].startswith("ghcr.io/ayni-pe/"):
                env = {e["name"]: e for e in container.get("env", [])}
                assert env["AYNI_DATABASE__URL"]["valueFrom"]["secretKeyRef"]["name"] == "ayni-secrets", name


def test_hpa_scales_the_api_deployment() -> None:
    hpa = _kinds()[("HorizontalPodAutoscaler", "ayni-api")]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ayni-api"}
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def test_cronjobs_run_allocate_and_retrain_and_a_job_runs_the_migrations() -> None:
    kinds = _kinds()
    args = {name: _pod_spec(doc)["containers"][0]["args"] for (kind, name), doc in kinds.items() if kind == "CronJob"}
    assert args["ayni-retrain"] == ["ayni", "retrain"]
    assert args["ayni-allocate"][:2] == ["ayni", "allocate"] and "--apply" in args["ayni-allocate"]
    config = kinds[("ConfigMap", "ayni-config")]["data"]
    for ref in re.findall(r"\$\((\w+)\)", " ".join(args["ayni-allocate"])):
        assert ref in config, f"the allocate CronJob expands $({ref}), which the ConfigMap does not define"
    for (kind, _), doc in kinds.items():
        if kind == "CronJob":
            assert doc["spec"]["concurrencyPolicy"] == "Forbid"
    (migrate,) = [doc for (kind, _), doc in kinds.items() if kind == "Job"]
    assert _pod_spec(migrate)["containers"][0]["args"] == ["ayni", "db", "upgrade"]
    assert _pod_spec(migrate)["restartPolicy"] == "Never"


def test_secret_template_holds_no_real_secret() -> None:
    (secret,) = _load_all(K8S / "secret.template.yaml")
    assert secret["kind"] == "Secret" and "CHANGE_ME" in secret["stringData"]["database-url"]


# ------------------------------------------------------------------------------------------ Docker


def _stages() -> list[tuple[str, list[str]]]:
    """(stage name, its instructions) for each FROM in the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text(encoding="utf-8"))
    stages: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
            assert match is not None
            stages.append((match.group(2) or match.group(1), [line]))
        elif stages:
            stages[-1][1].append(line)
    return stages


def test_dockerfile_is_multi_stage_slim_and_its_runtime_runs_as_non_root_with_a_healthcheck() -> None:
    stages = _stages()
    names = [name for name, _ in stages]
    assert len(stages) >= 3 and names[-1] == "runtime", "the default target (last stage) must be the runtime"
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.11[\w.-]*-slim", text)
    runtime = " ".join(stages[-1][1])
    user = re.findall(r"\bUSER\s+(\S+)", runtime)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "HEALTHCHECK" in runtime and "/healthz" in runtime
    assert re.search(r'CMD \["ayni", "serve"', runtime)
    assert "COPY --from=build " in runtime and "build-train" not in runtime


def test_serving_image_has_onnxruntime_and_no_pytorch() -> None:
    import tomllib

    deps = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    assert any(d.startswith("onnxruntime") for d in deps)
    assert not any(d.startswith("torch") for d in deps), "torch must stay an optional 'train' extra"
    stages = dict(_stages())
    assert not any("torch" in line for line in stages["build"]), "the runtime's build stage must not install torch"
    torch_lines = [line for line in stages["build-train"] if "torch" in line]
    assert torch_lines and all("download.pytorch.org/whl/cpu" in line for line in torch_lines)


def _compose() -> dict[str, Any]:
    (doc,) = _load_all(REPO / "docker-compose.yml")
    return doc


def test_compose_has_the_stack_with_health_gated_start_and_no_plaintext_secrets() -> None:
    services = _compose()["services"]
    assert {"api", "postgres", "prometheus", "grafana", "mlflow", "migrate"} <= set(services)
    api = services["api"]
    assert api["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["ayni", "db", "upgrade"]
    assert "/readyz" in " ".join(api["healthcheck"]["test"])
    assert "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in services["prometheus"]["volumes"]
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in services["grafana"]["volumes"]
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    values = re.findall(r"^\s*[A-Z_]*PASSWORD[A-Z_]*:\s*(.+)$", text, re.M) + re.findall(r"://[^:/\s]+:([^@\s]+)@", text)
    assert values
    for value in values:
        assert value.startswith("${"), f"plaintext secret in docker-compose.yml: {value}"


def test_docker_compose_config_accepts_the_file() -> None:
    compose = _tool("docker-compose", "apt-get install -y docker-compose")
    env = {**os.environ, "AYNI_DB_PASSWORD": "x", "GRAFANA_ADMIN_PASSWORD": "y", "ALLOCATE_ADMIN_EMAIL": "a@b.pe"}
    _run([compose, "-f", "docker-compose.yml", "--profile", "jobs", "config", "-q"], env=env)

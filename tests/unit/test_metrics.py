"""Metrics recording: bounded labels, route templates, job outcomes, commit-only business counts, and several
processes merged through PROMETHEUS_MULTIPROC_DIR."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY
from starlette.routing import compile_path

from ayni.observability import metrics

SRC = Path(__file__).resolve().parents[2] / "src"


def sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_materials_are_reduced_to_the_seven_classes() -> None:
    assert metrics.material_label("PET") == "plastic"
    assert metrics.material_label("cardboard") == "cardboard"
    assert metrics.material_label("not-a-material") == "other"
    assert metrics.material_label(None) == "unknown"


def test_districts_are_reduced_to_departments() -> None:
    assert metrics.department_label("140101") == "LAMBAYEQUE"
    assert metrics.department_label("070101") == "CALLAO"
    assert metrics.department_label("990101") == "unknown"
    assert metrics.department_label(None) == "unknown"
    assert len(set(metrics.DEPARTMENTS.values())) == 25


def _scope(template: str, path: str) -> dict[str, object]:
    regex, path_format, _ = compile_path(template)
    return {"route": SimpleNamespace(path=template, path_format=path_format, path_regex=regex), "path": path}


def test_route_template_restores_the_router_prefix_and_never_returns_the_raw_path() -> None:
    assert metrics.route_template(_scope("/listings/{listing_id}", "/v1/listings/5")) == "/v1/listings/{listing_id}"
    assert metrics.route_template(_scope("/healthz", "/healthz")) == "/healthz"
    assert metrics.route_template({"path": "/v1/listings/5"}) == "unmatched"


def test_free_form_label_values_are_capped() -> None:
    for i in range(80):
        metrics.set_drift(model="cap-test", signal=f"feature-{i}", score=0.1, threshold=0.2)
    signals = {
        s.labels["signal"]
        for family in REGISTRY.collect()
        if family.name == "ayni_drift_score"
        for s in family.samples
        if s.labels["model"] == "cap-test"
    }
    assert "other" in signals and len(signals) <= 65


def test_track_job_records_a_failure_and_reraises() -> None:
    before = sample("ayni_job_runs_total", task="unit-job", outcome="failure")
    with pytest.raises(RuntimeError), metrics.track_job("unit-job"):
        raise RuntimeError("solver crashed")
    assert sample("ayni_job_runs_total", task="unit-job", outcome="failure") == before + 1
    assert sample("ayni_job_last_failure_timestamp_seconds", task="unit-job") > 0
    with metrics.track_job("unit-job"):
        pass
    assert sample("ayni_job_last_success_timestamp_seconds", task="unit-job") >= sample(
        "ayni_job_last_failure_timestamp_seconds", task="unit-job"
    )


def test_collection_adds_kg_soles_and_co2e_by_class_and_department() -> None:
    labels = {"material": "glass", "department": "PIURA"}
    kg, soles = sample("ayni_collected_kg_total", **labels), sample("ayni_paid_soles_total", **labels)
    metrics.record_collection(material="glass", ubigeo="200101", kg=10.0, paid_cents=450, co2e_kg=2.5)
    assert sample("ayni_collected_kg_total", **labels) == kg + 10.0
    assert sample("ayni_paid_soles_total", **labels) == pytest.approx(soles + 4.5)
    assert sample("ayni_co2e_avoided_kg_total", **labels) >= 2.5


def test_on_commit_counts_only_committed_writes() -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine("sqlite://")
    labels = {"material": "metal", "department": "TACNA"}
    before = sample("ayni_listings_created_total", **labels)
    with Session(engine) as session:
        with session.begin():
            metrics.on_commit(session, lambda: metrics.record_listing_created(material="metal", ubigeo="230101"))
        assert sample("ayni_listings_created_total", **labels) == before + 1
        session.begin()
        metrics.on_commit(session, lambda: metrics.record_listing_created(material="metal", ubigeo="230101"))
        session.rollback()
        with session.begin():
            pass
    assert sample("ayni_listings_created_total", **labels) == before + 1


def test_push_to_an_unreachable_gateway_warns_instead_of_failing_the_job() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert metrics.push(f"http://127.0.0.1:{port}", task="unit-job") is False


def test_several_processes_are_merged_through_the_multiprocess_directory(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(SRC)}
    record = textwrap.dedent("""
        from ayni.observability import metrics
        metrics.record_listing_created(material="PET", ubigeo="150101")
        metrics.record_job(task="retrain", success=True, duration_s=5.0, finished_at=1000.0)
    """)
    for _ in range(2):
        subprocess.run([sys.executable, "-c", record], env=env, check=True, timeout=60)
    read = "from ayni.observability import metrics; import sys; sys.stdout.write(metrics.exposition().decode())"
    out = subprocess.run([sys.executable, "-c", read], env=env, check=True, timeout=60, capture_output=True, text=True)
    assert 'ayni_listings_created_total{department="LIMA",material="plastic"} 2.0' in out.stdout
    assert 'ayni_job_runs_total{outcome="success",task="retrain"} 2.0' in out.stdout
    assert 'ayni_job_last_success_timestamp_seconds{task="retrain"} 1000.0' in out.stdout

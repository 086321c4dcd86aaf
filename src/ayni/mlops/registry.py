"""Experiment tracking and the model registry, on MLflow. The only module in Ayni that imports ``mlflow``.

Local by default: a SQLite backend and an artifact folder under ``AYNI_VAR_DIR/mlflow`` (see
``RegistryConfig.local``); any MLflow server by giving its URI (``RegistryConfig.remote`` or the
``MLFLOW_TRACKING_URI`` variable read by the commands). MLflow is imported and configured when a
``ModelRegistry`` is created, never at import time, and always through an explicit client (no global
``mlflow.set_tracking_uri``), so two registries in one process never see each other.

A model is a directory of plain files (ONNX + JSON, ``.npz`` + JSON: never pickle) that its own package
knows how to load. A run logs that directory under ``model/`` together with an ``MLmodel`` file holding
the input/output signature, the params, the metrics, the plots and the data version (a content hash of
the split manifest / inputs, tag ``ayni.data_version``). Registered versions carry the aliases
``champion`` (served) and ``challenger`` (waiting for the gate); the registered model's tag
``ayni.champion_history`` keeps the promotion history so that ``rollback`` restores the previous champion.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from ayni.errors import Conflict, ModelUnavailable, NotFound, ServiceUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

CHAMPION = "champion"
CHALLENGER = "challenger"
MODEL_ARTIFACT = "model"
PLOTS_ARTIFACT = "plots"
TAG_MODEL = "ayni.model"
TAG_DATA_VERSION = "ayni.data_version"
TAG_HISTORY = "ayni.champion_history"
TAG_STATUS = "ayni.status"
_ABSENT = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")  # MLflow: no such model / alias
TAG_REASON = "ayni.decision_reason"
DESCRIPTOR_FILE = "ayni_model.json"


@dataclass(frozen=True, slots=True)
class RegistryConfig:
    """Where runs and registered models live."""

    tracking_uri: str
    registry_uri: str | None = None
    artifact_location: str | None = None  # for experiments this registry creates
    experiment: str = "ayni"

    @classmethod
    def local(cls, var_dir: Path, *, experiment: str = "ayni") -> RegistryConfig:
        """SQLite backend and artifacts under ``var_dir/mlflow`` (the embedded default)."""
        root = Path(var_dir).resolve() / "mlflow"
        return cls(
            tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
            artifact_location=(root / "artifacts").as_uri(),
            experiment=experiment,
        )

    @classmethod
    def from_env(cls, var_dir: Path, *, experiment: str = "ayni") -> RegistryConfig:
        """``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI`` when set (a real server), else ``local``."""
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            return cls.local(var_dir, experiment=experiment)
        return cls(tracking_uri=uri, registry_uri=os.environ.get("MLFLOW_REGISTRY_URI"), experiment=experiment)


@dataclass(frozen=True, slots=True)
class Signature:
    """Example input and output; MLflow infers column or tensor specs from them."""

    inputs: np.ndarray | pd.DataFrame
    outputs: np.ndarray | pd.DataFrame | None = None


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered version, with what its training run logged."""

    name: str
    version: int
    run_id: str | None
    source: str
    aliases: tuple[str, ...]
    tags: dict[str, str]
    created_at: datetime
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    data_version: str | None = None

    @property
    def is_champion(self) -> bool:
        return CHAMPION in self.aliases

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "aliases": list(self.aliases),
            "status": self.tags.get(TAG_STATUS),
            "reason": self.tags.get(TAG_REASON),
            "data_version": self.data_version,
            "metrics": self.metrics,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Loaded(Generic[T]):
    """A model object together with the registered version it came from."""

    model: T
    version: ModelVersion
    path: Path


class ModelRegistry:
    """Runs, registered versions, aliases and promotion history on one MLflow backend."""

    def __init__(self, config: RegistryConfig) -> None:
        self.config = config
        if config.tracking_uri.startswith("sqlite:///"):
            Path(config.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        try:
            from mlflow import MlflowClient

            self._client: Any = MlflowClient(tracking_uri=config.tracking_uri, registry_uri=config.registry_uri)
        except Exception as exc:  # noqa: BLE001 — any backend failure is "registry unavailable"
            raise ServiceUnavailable(f"Cannot open the model registry at {config.tracking_uri}.") from exc
        self._experiment_id: str | None = None

    # --- tracking -------------------------------------------------------------------------------

    def experiment_id(self) -> str:
        if self._experiment_id is None:
            found = self._client.get_experiment_by_name(self.config.experiment)
            self._experiment_id = (
                found.experiment_id
                if found is not None
                else self._client.create_experiment(
                    self.config.experiment, artifact_location=self.config.artifact_location
                )
            )
        return self._experiment_id

    def log_run(
        self,
        *,
        model_name: str,
        model_dir: Path,
        data_version: str,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        signature: Signature | None = None,
        plots: Mapping[str, str] | None = None,
        artifacts: Sequence[Path] = (),
        tags: Mapping[str, str] | None = None,
        run_name: str | None = None,
    ) -> str:
        """Log one training run (model directory, MLmodel signature, params, metrics, plots); its run id.

        ``plots`` maps a file name (``confusion.svg``, ``drift.html``) to its text.
        """
        if not Path(model_dir).is_dir():
            raise NotFound(f"No model directory at {model_dir}.")
        run_tags = {TAG_MODEL: model_name, TAG_DATA_VERSION: data_version, **(tags or {})}
        run = self._client.create_run(self.experiment_id(), run_name=run_name, tags=run_tags)
        run_id: str = run.info.run_id
        try:
            self._log_values(run_id, params or {}, metrics or {})
            with tempfile.TemporaryDirectory(prefix="ayni-run-") as tmp:
                staged = Path(tmp) / MODEL_ARTIFACT
                shutil.copytree(model_dir, staged)
                self._write_mlmodel(staged, run_id=run_id, signature=signature, model_name=model_name)
                self._client.log_artifacts(run_id, str(staged), MODEL_ARTIFACT)
                for name, text in (plots or {}).items():
                    (Path(tmp) / name).write_text(text, encoding="utf-8")
                    self._client.log_artifact(run_id, str(Path(tmp) / name), PLOTS_ARTIFACT)
            for path in artifacts:
                self._client.log_artifact(run_id, str(path))
        except Exception:
            self._client.set_terminated(run_id, status="FAILED")
            raise
        self._client.set_terminated(run_id)
        log.info("logged run %s for %s (data %s)", run_id, model_name, data_version)
        return run_id

    def log_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None:
        """Add metrics to a finished run (e.g. the gate's evaluation on the frozen set)."""
        for key, value in metrics.items():
            self._client.log_metric(run_id, key, float(value))

    def _log_values(self, run_id: str, params: Mapping[str, Any], metrics: Mapping[str, float]) -> None:
        for key, value in params.items():
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            self._client.log_param(run_id, key, text[:6000])
        for key, num in metrics.items():
            if num is not None and np.isfinite(num):
                self._client.log_metric(run_id, key, float(num))

    @staticmethod
    def _write_mlmodel(staged: Path, *, run_id: str, signature: Signature | None, model_name: str) -> None:
        from mlflow.models import Model, infer_signature

        sig = infer_signature(signature.inputs, signature.outputs) if signature is not None else None
        descriptor = staged / DESCRIPTOR_FILE
        meta = json.loads(descriptor.read_text(encoding="utf-8")) if descriptor.exists() else {}
        Model(artifact_path=MODEL_ARTIFACT, run_id=run_id, signature=sig, metadata={"ayni_model": model_name,
              "format": meta.get("format", "directory")}).save(str(staged / "MLmodel"))

    # --- registry ------------------------------------------------------------------------------

    def register(self, *, model_name: str, run_id: str, alias: str | None = CHALLENGER) -> ModelVersion:
        """Register a run's model as a new version of ``model_name`` and give it ``alias``."""
        from mlflow.exceptions import MlflowException

        try:
            self._client.get_registered_model(model_name)
        except MlflowException:
            self._client.create_registered_model(model_name, tags={TAG_HISTORY: "[]"})
        mv = self._client.create_model_version(
            model_name, f"runs:/{run_id}/{MODEL_ARTIFACT}", run_id=run_id, tags={TAG_STATUS: "registered"}
        )
        if alias:
            self._client.set_registered_model_alias(model_name, alias, mv.version)
        log.info("registered %s version %s (%s)", model_name, mv.version, alias or "no alias")
        return self.version(model_name, int(mv.version))

    def models(self) -> list[str]:
        return sorted(m.name for m in self._client.search_registered_models())

    def versions(self, model_name: str) -> list[ModelVersion]:
        """Every version of ``model_name``, newest first (empty when it has none)."""
        found = self._client.search_model_versions(f"name='{model_name}'")
        aliases = self._aliases(model_name)
        return sorted((self._to_version(mv, aliases) for mv in found), key=lambda v: -v.version)

    def version(self, model_name: str, version: int) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        try:
            return self._to_version(self._client.get_model_version(model_name, str(version)), self._aliases(model_name))
        except MlflowException as exc:
            raise NotFound(f"{model_name} has no version {version}.") from exc

    def by_alias(self, model_name: str, alias: str) -> ModelVersion | None:
        from mlflow.exceptions import MlflowException

        try:
            mv = self._client.get_model_version_by_alias(model_name, alias)
        except MlflowException as exc:
            if exc.error_code in _ABSENT:  # no such model, or no version holds the alias
                return None
            raise ServiceUnavailable(f"The model registry did not answer ({exc.error_code}); "
                                     "the models already loaded keep serving.") from exc
        return self._to_version(mv, self._aliases(model_name))

    def champion(self, model_name: str) -> ModelVersion | None:
        return self.by_alias(model_name, CHAMPION)

    def challenger(self, model_name: str) -> ModelVersion | None:
        return self.by_alias(model_name, CHALLENGER)

    def champion_history(self, model_name: str) -> list[int]:
        """Versions that have been champion, oldest first; the last one is the current champion."""
        from mlflow.exceptions import MlflowException

        try:
            tags = self._client.get_registered_model(model_name).tags
        except MlflowException:
            return []
        return [int(v) for v in json.loads(tags.get(TAG_HISTORY, "[]"))]

    def tag_version(self, model_name: str, version: int, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self._client.set_model_version_tag(model_name, str(version), key, value[:5000])

    def promote(self, model_name: str, version: int, *, reason: str) -> ModelVersion:
        """Make ``version`` the champion (the gate decides; this only moves the alias and records why)."""
        target = self.version(model_name, version)
        history = self.champion_history(model_name)
        if history and history[-1] == version and target.is_champion:
            raise Conflict(f"{model_name} version {version} is already the champion.")
        self._client.set_registered_model_alias(model_name, CHAMPION, str(version))
        if history:
            self.tag_version(model_name, history[-1], {TAG_STATUS: "superseded"})
        if CHALLENGER in target.aliases:
            self._client.delete_registered_model_alias(model_name, CHALLENGER)
        self._set_history(model_name, [*history, version])
        now = datetime.now(UTC).isoformat()
        self.tag_version(model_name, version, {TAG_STATUS: "champion", TAG_REASON: reason, "ayni.promoted_at": now})
        log.info("promoted %s version %s: %s", model_name, version, reason)
        return self.version(model_name, version)

    def refuse(self, model_name: str, version: int, *, reason: str) -> ModelVersion:
        """Record that the gate refused ``version``; it keeps the challenger alias for inspection."""
        self.tag_version(model_name, version, {TAG_STATUS: "refused", TAG_REASON: reason})
        return self.version(model_name, version)

    def rollback(self, model_name: str, *, reason: str = "rollback") -> ModelVersion:
        """Restore the previous champion; the current one is tagged ``rolled_back``."""
        history = self.champion_history(model_name)
        if len(history) < 2:
            raise Conflict(f"{model_name} has no previous champion to roll back to.")
        current, previous = history[-1], history[-2]
        self._client.set_registered_model_alias(model_name, CHAMPION, str(previous))
        self._set_history(model_name, history[:-1])
        self.tag_version(model_name, current, {TAG_STATUS: "rolled_back", TAG_REASON: reason})
        self.tag_version(model_name, previous, {TAG_STATUS: "champion", TAG_REASON: f"restored: {reason}"})
        log.warning("rolled back %s from version %s to %s: %s", model_name, current, previous, reason)
        return self.version(model_name, previous)

    def _set_history(self, model_name: str, history: list[int]) -> None:
        self._client.set_registered_model_tag(model_name, TAG_HISTORY, json.dumps(history[-200:]))

    # --- serving -------------------------------------------------------------------------------

    def download(self, model_version: ModelVersion, cache_dir: Path) -> Path:
        """The version's model directory, downloaded once into ``cache_dir/<name>/<version>``."""
        target = Path(cache_dir) / model_version.name / str(model_version.version)
        if (target / "MLmodel").is_file():
            return target
        if model_version.run_id is None:
            raise ModelUnavailable(f"{model_version.name} version {model_version.version} has no run.")
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
            got = Path(self._client.download_artifacts(model_version.run_id, MODEL_ARTIFACT, tmp))
            if target.exists():
                shutil.rmtree(target)
            got.rename(target)  # atomic on one file system: a reader never sees half a model
        return target

    def load(self, model_name: str, loader: Callable[[Path], T], *, cache_dir: Path,
             alias: str = CHAMPION) -> Loaded[T]:
        """Download the version holding ``alias`` and build the model object with ``loader``."""
        mv = self.by_alias(model_name, alias)
        if mv is None:
            raise ModelUnavailable(f"{model_name} has no {alias} yet.")
        path = self.download(mv, cache_dir)
        try:
            model = loader(path)
        except Exception as exc:
            raise ModelUnavailable(f"{model_name} version {mv.version} cannot be loaded.") from exc
        return Loaded(model=model, version=mv, path=path)

    def load_champion(self, model_name: str, loader: Callable[[Path], T], *, cache_dir: Path) -> Loaded[T]:
        return self.load(model_name, loader, cache_dir=cache_dir, alias=CHAMPION)

    # --- helpers --------------------------------------------------------------------------------

    def _aliases(self, model_name: str) -> dict[int, tuple[str, ...]]:
        from mlflow.exceptions import MlflowException

        try:
            raw = self._client.get_registered_model(model_name).aliases or {}
        except MlflowException:
            return {}
        out: dict[int, list[str]] = {}
        for alias, version in raw.items():
            out.setdefault(int(version), []).append(alias)
        return {v: tuple(sorted(a)) for v, a in out.items()}

    def _to_version(self, mv: Any, aliases: Mapping[int, tuple[str, ...]]) -> ModelVersion:
        metrics: dict[str, float] = {}
        params: dict[str, str] = {}
        data_version = None
        if mv.run_id:
            run = self._client.get_run(mv.run_id)
            metrics, params = dict(run.data.metrics), dict(run.data.params)
            data_version = run.data.tags.get(TAG_DATA_VERSION)
        return ModelVersion(
            name=mv.name,
            version=int(mv.version),
            run_id=mv.run_id,
            source=mv.source,
            aliases=aliases.get(int(mv.version), ()),
            tags=dict(mv.tags or {}),
            created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC),
            metrics=metrics,
            params=params,
            data_version=data_version,
        )

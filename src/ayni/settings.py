"""Settings: one ``Settings`` object, nested groups, environment prefix ``AYNI_``.

Nested values use ``__``: ``AYNI_DATABASE__URL=postgresql+psycopg://…``. Defaults keep all local
state under the working directory's ``var/`` so a second checkout never touches the first one's data.
Nothing here touches the disk: directories are created by the commands that need them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_REGISTRY_REFRESH_S = 60.0  # seconds between serving's registry checks when nothing else is set


def _default_data_dir() -> Path:
    """``../shared/data`` when present (the project layout), else ``./data``."""
    shared = Path.cwd().parent / "shared" / "data"
    return shared if shared.is_dir() else Path.cwd() / "data"


class DatabaseSettings(BaseModel):
    url: str = ""
    echo: bool = False
    pool_size: int = 10
    connect_timeout_s: float = 5.0


class AuthSettings(BaseModel):
    token_ttl_hours: int = 24 * 14
    cookie_name: str = "ayni_session"
    cookie_secure: bool = False
    min_password_length: int = 10
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536


class UploadSettings(BaseModel):
    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000


class VisionSettings(BaseModel):
    model_path: Path | None = None
    threads: int = 1
    registry_refresh_s: float | None = None  # the classifier's own ``RegistrySettings`` refresh (below)


class RegistrySettings(BaseModel):
    """How often serving asks the model registry for a model's champion, in seconds; 0 = never.

    A model's own value wins (the classifier's is ``AYNI_VISION__REGISTRY_REFRESH_S``), then ``refresh_s``
    for every model; without either, models follow ``AYNI_VISION__REGISTRY_REFRESH_S`` as they did before
    these settings existed (so setting only that to 0 still turns every check off), else 60 s."""

    refresh_s: float | None = None
    ranker_refresh_s: float | None = None
    forecaster_refresh_s: float | None = None


class RankerSettings(BaseModel):
    """The match ranker's seed and evaluation window: the one definition that ``ayni matching train-ranker``,
    ``ayni retrain`` and the promotion gate read. Defaults are params.yaml's ``matching.seed`` and
    ``matching.test_weeks`` (tests/unit/test_evaluation_settings.py keeps them equal); the DVC stages pass a
    profile's values to it (``--seed`` / ``--test-weeks`` of train-ranker, ``AYNI_RANKER__*`` of the gate)."""

    seed: int = 7
    test_weeks: int = Field(default=1, ge=1)  # the last weeks of the interaction log, held out for evaluation


class ForecasterSettings(BaseModel):
    """The annual supply model's seed and held-out year, read by ``ayni forecast train``, ``ayni retrain`` and
    the gate. ``test_year`` defaults to params.yaml's ``forecast.test_year`` (``AYNI_FORECASTER__TEST_YEAR``)."""

    seed: int = 0
    test_year: int = 2023  # fitted on the years before it, scored on it; later years are left out


class ListingSettings(BaseModel):
    expire_every_s: float = 300.0  # how often a server expires listings past their availability; 0 = never


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    admit: int = 8  # requests inside the app at once per process, the others queue in order (0 = no limit)


class DemoSettings(BaseModel):
    province: str = "CHICLAYO"
    departamento: str = "LAMBAYEQUE"
    producers: int = 120
    partners: int = 14
    listings: int = 240
    password: str = "ayni-demo-2026"
    random_state: int = 7


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AYNI_", env_nested_delimiter="__", extra="ignore")

    var_dir: Path = Field(default_factory=lambda: Path.cwd() / "var")
    data_dir: Path = Field(default_factory=_default_data_dir)
    media_dir: Path | None = None
    log_level: str = "INFO"
    log_json: bool = True
    database: DatabaseSettings = DatabaseSettings()
    auth: AuthSettings = AuthSettings()
    upload: UploadSettings = UploadSettings()
    vision: VisionSettings = VisionSettings()
    registry: RegistrySettings = RegistrySettings()
    ranker: RankerSettings = RankerSettings()
    forecaster: ForecasterSettings = ForecasterSettings()
    server: ServerSettings = ServerSettings()
    listings: ListingSettings = ListingSettings()
    demo: DemoSettings = DemoSettings()

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.var_dir / 'ayni.db'}"

    @property
    def media_path(self) -> Path:
        return self.media_dir or self.var_dir / "media"

    def registry_refresh_s(self, model: str) -> float:
        """Seconds between serving's checks of ``model``'s champion (0 = never); see ``RegistrySettings``."""
        own = {
            "vision": self.vision.registry_refresh_s,
            "ranker": self.registry.ranker_refresh_s,
            "forecaster": self.registry.forecaster_refresh_s,
        }.get(model)
        for value in (own, self.registry.refresh_s, self.vision.registry_refresh_s):
            if value is not None:
                return value
        return DEFAULT_REGISTRY_REFRESH_S


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()

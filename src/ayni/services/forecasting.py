"""Supply forecasts for partners and municipalities: expected kg of a material per district per week.

The annual model is the registry's ``forecaster`` champion once the ``ChampionWatcher`` has loaded one
(``serve``); until then (or without a registry) it is fitted once per process, on first use, from MINAM's
district tables in ``AYNI_DATA_DIR`` (about three seconds), then reused for every request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ayni.errors import ServiceUnavailable

if TYPE_CHECKING:  # the forecasting stack (scikit-learn) loads on the first forecast, not at API start
    from ayni.forecast import TabularForecaster, WeeklySupply

DEFAULT_CAPTURE_RATE = 0.05  # share of a material's generation the platform captures (assumption, configurable)


@dataclass(frozen=True)
class _Tables:
    generation: pd.DataFrame
    composition: pd.DataFrame
    material_map: pd.DataFrame


class SupplyForecaster:
    """Holds the MINAM tables and the annual model (the registry's champion, else fitted here)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._tables: _Tables | None = None
        self._fitted: TabularForecaster | None = None
        self._served: tuple[TabularForecaster, int | None] | None = None
        self._lock = threading.Lock()

    def serve(self, model: TabularForecaster, version: int | None) -> None:
        """Forecast with ``model`` (the registry's champion ``version``) from now on."""
        self._served = (model, version)

    def _model(self, t: _Tables) -> tuple[TabularForecaster, int | None]:
        """The model to forecast with and its registry version, read once (a promotion may land meanwhile)."""
        from ayni.forecast import fit_annual_model

        served = self._served
        if served is not None:
            return served
        with self._lock:
            if self._fitted is None:
                self._fitted = fit_annual_model(t.generation, random_state=0)
            return self._fitted, None

    def _load(self) -> _Tables:
        from ayni.forecast import load_composition, load_generation, load_material_map

        with self._lock:
            if self._tables is None:
                peru = self.data_dir / "peru"
                files = [peru / n for n in ("waste_generation_district_year.csv", "waste_composition_district_year.csv",
                                            "composition_material_map.csv")]
                missing = [f.name for f in files if not f.is_file()]
                if missing:
                    raise ServiceUnavailable(f"Forecasts need MINAM's tables ({', '.join(missing)}) in "
                                             f"{peru}; set AYNI_DATA_DIR.")
                self._tables = _Tables(load_generation(files[0]), load_composition(files[1]),
                                       load_material_map(files[2]))
            return self._tables

    def weekly(self, *, ubigeo: str, material: str, horizon_weeks: int, capture_rate: float = DEFAULT_CAPTURE_RATE,
               start: date | None = None) -> list[WeeklySupply]:
        return self.weekly_versioned(ubigeo=ubigeo, material=material, horizon_weeks=horizon_weeks,
                                     capture_rate=capture_rate, start=start)[0]

    def weekly_versioned(self, *, ubigeo: str, material: str, horizon_weeks: int,
                         capture_rate: float = DEFAULT_CAPTURE_RATE,
                         start: date | None = None) -> tuple[list[WeeklySupply], int | None]:
        """``weekly`` and the registry version of the model that made it (``None``: fitted here)."""
        from ayni.forecast import forecast_district_material

        t = self._load()
        model, version = self._model(t)
        weeks = forecast_district_material(generation=t.generation, composition=t.composition,
                                           material_map=t.material_map, ubigeo=ubigeo, material=material,
                                           horizon_weeks=horizon_weeks, capture_rate=capture_rate, start=start,
                                           model=model)
        return weeks, version

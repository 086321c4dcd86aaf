"""Supply forecasts for partners and municipalities: expected kg of a material per district per week.

The annual model is fitted once per process, on first use, from MINAM's district tables in
``AYNI_DATA_DIR`` (about three seconds), then reused for every request.
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
    model: TabularForecaster


class SupplyForecaster:
    """Holds the MINAM tables and the fitted annual model for one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._tables: _Tables | None = None
        self._lock = threading.Lock()

    def _load(self) -> _Tables:
        from ayni.forecast import fit_annual_model, load_composition, load_generation, load_material_map

        with self._lock:
            if self._tables is None:
                peru = self.data_dir / "peru"
                files = [peru / n for n in ("waste_generation_district_year.csv", "waste_composition_district_year.csv",
                                            "composition_material_map.csv")]
                missing = [f.name for f in files if not f.is_file()]
                if missing:
                    raise ServiceUnavailable(f"Forecasts need MINAM's tables ({', '.join(missing)}) in "
                                             f"{peru}; set AYNI_DATA_DIR.")
                generation = load_generation(files[0])
                self._tables = _Tables(generation, load_composition(files[1]), load_material_map(files[2]),
                                       fit_annual_model(generation, random_state=0))
            return self._tables

    def weekly(self, *, ubigeo: str, material: str, horizon_weeks: int, capture_rate: float = DEFAULT_CAPTURE_RATE,
               start: date | None = None) -> list[WeeklySupply]:
        from ayni.forecast import forecast_district_material

        t = self._load()
        return forecast_district_material(generation=t.generation, composition=t.composition,
                                          material_map=t.material_map, ubigeo=ubigeo, material=material,
                                          horizon_weeks=horizon_weeks, capture_rate=capture_rate, start=start,
                                          model=t.model)

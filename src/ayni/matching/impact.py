"""CO2e avoided by diverting waste from landfill, from EPA WARM v15 factors.

avoided (kg CO2e) = (landfill factor − recycling or composting factor) × kg, with factors in
kg CO2e per kg from ``emission_factors_warm_v15.csv`` (WARM *net* factors: recycling includes the
credit for avoided virgin production, so it is usually negative). Organics use composting, everything
else recycling; a material without a WARM proxy (e.g. Tetra Brik, textiles) reports ``None``.

**Peru caveat** (from the data's PROVENANCE.md): WARM's landfill factors assume US landfills with
national-average gas recovery; about 37 % of Peru's municipal waste goes to open dumps, so for
organics and paper the real emissions avoided in Peru are likely *higher* than these figures — they are
a conservative estimate, not a Peru-specific inventory.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from ayni.domain.materials import get_material
from ayni.errors import InvalidInput

PERU_CAVEAT_EN = (
    "Estimated with US EPA WARM v15 factors, which assume US landfills with gas recovery; about 37% of "
    "Peru's waste goes to open dumps, so savings for organics and paper are probably underestimated."
)
PERU_CAVEAT_ES = (
    "Estimado con factores EPA WARM v15 de EE. UU., que suponen rellenos con captura de gas; cerca del 37 % "
    "de los residuos del Perú va a botaderos, así que el ahorro en orgánicos y papel probablemente es mayor."
)


@dataclass(frozen=True)
class EmissionFactors:
    """kg CO2e per kg for each (WARM material, pathway)."""

    factors: dict[tuple[str, str], float]

    def get(self, warm_material: str, pathway: str) -> float | None:
        return self.factors.get((warm_material, pathway))


def load_emission_factors(path: Path) -> EmissionFactors:
    """Read ``emission_factors_warm_v15.csv`` (columns warm_material, pathway, kgco2e_per_kg)."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise InvalidInput(f"Cannot read emission factors from {path}: {exc}") from exc
    try:
        return EmissionFactors({(r["warm_material"], r["pathway"]): float(r["kgco2e_per_kg"]) for r in rows})
    except (KeyError, ValueError) as exc:
        raise InvalidInput(f"{path} is not a WARM factors table (need warm_material, pathway, "
                           "kgco2e_per_kg).") from exc


@dataclass(frozen=True, slots=True)
class Impact:
    material: str
    kg: Decimal
    pathway: str
    landfill_kgco2e_per_kg: float
    pathway_kgco2e_per_kg: float
    co2e_avoided_kg: float


def pathway_for(material: str) -> str:
    return "composting" if get_material(material).class_code == "organic" else "recycling"


def co2e_avoided(*, material: str, kg: Decimal, factors: EmissionFactors) -> Impact | None:
    """CO2e avoided by sending ``kg`` of ``material`` to recycling/composting instead of landfill."""
    mat = get_material(material)
    if mat.warm_proxy is None:
        return None
    pathway = pathway_for(material)
    landfill = factors.get(mat.warm_proxy, "landfilling")
    other = factors.get(mat.warm_proxy, pathway)
    if landfill is None or other is None:
        return None
    return Impact(material, kg, pathway, landfill, other, (landfill - other) * float(kg))

"""The platform's material taxonomy.

Two levels. The seven *classes* are what the photo classifier predicts. Each MINAM composition
material (the 33 columns of the district composition tables, mapped in
``shared/data/peru/composition_material_map.csv``) is a *sub-material* of one class. A listing or a
partner price may name either a class or a sub-material; a partner that accepts a class accepts all of
its sub-materials.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ayni.errors import InvalidInput


class Verdict(StrEnum):
    ORGANIC = "organic"
    RECYCLABLE = "recyclable"
    NON_RECOVERABLE = "non_recoverable"


@dataclass(frozen=True, slots=True)
class Material:
    code: str
    name_es: str
    name_en: str
    parent: str | None  # None for the seven classes
    verdict: Verdict
    market: str  # yes / limited / no / compost
    warm_proxy: str | None  # name in emission_factors_warm_v15.csv
    advice_es: str = ""
    advice_en: str = ""

    @property
    def is_class(self) -> bool:
        return self.parent is None

    @property
    def class_code(self) -> str:
        return self.parent or self.code


CLASSES: tuple[str, ...] = ("cardboard", "glass", "metal", "paper", "plastic", "organic", "trash")

_C = Verdict
_CLASS_ROWS: tuple[Material, ...] = (
    Material(
        "cardboard",
        "Cartón",
        "Cardboard",
        None,
        _C.RECYCLABLE,
        "yes",
        "Corrugated Containers",
        "Aplánalo, mantenlo seco y sin restos de comida.",
        "Flatten it, keep it dry and free of food.",
    ),
    Material(
        "glass",
        "Vidrio",
        "Glass",
        None,
        _C.RECYCLABLE,
        "yes",
        "Glass",
        "Enjuágalo, quita las tapas y sepáralo por color; envuelve los vidrios rotos.",
        "Rinse it, remove caps and sort by colour; wrap broken glass.",
    ),
    Material(
        "metal",
        "Metal",
        "Metal",
        None,
        _C.RECYCLABLE,
        "yes",
        "Mixed Metals",
        "Enjuaga las latas y aplástalas; separa aluminio de hojalata si puedes.",
        "Rinse and crush cans; separate aluminium from tin if you can.",
    ),
    Material(
        "paper",
        "Papel",
        "Paper",
        None,
        _C.RECYCLABLE,
        "yes",
        "Mixed Paper (general)",
        "Mantenlo seco y limpio; sin papel higiénico ni papel plastificado.",
        "Keep it dry and clean; no tissue or laminated paper.",
    ),
    Material(
        "plastic",
        "Plástico",
        "Plastic",
        None,
        _C.RECYCLABLE,
        "yes",
        "Mixed Plastics",
        "Vacíalo, enjuágalo y aplástalo; separa botellas PET de otros plásticos.",
        "Empty, rinse and flatten it; keep PET bottles apart from other plastics.",
    ),
    Material(
        "organic",
        "Orgánico",
        "Organic",
        None,
        _C.ORGANIC,
        "compost",
        "Food Waste",
        "Sepáralo sin bolsas ni plásticos; entrégalo pronto para compostaje.",
        "Keep it free of bags and plastics; hand it over soon for composting.",
    ),
    Material(
        "trash",
        "Residuo no aprovechable",
        "Non-recoverable waste",
        None,
        _C.NON_RECOVERABLE,
        "no",
        None,
        "Va al recojo municipal; no se puede vender.",
        "Goes to municipal collection; it cannot be sold.",
    ),
)

# (code, MINAM column, parent, name_es, name_en, market, warm_proxy) — mirrors composition_material_map.csv
# (the MINAM column without its "_t" tonnes suffix, as the composition table stores it)
_SUB_ROWS: tuple[tuple[str, str, str, str, str, str, str | None], ...] = (
    ("food_waste", "alimentos", "organic", "Restos de alimentos", "Food waste", "compost", "Food Waste"),
    ("yard_trimmings", "maleza", "organic", "Maleza y poda", "Yard trimmings", "compost", "Yard Trimmings"),
    ("other_organic", "otros_organicos", "organic", "Otros orgánicos", "Other organics", "compost", "Mixed Organics"),
    ("paper_white", "papel_blanco", "paper", "Papel blanco", "White paper", "yes", "Office Paper"),
    ("paper_newspaper", "papel_periodico", "paper", "Papel periódico", "Newspaper", "yes", "Newspaper"),
    ("paper_mixed", "papel_mixto", "paper", "Papel mixto", "Mixed paper", "yes", "Mixed Paper (general)"),
    ("cardboard_white", "carton_blanco", "cardboard", "Cartón blanco", "White cardboard", "yes", "Mixed Paper (general)"),
    ("cardboard_corrugated", "carton_marron", "cardboard", "Cartón corrugado", "Corrugated cardboard", "yes", "Corrugated Containers"),
    ("cardboard_mixed", "carton_mixto", "cardboard", "Cartón mixto", "Mixed cardboard", "yes", "Mixed Paper (general)"),
    ("glass_clear", "vidrio_transparente", "glass", "Vidrio transparente", "Clear glass", "yes", "Glass"),
    ("glass_coloured", "vidrio_otros_colores", "glass", "Vidrio de color", "Coloured glass", "yes", "Glass"),
    ("glass_other", "vidrios_otros", "glass", "Vidrio plano (ventana)", "Flat glass (window)", "limited", "Glass"),
    ("PET", "tereflato_polietileno", "plastic", "PET (botellas)", "PET (bottles)", "yes", "PET"),
    ("HDPE", "polietileno_alta_densidad", "plastic", "PEAD / HDPE", "HDPE", "yes", "HDPE"),
    ("LDPE", "polietileno_baja_densidad", "plastic", "PEBD / LDPE", "LDPE", "limited", "LDPE"),
    ("PP", "polipropileno", "plastic", "Polipropileno (PP)", "Polypropylene (PP)", "yes", "PP"),
    ("PS", "poliestireno", "plastic", "Poliestireno (PS)", "Polystyrene (PS)", "limited", "PS"),
    ("PVC", "policloruro_vinilo", "plastic", "PVC", "PVC", "limited", "PVC"),
    ("tetrabrik", "tetrabrick", "trash", "Tetra Brik (multicapa)", "Tetra Brik (multilayer)", "limited", None),
    ("tin_steel_cans", "lata", "metal", "Latas de hojalata", "Tin/steel cans", "yes", "Steel Cans"),
    ("ferrous_scrap", "metales_ferrosos", "metal", "Chatarra ferrosa", "Ferrous scrap", "yes", "Steel Cans"),
    ("aluminium", "aluminio", "metal", "Aluminio", "Aluminium", "yes", "Aluminum Cans"),
    ("other_metals", "otros_metales", "metal", "Otros metales", "Other metals", "yes", "Mixed Metals"),
    ("plastic_bags", "bolsas_plasticas", "trash", "Bolsas plásticas", "Plastic bags", "no", "LDPE"),
    ("sanitary", "sanitarios", "trash", "Sanitarios", "Sanitary waste", "no", "Mixed MSW"),
    ("batteries", "pilas", "trash", "Pilas", "Batteries", "no", None),
    ("EPS", "tecnopor", "trash", "Tecnopor (EPS)", "Expanded polystyrene", "no", "PS"),
    ("inert", "inertes", "trash", "Inertes", "Inert (soil, stones, ceramics)", "no", None),
    ("textiles", "textiles", "trash", "Textiles", "Textiles", "no", None),
    ("rubber_leather", "caucho_cuero", "trash", "Caucho y cuero", "Rubber and leather", "no", None),
    ("medicines", "medicamentos", "trash", "Medicamentos", "Medicines", "no", None),
    ("snack_wrappers", "envolturas_snacks_otros", "trash", "Envolturas de snacks", "Snack wrappers", "no", None),
    ("uncategorised", "otros_no_categorizados", "trash", "No categorizados", "Uncategorised", "no", None),
)


def _verdict_for(parent: str, market: str) -> Verdict:
    if parent == "organic":
        return Verdict.ORGANIC
    if market in ("yes", "limited"):
        return Verdict.RECYCLABLE
    return Verdict.NON_RECOVERABLE


def _build() -> dict[str, Material]:
    out = {m.code: m for m in _CLASS_ROWS}
    for code, _, parent, es, en, market, warm in _SUB_ROWS:
        p = out[parent]
        out[code] = Material(code, es, en, parent, _verdict_for(parent, market), market, warm, p.advice_es, p.advice_en)
    return out


MATERIALS: dict[str, Material] = _build()
# MINAM composition column (as stored, without "_t") → sub-material code
BY_MINAM_COLUMN: dict[str, str] = {column: code for code, column, *_ in _SUB_ROWS}


def get_material(code: str) -> Material:
    """The material with this code, or ``InvalidInput`` naming the known codes."""
    try:
        return MATERIALS[code]
    except KeyError:
        raise InvalidInput(
            f"Unknown material '{code}'. Use one of: {', '.join(sorted(MATERIALS))}.",
            details={"field": "material"},
        ) from None


def accepts(partner_material: str, listing_material: str) -> bool:
    """Whether a partner price declared for ``partner_material`` covers a listing of ``listing_material``."""
    if partner_material == listing_material:
        return True
    listing = MATERIALS.get(listing_material)
    return listing is not None and listing.parent == partner_material


def sellable(code: str) -> bool:
    """Whether a material can be listed for sale or compost (not plain non-recoverable waste)."""
    return get_material(code).verdict is not Verdict.NON_RECOVERABLE

"""Simulated communities built from real Peru data, and a documented behavioural model of partners.

Real: the districts (capital coordinates, area, urban population 2023), household generation per
capita (MINAM 2023) and each district's composition (MINAM 2023, 33 materials). Simulated: everything
about people and firms — producers, partners, prices, capacities and every interaction. Nothing here
is an observation of real behaviour; it exists to train and evaluate the engine honestly.

Prices are **demo assumptions** (``DEMO_PRICES_SOLES_PER_KG``): there is no public current Peru price
table (``recycler_prices_pe.csv`` holds three dated points — paper US$0.06/kg and metal US$0.30/kg paid
to Lima recyclers in 2008, and a S/0.10 per PET bottle incentive). Partners set their own prices.

Hidden partner behaviour (``true_accept_probability``), per offer of a listing to a partner:

    logit = base_q + pref_q[producer kind] − aversion_q × distance/radius + 0.5 × clip(log(kg/min_kg), −2, 2)
            + quality_q × (photo confidence − 0.75) − 1.5 × fill_rate_q + 1.5 × ⟨u_p, v_q⟩
            − 0.1 × listing age (days) + ε,   ε ~ N(0, 0.3²)

with base ~ N(0.6, 0.6²), pref ~ N(0, 0.8²) per producer kind, aversion ~ U(0.5, 2.5), quality ~ U(0, 3),
3-dimensional latent tastes u, v ~ N(0, I/3). An accepted offer is collected with the producer's hidden
reliability (households Beta(8, 2), businesses Beta(14, 1.5)). That is behaviour "v1".

Behaviour "v2" (the default) adds the informal market's economics, from their own random stream so
that a seed gives the same producers, partners, prices and listings under both:

    logit += spec_q[material] + margin_q × clip(log(price × kg / trip cost), −2, 2) + quality_q × (grade_p − 0.7)
    P(hand over | accepted) = reliability_p × exp(−leak_p × days until pickup)
                              × (1 − sensitivity_p × max(0, 1 − price / the material's middle demo price))

spec: each partner trades one core material (two if it lists four or more) ~ N(0.5, 0.3²) and takes
the others as side lines ~ N(−0.5, 0.5²); margin ~ U(0.2, 1.0); trip cost = the demo transport tariff;
grade (how clean and sorted the producer's lots are) ~ Beta(5, 2); leak (a street buyer takes the
waiting bag) ~ U(0.02, 0.10) per day for households, U(0, 0.04) for businesses; sensitivity ~ U(0, 1).
The engine never sees any of these parameters — only outcomes.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

from ayni.domain.lifecycle import PartnerKind, ProducerKind
from ayni.errors import InvalidInput
from ayni.matching.entities import ListingInput, MaterialOffer, PartnerOffer

log = logging.getLogger(__name__)

# Demo assumptions (S/ per kg, low–high), NOT market data — see the module docstring.
DEMO_PRICES_SOLES_PER_KG: dict[str, tuple[float, float]] = {
    "PET": (1.00, 1.60), "HDPE": (0.90, 1.40), "plastic": (0.30, 0.70), "cardboard": (0.25, 0.50),
    "paper": (0.30, 0.60), "glass": (0.08, 0.20), "aluminium": (3.00, 4.50), "tin_steel_cans": (0.30, 0.50),
    "metal": (0.50, 0.90), "organic": (0.03, 0.12),
}
RECYCLABLES = ("PET", "HDPE", "plastic", "cardboard", "paper", "glass", "aluminium", "tin_steel_cans", "metal")
# MINAM composition column material → what a producer lists.
LISTED_AS: dict[str, str] = {
    "food_waste": "organic", "yard_trimmings": "organic", "other_organic": "organic",
    "paper_white": "paper", "paper_newspaper": "paper", "paper_mixed": "paper",
    "cardboard_white": "cardboard", "cardboard_corrugated": "cardboard", "cardboard_mixed": "cardboard",
    "glass_clear": "glass", "glass_coloured": "glass", "glass_other": "glass",
    "PET": "PET", "HDPE": "HDPE", "LDPE": "plastic", "PP": "plastic", "PS": "plastic", "PVC": "plastic",
    "tin_steel_cans": "tin_steel_cans", "aluminium": "aluminium", "ferrous_scrap": "metal",
    "other_metals": "metal",
}


@dataclass(frozen=True, slots=True)
class KindProfile:
    share: float
    persons: float  # person-equivalents of household generation
    separation: tuple[float, float]  # share of each material actually separated (range)
    period_weeks: tuple[int, ...]  # how often it lists a material
    organics: float  # probability it separates organics at all


PRODUCER_KINDS: dict[ProducerKind, KindProfile] = {
    ProducerKind.HOUSEHOLD: KindProfile(0.78, 3.8, (0.3, 0.9), (2, 3, 4), 0.25),
    ProducerKind.BODEGA: KindProfile(0.07, 12, (0.5, 0.9), (1, 2), 0.2),
    ProducerKind.RESTAURANT: KindProfile(0.06, 30, (0.5, 0.9), (1,), 0.7),
    ProducerKind.MARKET: KindProfile(0.02, 120, (0.4, 0.8), (1,), 0.8),
    ProducerKind.SCHOOL: KindProfile(0.04, 40, (0.4, 0.9), (1, 2), 0.3),
    ProducerKind.ASSOCIATION: KindProfile(0.03, 60, (0.5, 0.9), (1, 2), 0.4),
}


@dataclass(frozen=True, slots=True)
class PartnerProfile:
    share: float
    radius_km: tuple[float, float]
    min_kg: float
    price_factor: float
    capacity_weight: float
    materials: tuple[str, ...]
    n_materials: tuple[int, int]


PARTNER_KINDS: dict[PartnerKind, PartnerProfile] = {
    PartnerKind.RECICLADORES_ASSOCIATION: PartnerProfile(0.25, (3, 8), 1, 0.85, 1.5, RECYCLABLES, (5, 9)),
    PartnerKind.COLLECTION_CENTRE: PartnerProfile(0.22, (4, 10), 2, 0.95, 2.0, RECYCLABLES, (5, 9)),
    PartnerKind.RECYCLER: PartnerProfile(0.18, (8, 20), 10, 1.05, 3.0,
                                         ("PET", "HDPE", "plastic", "cardboard", "paper", "aluminium", "metal"),
                                         (2, 4)),
    PartnerKind.EORS_OPERATOR: PartnerProfile(0.10, (10, 25), 20, 1.0, 4.0, (*RECYCLABLES, "organic"), (5, 9)),
    PartnerKind.UPCYCLER: PartnerProfile(0.12, (4, 12), 1, 1.15, 0.3, ("glass", "PET", "cardboard"), (1, 2)),
    PartnerKind.COMPOSTER: PartnerProfile(0.13, (3, 10), 3, 1.0, 2.0, ("organic",), (1, 1)),
}


@dataclass(frozen=True)
class District:
    ubigeo: str
    name: str
    lat: float
    lon: float
    area_km2: float
    pop_urban: int
    gpc_kg_day: float
    shares: dict[str, float]  # listed material → share of household waste


@dataclass(frozen=True)
class SimProducer:
    producer_id: int
    kind: ProducerKind
    ubigeo: str
    lat: float
    lon: float
    weekly_kg: dict[str, float]
    period_weeks: dict[str, int]
    phase: int
    reliability: float  # hidden
    taste: np.ndarray  # hidden latent vector u
    leak_per_day: float = 0.0  # hidden (v2): daily chance a street buyer takes the bag before pickup
    price_sensitivity: float = 0.0  # hidden (v2): how much a low offer loses the bag to other buyers
    grade: float = 0.7  # hidden (v2): how clean and well sorted its materials are (0–1)


@dataclass(frozen=True)
class SimPartner:
    offer: PartnerOffer
    base: float  # hidden
    kind_pref: dict[ProducerKind, float]  # hidden
    aversion: float  # hidden
    quality: float  # hidden
    taste: np.ndarray  # hidden latent vector v
    material_pref: dict[str, float] = field(default_factory=dict)  # hidden (v2): core trade vs side lines
    margin_weight: float = 0.0  # hidden (v2): weight of the lot's value against the trip's cost


@dataclass(frozen=True)
class Community:
    districts: tuple[District, ...]
    producers: tuple[SimProducer, ...]
    partners: tuple[SimPartner, ...]
    start: date
    behaviour: str = "v2"

    @property
    def partner_offers(self) -> list[PartnerOffer]:
        return [p.offer for p in self.partners]


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    except OSError as exc:
        raise InvalidInput(f"Peru data not found: {exc}") from exc


def _num(value: str, default: float) -> float:
    try:
        return float(value)
    except ValueError:
        return default


def load_districts(data_dir: Path, *, provincia: str, departamento: str, year: int = 2023) -> list[District]:
    """The province's districts with coordinates, urban population, generation and composition."""
    peru = data_dir / "peru"
    col_to = {r["column"]: LISTED_AS.get(r["platform_material"])
              for r in _read_csv(peru / "composition_material_map.csv")}
    comp = {r["ubigeo"]: r for r in _read_csv(peru / "waste_composition_district_year.csv")
            if r["year"] == str(year)}
    out: list[District] = []
    for r in _read_csv(peru / "districts.csv"):
        if (r["provincia"], r["departamento"]) != (provincia.upper(), departamento.upper()):
            continue
        c = comp.get(r["ubigeo"])
        if c is None or not r["latitude"] or r["in_minam_2023"] != "True":
            continue
        total = sum(_num(c[col], 0.0) for col in col_to)
        shares: dict[str, float] = {}
        for col, listed in col_to.items():
            if listed and total > 0:
                shares[listed] = shares.get(listed, 0.0) + _num(c[col], 0.0) / total
        gpc = _num(c["gpc_dom_kg_hab_day"], 0.6)
        out.append(District(r["ubigeo"], r["distrito"], float(r["latitude"]), float(r["longitude"]),
                            _num(r["area_km2"], 20.0), int(_num(r["pop_urban_2023"], 0)),
                            gpc if 0.15 <= gpc <= 1.5 else 0.6, shares))
    if not out:
        raise InvalidInput(f"No districts with data for provincia={provincia!r}, departamento={departamento!r}.")
    return out


def _jitter(rng: np.random.Generator, d: District, n: int) -> tuple[np.ndarray, np.ndarray]:
    sigma_km = min(3.0, 0.35 * np.sqrt(d.area_km2 / np.pi))
    dy = rng.normal(0, sigma_km, n) / 111.2
    dx = rng.normal(0, sigma_km, n) / (111.2 * np.cos(np.radians(d.lat)))
    return d.lat + dy, d.lon + dx


BEHAVIOURS = ("v1", "v2")


def build_community(districts: list[District], *, n_producers: int, n_partners: int, start: date,
                    capacity_tightness: float = 0.8, random_state: int = 0, behaviour: str = "v2") -> Community:
    """Producers in proportion to urban population; partners of every kind with demo prices and
    capacities scaled to ``capacity_tightness`` × the producers' expected weekly supply.

    ``behaviour`` "v2" (default) adds the market's economics to the hidden model (see the module
    docstring); "v1" is the first model, kept so that earlier figures can be reproduced. Both draw the
    same producers, partners, prices and listings for a seed: v2's extra traits come from their own stream."""
    if behaviour not in BEHAVIOURS:
        raise InvalidInput(f"behaviour must be one of {BEHAVIOURS} (got {behaviour!r}).")
    rng = np.random.default_rng(random_state)
    pop = np.array([d.pop_urban for d in districts], dtype=float)
    producers = _producers(rng, districts, rng.multinomial(n_producers, pop / pop.sum()))
    supply: dict[str, float] = {}
    for p in producers:
        for m, kg in p.weekly_kg.items():
            supply[m] = supply.get(m, 0.0) + kg
    partners = _partners(rng, districts, pop, n_partners, supply, capacity_tightness)
    if behaviour == "v2":
        traits = np.random.default_rng([random_state, 2])
        producers = [_market_traits_producer(traits, p) for p in producers]
        partners = [_market_traits_partner(traits, p) for p in partners]
    log.info("community: %d districts, %d producers, %d partners", len(districts), len(producers), len(partners))
    return Community(tuple(districts), tuple(producers), tuple(partners), start, behaviour)


def _market_traits_producer(rng: np.random.Generator, p: SimProducer) -> SimProducer:
    """v2: street buyers take a waiting bag (households more than businesses, which keep arrangements);
    a low offer loses the bag to them; some producers sort and clean better than others."""
    household = p.kind is ProducerKind.HOUSEHOLD
    return replace(p, leak_per_day=float(rng.uniform(0.02, 0.10) if household else rng.uniform(0.0, 0.04)),
                   price_sensitivity=float(rng.uniform(0.0, 1.0)), grade=float(rng.beta(5, 2)))


def _market_traits_partner(rng: np.random.Generator, q: SimPartner) -> SimPartner:
    """v2: a partner lists several materials but trades one or two of them (what its buyer takes) and
    takes the rest reluctantly; it weighs a lot's value against the trip's cost."""
    mats = [o.material for o in q.offer.materials]
    n_core = 1 if len(mats) < 4 else 2
    core = set(rng.choice(mats, size=n_core, replace=False).tolist())
    pref = {m: float(rng.normal(0.5, 0.3) if m in core else rng.normal(-0.5, 0.5)) for m in mats}
    return replace(q, material_pref=pref, margin_weight=float(rng.uniform(0.2, 1.0)))


def _producers(rng: np.random.Generator, districts: list[District], counts: np.ndarray) -> list[SimProducer]:
    kinds = list(PRODUCER_KINDS)
    kshare = np.array([PRODUCER_KINDS[k].share for k in kinds])
    out: list[SimProducer] = []
    for d, n in zip(districts, counts.tolist(), strict=True):
        lats, lons = _jitter(rng, d, n)
        for i in range(n):
            kind = kinds[int(rng.choice(len(kinds), p=kshare))]
            prof = PRODUCER_KINDS[kind]
            persons = prof.persons * float(rng.lognormal(0, 0.35))
            weekly: dict[str, float] = {}
            for m, share in d.shares.items():
                if m == "organic" and rng.random() > prof.organics:
                    continue
                weekly[m] = d.gpc_kg_day * 7 * persons * share * float(rng.uniform(*prof.separation))
            business = kind is not ProducerKind.HOUSEHOLD
            out.append(SimProducer(
                producer_id=len(out) + 1, kind=kind, ubigeo=d.ubigeo, lat=float(lats[i]), lon=float(lons[i]),
                weekly_kg=weekly, period_weeks={m: int(rng.choice(prof.period_weeks)) for m in weekly},
                phase=int(rng.integers(0, 12)),
                reliability=float(rng.beta(14, 1.5) if business else rng.beta(8, 2)),
                taste=rng.normal(0, 1 / np.sqrt(3), 3)))
    return out


def _partners(rng: np.random.Generator, districts: list[District], pop: np.ndarray, n: int,
              supply: dict[str, float], tightness: float) -> list[SimPartner]:
    kinds = list(PARTNER_KINDS)
    kshare = np.array([PARTNER_KINDS[k].share for k in kinds])
    drafts: list[tuple[PartnerKind, District, float, float, list[str], float]] = []
    for _ in range(n):
        kind = kinds[int(rng.choice(len(kinds), p=kshare / kshare.sum()))]
        prof = PARTNER_KINDS[kind]
        d = districts[int(rng.choice(len(districts), p=pop / pop.sum()))]
        plat, plon = _jitter(rng, d, 1)
        k = int(rng.integers(prof.n_materials[0], prof.n_materials[1] + 1))
        mats = sorted(rng.choice(prof.materials, size=min(k, len(prof.materials)), replace=False).tolist())
        drafts.append((kind, d, float(plat[0]), float(plon[0]), mats, float(rng.lognormal(0, 0.5))))
    weight: dict[str, float] = {}
    for kind, _, _, _, mats, w in drafts:
        for m in mats:
            weight[m] = weight.get(m, 0.0) + PARTNER_KINDS[kind].capacity_weight * w
    out: list[SimPartner] = []
    for i, (kind, _d, lat, lon, mats, w) in enumerate(drafts):
        prof = PARTNER_KINDS[kind]
        offers = []
        for m in mats:
            lo, hi = DEMO_PRICES_SOLES_PER_KG[m]
            cap = max(20.0, tightness * supply.get(m, 0.0) * prof.capacity_weight * w / weight[m])
            weekly_cap = Decimal(int(round(cap)))
            left = Decimal(int(round(cap * float(rng.uniform(0.5, 1.0)))))
            offers.append(MaterialOffer(
                m, int(round(100 * prof.price_factor * float(rng.uniform(lo, hi)))),
                Decimal(str(round(prof.min_kg * float(rng.uniform(0.5, 1.5)), 1))), weekly_cap, left))
        days = frozenset(int(x) for x in rng.choice(6, size=int(rng.integers(2, 6)), replace=False))
        offer = PartnerOffer(i + 1, kind, lat, lon, round(float(rng.uniform(*prof.radius_km)), 1), days,
                             tuple(offers), name=f"{kind.value}-{i + 1}")
        out.append(SimPartner(offer, float(rng.normal(0.6, 0.6)),
                              {k: float(rng.normal(0, 0.8)) for k in ProducerKind}, float(rng.uniform(0.5, 2.5)),
                              float(rng.uniform(0, 3)), rng.normal(0, 1 / np.sqrt(3), 3)))
    return out


def listings_for_week(community: Community, week: int, *, random_state: int = 0,
                      first_id: int = 1) -> list[ListingInput]:
    """The listings published in week ``week`` (0-based from ``community.start``), in time order."""
    rng = np.random.default_rng([random_state, week])
    monday = community.start + timedelta(weeks=week)
    out: list[ListingInput] = []
    for p in community.producers:
        for m, kg_week in p.weekly_kg.items():
            period = p.period_weeks[m]
            if (week + p.phase) % period:
                continue
            kg = kg_week * period * float(rng.lognormal(0, 0.3))
            if kg < 1.0:
                continue
            day = int(rng.integers(0, 7))
            created = datetime.combine(monday + timedelta(days=day), time(7)) + timedelta(
                minutes=int(rng.integers(0, 13 * 60)))
            start = created.date() + timedelta(days=int(rng.integers(0, 2)))
            conf = float(np.clip(rng.beta(8, 2), 0.05, 0.999))
            out.append(ListingInput(0, p.producer_id, m, Decimal(str(round(kg, 3))), p.lat, p.lon, start,
                                    start + timedelta(days=int(rng.integers(2, 9))), created, conf, p.kind))
    out.sort(key=lambda x: (x.created_at, x.producer_id, x.material))
    return [ListingInput(first_id + i, x.producer_id, x.material, x.kg, x.lat, x.lon, x.available_from,
                         x.available_until, x.created_at, x.photo_confidence, x.producer_kind)
            for i, x in enumerate(out)]


def lima_community(data_dir: Path, *, n_producers: int, n_partners: int, random_state: int = 0,
                   start: date = date(2026, 3, 2), behaviour: str = "v2") -> Community:
    """Lima Metropolitana (provincia LIMA, departamento LIMA: 43 districts) — the benchmark city."""
    districts = load_districts(data_dir, provincia="LIMA", departamento="LIMA")
    return build_community(districts, n_producers=n_producers, n_partners=n_partners, start=start,
                           random_state=random_state, behaviour=behaviour)


def material_summary(listings: list[ListingInput]) -> dict[str, tuple[int, float]]:
    """Per material: number of listings and total kg."""
    out: dict[str, tuple[int, float]] = {}
    for x in listings:
        n, kg = out.get(x.material, (0, 0.0))
        out[x.material] = (n + 1, kg + float(x.kg))
    return dict(sorted(out.items()))


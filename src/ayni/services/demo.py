"""``ayni demo``: a demo community built from the real data of one province.

Producers are spread over the province's districts in proportion to their urban population (INEI 2023 as
carried by MINAM); each listing's material follows its district's MINAM 2023 household-waste composition.
Partners of every kind sit around the province. PRICES ARE DEMO ASSUMPTIONS: there is no public current
table of recycler buying prices in Peru. The only dated, citable points (``recycler_prices_pe.csv``) are
paper US$0.06/kg and metal US$0.30/kg paid to informal recyclers in Lima (IPS, 2008) and a S/0.10 per PET
bottle consumer incentive (El Comercio); the values below are round guesses in that range, for
demonstration only, and every partner can set its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ayni.domain.lifecycle import PartnerKind, ProducerKind, Role
from ayni.domain.materials import BY_MINAM_COLUMN, MATERIALS, Verdict
from ayni.errors import AyniError, InvalidInput
from ayni.matching.impact import EmissionFactors
from ayni.services import listings, matches
from ayni.services.profiles import MaterialOffer, create_partner, create_producer, my_partner, my_producer
from ayni.services.security import hash_password
from ayni.settings import AuthSettings, DemoSettings
from ayni.storage.tables import District, Listing, Match, Partner, Producer, User, WasteComposition

log = logging.getLogger(__name__)

DEMO_DOMAIN = "demo.ayni.pe"
DEMO_PRICE_NOTE = "Demo assumption, not a market quote (see recycler_prices_pe.csv for the few cited points)."
# céntimos per kg — DEMO ASSUMPTIONS (see module docstring)
DEMO_PRICES: dict[str, int] = {
    "cardboard": 30,
    "paper": 35,
    "paper_white": 50,
    "glass": 10,
    "glass_clear": 15,
    "plastic": 60,
    "PET": 100,
    "HDPE": 80,
    "PP": 50,
    "metal": 70,
    "aluminium": 300,
    "tin_steel_cans": 40,
    "ferrous_scrap": 50,
    "organic": 5,
    "food_waste": 5,
    "tetrabrik": 10,
}
KIND_MATERIALS: dict[PartnerKind, tuple[str, ...]] = {
    PartnerKind.RECYCLER: ("paper", "cardboard", "PET", "HDPE", "aluminium", "tin_steel_cans"),
    PartnerKind.EORS_OPERATOR: ("plastic", "metal", "glass", "paper", "cardboard"),
    PartnerKind.RECICLADORES_ASSOCIATION: ("PET", "cardboard", "paper", "aluminium"),
    PartnerKind.COLLECTION_CENTRE: ("cardboard", "paper", "plastic", "metal", "glass", "tetrabrik"),
    PartnerKind.UPCYCLER: ("glass_clear", "PET", "cardboard"),
    PartnerKind.COMPOSTER: ("organic",),
}
PRODUCER_KINDS = (
    [ProducerKind.HOUSEHOLD] * 14
    + [ProducerKind.BODEGA] * 2
    + [ProducerKind.MARKET, ProducerKind.RESTAURANT, ProducerKind.SCHOOL, ProducerKind.ASSOCIATION]
)
KG_RANGE = {
    ProducerKind.HOUSEHOLD: (2, 15),
    ProducerKind.BODEGA: (5, 40),
    ProducerKind.MARKET: (30, 300),
    ProducerKind.RESTAURANT: (10, 80),
    ProducerKind.SCHOOL: (10, 60),
    ProducerKind.ASSOCIATION: (40, 400),
    ProducerKind.MUNICIPALITY: (100, 1000),
}
LOGINS = {
    "producer": f"productor@{DEMO_DOMAIN}",
    "partner": f"reciclador@{DEMO_DOMAIN}",
    "admin": f"admin@{DEMO_DOMAIN}",
    "analyst": f"analista@{DEMO_DOMAIN}",
}


@dataclass
class DemoResult:
    created: bool
    counts: dict[str, int] = field(default_factory=dict)
    logins: dict[str, str] = field(default_factory=dict)


def build_demo(session: Session, *, demo: DemoSettings, auth: AuthSettings,
               factors: EmissionFactors | None) -> DemoResult:
    """The demo community (idempotent); ``factors`` give the CO2e of its collections in the metrics."""
    logins = dict(LOGINS)
    if session.scalar(select(User.id).where(User.email == LOGINS["admin"])) is not None:
        return DemoResult(created=False, logins=logins, counts=_counts(session))
    rng = np.random.default_rng(demo.random_state)
    districts = _districts(session, demo)
    pw = hash_password(demo.password, settings=auth)
    _user(session, LOGINS["admin"], pw, Role.ADMIN, "Admin Ayni")
    _user(session, LOGINS["analyst"], pw, Role.ANALYST, "Analista Municipal")
    partners = _partners(session, rng, districts, demo, pw)
    producers = _producers(session, rng, districts, demo, pw)
    _listings(session, rng, producers, partners, demo, factors)
    return DemoResult(created=True, logins=logins, counts=_counts(session))


def _counts(session: Session) -> dict[str, int]:
    return {
        name: session.scalar(select(func.count()).select_from(t)) or 0
        for name, t in (("producers", Producer), ("partners", Partner), ("listings", Listing), ("matches", Match))
    }


def _districts(session: Session, demo: DemoSettings) -> list[District]:
    rows = list(
        session.scalars(
            select(District).where(
                District.provincia == demo.province.upper(),
                District.departamento == demo.departamento.upper(),
                District.latitude.is_not(None),
                District.pop_urban > 0,
            )
        )
    )
    if not rows:
        raise InvalidInput(
            f"No districts with coordinates for {demo.province}, {demo.departamento}: run 'ayni data load' first."
        )
    return rows


def _user(session: Session, email: str, pw_hash: str, role: Role, name: str) -> User:
    user = User(
        email=email, password_hash=pw_hash, role=role.value, display_name=name, locale="es", phone="+51 900 000 000"
    )
    session.add(user)
    session.flush()
    return user


def _jitter(rng: np.random.Generator, d: District, km: float) -> tuple[float, float]:
    assert d.latitude is not None and d.longitude is not None
    dlat, dlon = rng.normal(0, km / 111.0, size=2)
    return float(d.latitude + dlat), float(d.longitude + dlon / max(0.2, np.cos(np.radians(d.latitude))))


def allocate(weights: list[float], total: int) -> list[int]:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainder)."""
    w = np.asarray(weights, dtype=float)
    share = w / w.sum() * total
    base = np.floor(share).astype(int)
    for i in np.argsort(-(share - base))[: total - int(base.sum())]:
        base[i] += 1
    return [int(x) for x in base]


def _producers(
    session: Session, rng: np.random.Generator, districts: list[District], demo: DemoSettings, pw: str
) -> list[tuple[User, District]]:
    counts = allocate([float(d.pop_urban or 0) for d in districts], demo.producers)
    out: list[tuple[User, District]] = []
    n = 0
    for district, count in zip(districts, counts, strict=True):
        for _ in range(count):
            email = LOGINS["producer"] if n == 0 else f"productor{n:03d}@{DEMO_DOMAIN}"
            kind = ProducerKind.HOUSEHOLD if n == 0 else PRODUCER_KINDS[int(rng.integers(len(PRODUCER_KINDS)))]
            user = _user(session, email, pw, Role.PRODUCER, "Rosa Quispe" if n == 0 else f"Productor {n:03d}")
            lat, lon = _jitter(rng, district, 1.0)
            create_producer(
                session,
                user,
                name=user.display_name,
                kind=kind,
                ubigeo=district.ubigeo,
                lat=lat,
                lon=lon,
                address=f"Calle demo {n + 1}, {district.distrito.title()}",
            )
            out.append((user, district))
            n += 1
    return out


def _partners(
    session: Session, rng: np.random.Generator, districts: list[District], demo: DemoSettings, pw: str
) -> list[User]:
    kinds = list(PartnerKind)
    weights = np.array([float(d.pop_urban or 0) for d in districts])
    users = []
    for i in range(demo.partners):
        kind = kinds[i % len(kinds)]
        district = districts[int(rng.choice(len(districts), p=weights / weights.sum()))]
        email = LOGINS["partner"] if i == 0 else f"socio{i:02d}@{DEMO_DOMAIN}"
        user = _user(session, email, pw, Role.PARTNER, f"{kind.value.replace('_', ' ').title()} {i:02d}")
        lat, lon = _jitter(rng, district, 2.0)
        offers = [
            MaterialOffer(
                material=m,
                price_cents_per_kg=_price(rng, m),
                min_kg=Decimal(int(rng.integers(0, 5))),
                weekly_capacity_kg=Decimal(int(rng.integers(2, 20)) * 100),
            )
            for m in KIND_MATERIALS[kind]
        ]
        days = sorted(rng.choice(7, size=int(rng.integers(2, 5)), replace=False).tolist())
        create_partner(
            session,
            user,
            name=user.display_name,
            kind=kind,
            ubigeo=district.ubigeo,
            lat=lat,
            lon=lon,
            service_radius_km=float(rng.choice([8, 12, 20, 30])),
            pickup_days=[("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d] for d in days],
            materials=offers,
            description=DEMO_PRICE_NOTE,
        )
        users.append(user)
    return users


def _price(rng: np.random.Generator, material: str) -> int:
    base = DEMO_PRICES.get(material) or DEMO_PRICES.get(MATERIALS[material].class_code, 20)
    return int(round(base * float(rng.uniform(0.8, 1.25))))


def _composition(session: Session, ubigeo: str) -> tuple[list[str], np.ndarray]:
    rows = session.execute(
        select(WasteComposition.material, WasteComposition.t_year).where(
            WasteComposition.ubigeo == ubigeo, WasteComposition.year == 2023
        )
    ).all()
    pairs = [(_platform(m), t) for m, t in rows if t > 0]
    pairs = [(m, t) for m, t in pairs if m is not None and MATERIALS[m].verdict is not Verdict.NON_RECOVERABLE]
    if not pairs:
        return ["organic", "plastic", "paper"], np.array([0.6, 0.2, 0.2])
    mats, tonnes = zip(*pairs, strict=True)
    w = np.asarray(tonnes, dtype=float)
    return [str(m) for m in mats], w / w.sum()


def _platform(column: str) -> str | None:
    return BY_MINAM_COLUMN.get(column)


def _listings(
    session: Session,
    rng: np.random.Generator,
    producers: list[tuple[User, District]],
    partners: list[User],
    demo: DemoSettings,
    factors: EmissionFactors | None,
) -> None:
    now = datetime.now(UTC)
    comp_cache: dict[str, tuple[list[str], np.ndarray]] = {}
    for i in range(demo.listings):
        user, district = producers[i % len(producers)]
        mats, probs = comp_cache.setdefault(district.ubigeo, _composition(session, district.ubigeo))
        material = mats[int(rng.choice(len(mats), p=probs))]
        lo, hi = KG_RANGE[ProducerKind(my_producer(session, user).kind)]
        kg = Decimal(str(round(float(rng.uniform(lo, hi)), 1)))
        listing = listings.create_listing(
            session,
            user,
            material=material,
            estimated_kg=kg,
            available_from=now,
            available_until=now + timedelta(days=int(rng.integers(5, 21))),
        )
        if i % 5 == 0:
            _try_complete(session, rng, user, listing.id, partners, factors)


def _try_complete(
    session: Session, rng: np.random.Generator, producer: User, listing_id: int, partners: list[User],
    factors: EmissionFactors | None,
) -> None:
    """Run one listing through request → accept → collect with the first partner that takes it."""
    for partner_user in partners:
        partner = my_partner(session, partner_user)
        try:
            with session.begin_nested():
                match = matches.request_pickup(session, producer, listing_id, partner_id=partner.id)
                matches.accept(session, partner_user, match.id)
                kg = match.reserved_kg * Decimal(str(round(float(rng.uniform(0.8, 1.1)), 2)))
                matches.collect(session, partner_user, match.id, weighed_kg=kg, factors=factors)
            return
        except AyniError:
            continue

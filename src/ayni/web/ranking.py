"""Which partners to show a producer first: one function, ``rank_partners``, the pages' only seam to
the matcher. It asks ``services.matching.recommend`` (the ranker of ``ayni.matching``: expected
value = P(accept) × what the partner pays − transport, live capacity, pickup days, explanations as
codes), with P from the served acceptance model (the registry's ranker champion, else the rule), and
adds what the page shows about each partner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ayni.services import matching, profiles
from ayni.services.acceptance import ServedAcceptance
from ayni.services.matching import PartnerCatalog

if TYPE_CHECKING:  # annotations only: pages reach storage through the services
    from ayni.storage.tables import User


@dataclass(frozen=True, slots=True)
class RankedPartner:
    partner_id: int
    name: str
    kind: str
    pickup_days: str
    price_cents_per_kg: int
    distance_km: float
    radius_km: float
    pickup_date: date
    gross_cents: int  # what the partner pays for the estimated kg
    transport_cents: int
    p_accept: float
    expected_net_cents: int
    reasons: tuple[str, ...]  # the matcher's reason codes; the catalogue words them as ``why.<code>``
    p_source: str = "rule"  # "model" when the learnt ranker scored it


def rank_partners(
    session: Session, user: User, listing_id: int, *, catalog: PartnerCatalog,
    acceptance: ServedAcceptance | None = None, top_k: int = 10
) -> list[RankedPartner]:
    estimator = acceptance.scorer(session).estimator if acceptance is not None else None
    out = []
    for rec in matching.recommend(session, user, listing_id, catalog=catalog, estimator=estimator, top_k=top_k):
        c = rec.candidate
        partner = profiles.get_partner(session, c.partner_id)
        out.append(
            RankedPartner(
                partner_id=c.partner_id,
                name=partner.name,
                kind=partner.kind,
                pickup_days=partner.pickup_days,
                price_cents_per_kg=c.price_cents_per_kg,
                distance_km=c.distance_km,
                radius_km=c.radius_km,
                pickup_date=c.pickup_date,
                gross_cents=c.gross_cents,
                transport_cents=rec.transport_cents,
                p_accept=rec.p_accept,
                expected_net_cents=rec.expected_net_cents,
                reasons=rec.explanation.reasons,
                p_source=rec.p_source,
            )
        )
    return out

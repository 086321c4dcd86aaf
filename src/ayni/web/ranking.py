"""Which partners to show a producer first. One function, ``rank_partners``, so that the learnt ranker
from ``ayni.matching`` can replace it without touching the pages.

Today: expected income (price per kg × estimated kg) first, then the nearer partner. No transport cost
is subtracted: the partner collects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ayni.domain.money import value_cents
from ayni.services.web_queries import PartnerOption


@dataclass(frozen=True, slots=True)
class RankedPartner:
    option: PartnerOption
    expected_cents: int
    reasons: tuple[str, ...]  # catalogue keys, rendered by the template with the option's values


def rank_partners(kg: Decimal, options: Sequence[PartnerOption]) -> list[RankedPartner]:
    ranked = [
        RankedPartner(
            option=o,
            expected_cents=value_cents(kg=kg, cents_per_kg=o.price_cents_per_kg),
            reasons=("why.price", "why.distance", "why.days"),
        )
        for o in options
    ]
    ranked.sort(key=lambda r: (-r.expected_cents, r.option.distance_km, r.option.partner_id))
    if ranked:
        best = ranked[0]
        ranked[0] = RankedPartner(best.option, best.expected_cents, ("why.best", *best.reasons))
    return ranked

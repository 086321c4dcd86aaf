"""The simulator's hidden partner behaviour and the interaction histories it produces.

Everything here is simulated (see ``ayni.matching.simulate`` for the model in full). A week of
platform life: each listing is shown to partners chosen by a *logging policy* (the cold-start rule's
expected value, perturbed with Gumbel noise so that the log explores), offered to them one after
another (one day apart) until one accepts; each offer's outcome comes from the hidden model.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np

from ayni.matching.candidates import candidates_for_listing
from ayni.matching.entities import ListingInput
from ayni.matching.history import ListingEvent, Offer
from ayni.matching.index import PartnerIndex
from ayni.matching.scoring import RuleAcceptance, ScoringConfig, transport_cents
from ayni.matching.simulate import (
    DEMO_PRICES_SOLES_PER_KG,
    Community,
    SimPartner,
    SimProducer,
    listings_for_week,
)

_TRIP = ScoringConfig()  # the partner's trip cost in the hidden model: the same demo tariff


def true_accept_probability(partner: SimPartner, producer: SimProducer, listing: ListingInput, *,
                            distance_km: float, now: datetime) -> float:
    """The hidden model (without the ε noise): P(partner accepts this listing).

    v1 terms, then the v2 terms (zero for a v1 community): the partner's preference for the material
    (its core trade or a side line), the lot's value against the trip's cost, and the producer's grade."""
    offer = partner.offer.offer_for(listing.material)
    if offer is None:
        return 0.0
    ratio = float(listing.kg / offer.min_kg) if offer.min_kg > 0 else 10.0
    conf = listing.photo_confidence if listing.photo_confidence is not None else 0.75
    age = max(0.0, (now - listing.created_at).total_seconds() / 86400)
    logit = (partner.base + partner.kind_pref[producer.kind]
             - partner.aversion * distance_km / partner.offer.radius_km
             + 0.5 * float(np.clip(np.log(ratio), -2, 2)) + partner.quality * (conf - 0.75)
             - 1.5 * offer.fill_rate + 1.5 * float(partner.taste @ producer.taste) - 0.1 * age)
    if partner.margin_weight or partner.material_pref:
        gross = float(listing.kg) * offer.price_cents_per_kg
        trip = max(1.0, distance_km * _TRIP.trip_factor * _TRIP.transport_cents_per_km)
        logit += (partner.material_pref.get(offer.material, 0.0)
                  + partner.margin_weight * float(np.clip(np.log(gross / trip), -2, 2))
                  + partner.quality * (producer.grade - 0.7))
    return float(1 / (1 + np.exp(-logit)))


def handover_probability(producer: SimProducer, listing: ListingInput, *, pickup: date,
                         price_cents_per_kg: int) -> float:
    """The hidden chance that an accepted listing is handed over: the producer's reliability, less the
    chance that a street buyer took the bag while it waited for the pickup day, less the chance that a low
    offer (under the material's middle demo price) sent it elsewhere. v1 communities: reliability only."""
    wait = max(0, (pickup - listing.created_at.date()).days)
    lo, hi = DEMO_PRICES_SOLES_PER_KG.get(listing.material, (1.0, 1.0))
    shortfall = max(0.0, 1.0 - price_cents_per_kg / (50.0 * (lo + hi)))
    return float(producer.reliability * np.exp(-producer.leak_per_day * wait)
                 * (1.0 - producer.price_sensitivity * shortfall))


def sample_outcome(rng: np.random.Generator, p_accept: float, producer: SimProducer, *,
                   p_handover: float | None = None) -> tuple[bool, bool]:
    """(accepted, collected) with logit noise ε ~ N(0, 0.3²); collected with ``p_handover`` (default: the
    producer's hidden reliability)."""
    logit = np.log(p_accept / (1 - p_accept)) + rng.normal(0, 0.3) if 0 < p_accept < 1 else (
        -50.0 if p_accept <= 0 else 50.0)
    accepted = bool(rng.random() < 1 / (1 + np.exp(-logit)))
    handover = producer.reliability if p_handover is None else p_handover
    return accepted, accepted and bool(rng.random() < handover)


def simulate_history(community: Community, *, weeks: int, offers_per_listing: int = 3, explore: float = 0.5,
                     random_state: int = 0, config: ScoringConfig | None = None) -> list[list[ListingEvent]]:
    """``weeks`` weeks of listings, offers and outcomes, one list of events per week."""
    config = config or ScoringConfig()
    rng = np.random.default_rng(random_state)
    index = PartnerIndex(community.partner_offers)
    partners = {p.offer.partner_id: p for p in community.partners}
    producers = {p.producer_id: p for p in community.producers}
    rule = RuleAcceptance(config=config)
    out: list[list[ListingEvent]] = []
    next_id = 1
    for week in range(weeks):
        events: list[ListingEvent] = []
        listings = listings_for_week(community, week, random_state=random_state, first_id=next_id)
        next_id += len(listings)
        for listing in listings:
            cands = candidates_for_listing(listing, index)
            if not cands:
                continue
            p = rule.p_accept(listing, cands, now=listing.created_at)
            ev = np.array([pi * c.gross_cents - transport_cents(c.distance_km, config=config)
                           for pi, c in zip(p, cands, strict=True)])
            scale = explore * (np.std(ev) + 1.0)
            order = np.argsort(-(ev + rng.gumbel(0, scale, len(cands))))[:offers_per_listing]
            offers: list[Offer] = []
            for step, pos in enumerate(order.tolist()):
                now = listing.created_at + timedelta(days=step)
                c = cands[pos]
                pt = true_accept_probability(partners[c.partner_id], producers[listing.producer_id], listing,
                                             distance_km=c.distance_km, now=now)
                ph = handover_probability(producers[listing.producer_id], listing, pickup=c.pickup_date,
                                          price_cents_per_kg=c.price_cents_per_kg)
                accepted, collected = sample_outcome(rng, pt, producers[listing.producer_id], p_handover=ph)
                offers.append(Offer(pos, now, accepted, collected))
                if accepted:
                    break
            events.append(ListingEvent(week, listing, tuple(cands), tuple(offers)))
        out.append(events)
    return out

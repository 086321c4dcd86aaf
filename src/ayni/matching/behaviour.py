"""The simulator's hidden partner behaviour and the interaction histories it produces.

Everything here is simulated (see ``ayni.matching.simulate`` for the model in full). A week of
platform life: each listing is shown to partners chosen by a *logging policy* (the cold-start rule's
expected value, perturbed with Gumbel noise so that the log explores), offered to them one after
another (one day apart) until one accepts; each offer's outcome comes from the hidden model.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from ayni.matching.candidates import candidates_for_listing
from ayni.matching.entities import ListingInput
from ayni.matching.history import ListingEvent, Offer
from ayni.matching.index import PartnerIndex
from ayni.matching.scoring import RuleAcceptance, ScoringConfig, transport_cents
from ayni.matching.simulate import Community, SimPartner, SimProducer, listings_for_week


def true_accept_probability(partner: SimPartner, producer: SimProducer, listing: ListingInput, *,
                            distance_km: float, now: datetime) -> float:
    """The hidden model (without the ε noise): P(partner accepts this listing)."""
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
    return float(1 / (1 + np.exp(-logit)))


def sample_outcome(rng: np.random.Generator, p_accept: float, producer: SimProducer) -> tuple[bool, bool]:
    """(accepted, collected) with logit noise ε ~ N(0, 0.3²) and the producer's hidden reliability."""
    logit = np.log(p_accept / (1 - p_accept)) + rng.normal(0, 0.3) if 0 < p_accept < 1 else (
        -50.0 if p_accept <= 0 else 50.0)
    accepted = bool(rng.random() < 1 / (1 + np.exp(-logit)))
    return accepted, accepted and bool(rng.random() < producer.reliability)


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
                accepted, collected = sample_outcome(rng, pt, producers[listing.producer_id])
                offers.append(Offer(pos, now, accepted, collected))
                if accepted:
                    break
            events.append(ListingEvent(week, listing, tuple(cands), tuple(offers)))
        out.append(events)
    return out

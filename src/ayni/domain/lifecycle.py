"""Life-cycles of listings and matches, and the roles and kinds of users.

Transitions are data: ``LISTING_TRANSITIONS[from]`` is the set of states one may move to. Any other
move raises ``Conflict`` with a message that says what is allowed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from ayni.errors import Conflict


class Role(StrEnum):
    PRODUCER = "producer"
    PARTNER = "partner"
    ADMIN = "admin"
    ANALYST = "analyst"


class ProducerKind(StrEnum):
    HOUSEHOLD = "household"
    BODEGA = "bodega"
    MARKET = "market"
    RESTAURANT = "restaurant"
    SCHOOL = "school"
    ASSOCIATION = "association"
    MUNICIPALITY = "municipality"


class PartnerKind(StrEnum):
    RECYCLER = "recycler"
    EORS_OPERATOR = "eors_operator"
    RECICLADORES_ASSOCIATION = "recicladores_association"
    COLLECTION_CENTRE = "collection_centre"
    UPCYCLER = "upcycler"
    COMPOSTER = "composter"


class ListingStatus(StrEnum):
    OPEN = "open"
    MATCHED = "matched"
    SCHEDULED = "scheduled"
    COLLECTED = "collected"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class MatchStatus(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    COLLECTED = "collected"
    CANCELLED = "cancelled"


L, M = ListingStatus, MatchStatus

LISTING_TRANSITIONS: dict[ListingStatus, frozenset[ListingStatus]] = {
    L.OPEN: frozenset({L.MATCHED, L.CANCELLED, L.EXPIRED}),
    L.MATCHED: frozenset({L.SCHEDULED, L.OPEN, L.CANCELLED, L.EXPIRED}),
    L.SCHEDULED: frozenset({L.COLLECTED, L.OPEN, L.CANCELLED}),
    L.COLLECTED: frozenset({L.CLOSED}),
    L.CLOSED: frozenset(),
    L.CANCELLED: frozenset(),
    L.EXPIRED: frozenset(),
}

MATCH_TRANSITIONS: dict[MatchStatus, frozenset[MatchStatus]] = {
    M.PROPOSED: frozenset({M.ACCEPTED, M.DECLINED, M.CANCELLED}),
    M.ACCEPTED: frozenset({M.COLLECTED, M.CANCELLED}),
    M.DECLINED: frozenset(),
    M.COLLECTED: frozenset(),
    M.CANCELLED: frozenset(),
}


def check_listing_transition(current: str, target: ListingStatus) -> None:
    _check("listing", ListingStatus(current), target, LISTING_TRANSITIONS)


def check_match_transition(current: str, target: MatchStatus) -> None:
    _check("match", MatchStatus(current), target, MATCH_TRANSITIONS)


S = TypeVar("S", ListingStatus, MatchStatus)


def _check(what: str, current: S, target: S, table: dict[S, frozenset[S]]) -> None:
    allowed = table[current]
    if target not in allowed:
        options = ", ".join(sorted(s.value for s in allowed)) or "nothing (it is final)"
        raise Conflict(
            f"A {what} that is '{current.value}' cannot become '{target.value}'. "
            f"From '{current.value}' it can become: {options}.",
            details={"current": current.value, "requested": target.value},
        )

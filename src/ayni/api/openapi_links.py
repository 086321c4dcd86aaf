"""OpenAPI links: which field of one operation's response feeds which parameter of the next.

They document the API's workflows (create a listing → see its ranked partners → request a pickup →
the partner accepts → collects) in the published schema, and they are what stateful fuzzing
(``tests/fuzz/test_api_stateful.py``) follows to chain calls on real ids instead of random ones.
``add_links`` is applied to the generated schema by ``ayni.api.app``; it is a pure function of it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Link:
    source: tuple[str, str, str]  # (method, path, status)
    name: str
    target: tuple[str, str]  # (method, path)
    parameters: dict[str, str]
    request_body: dict[str, str] = field(default_factory=dict)
    description: str = ""


_LISTING = "/v1/listings/{listing_id}"
_MATCH = "/v1/matches/{match_id}"
_NEW_LISTING = "$response.body#/id"
_FIRST_LISTING = "$response.body#/items/0/id"


def _listing_links(source: tuple[str, str, str], expr: str, what: str) -> list[Link]:
    targets = [("GetListing", "get", _LISTING), ("UpdateListing", "patch", _LISTING),
               ("RankedPartners", "get", f"{_LISTING}/matches"), ("UploadPhoto", "put", f"{_LISTING}/photo"),
               ("GetPhoto", "get", f"{_LISTING}/photo"), ("CancelListing", "post", f"{_LISTING}/cancel"),
               ("CloseListing", "post", f"{_LISTING}/close")]
    return [Link(source, name, (method, path), {"listing_id": expr}, description=f"{what} listing")
            for name, method, path in targets]


def _match_links(source: tuple[str, str, str], expr: str, what: str) -> list[Link]:
    targets = [("GetMatch", "get", _MATCH), ("AcceptMatch", "post", f"{_MATCH}/accept"),
               ("DeclineMatch", "post", f"{_MATCH}/decline"), ("CollectMatch", "post", f"{_MATCH}/collect"),
               ("CancelMatch", "post", f"{_MATCH}/cancel")]
    return [Link(source, name, (method, path), {"match_id": expr}, description=f"{what} match")
            for name, method, path in targets]


LINKS: tuple[Link, ...] = (
    *_listing_links(("post", "/v1/listings", "201"), _NEW_LISTING, "the new"),
    *_listing_links(("get", "/v1/listings", "200"), _FIRST_LISTING, "the first listed"),
    Link(("get", f"{_LISTING}/matches", "200"), "RequestPickupFromBest", ("post", f"{_LISTING}/pickup-requests"),
         {"listing_id": "$request.path.listing_id"}, {"partner_id": "$response.body#/0/partner_id"},
         "ask the best-ranked partner to collect this listing"),
    *_match_links(("post", f"{_LISTING}/pickup-requests", "201"), "$response.body#/id", "the requested"),
    *_match_links(("get", "/v1/matches", "200"), "$response.body#/items/0/id", "the first listed"),
    Link(("post", "/v1/producers", "201"), "GetProducer", ("get", "/v1/producers/{producer_id}"),
         {"producer_id": "$response.body#/id"}),
    Link(("post", "/v1/partners", "201"), "GetPartner", ("get", "/v1/partners/{partner_id}"),
         {"partner_id": "$response.body#/id"}),
    Link(("get", "/v1/partners", "200"), "GetFirstPartner", ("get", "/v1/partners/{partner_id}"),
         {"partner_id": "$response.body#/items/0/id"}),
    Link(("post", "/v1/admin/users", "201"), "UpdateUser", ("patch", "/v1/admin/users/{user_id}"),
         {"user_id": "$response.body#/id"}),
    Link(("get", "/v1/districts", "200"), "GetFirstDistrict", ("get", "/v1/districts/{ubigeo}"),
         {"ubigeo": "$response.body#/items/0/ubigeo"}),
    Link(("get", "/v1/materials", "200"), "GetFirstMaterial", ("get", "/v1/materials/{code}"),
         {"code": "$response.body#/items/0/code"}),
)


def add_links(spec: dict[str, Any], links: tuple[Link, ...] = LINKS) -> dict[str, Any]:
    """A copy of ``spec`` with ``links`` on their source responses (targets by ``operationId``).

    A link whose source or target operation is not in ``spec`` raises ``KeyError``: a renamed route
    must not silently drop a documented workflow."""
    out = copy.deepcopy(spec)
    paths = out["paths"]
    for link in links:
        method, path, status = link.source
        response = paths[path][method]["responses"][status]
        target = paths[link.target[1]][link.target[0]]
        body: dict[str, Any] = {"operationId": target["operationId"], "parameters": dict(link.parameters)}
        if link.request_body:
            body["requestBody"] = dict(link.request_body)
        if link.description:
            body["description"] = link.description
        response.setdefault("links", {})[link.name] = body
    return out

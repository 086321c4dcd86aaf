"""The API's browse page reads plain rows (``listings.list_listing_rows``) instead of ORM objects (issue 8):
the same listings, order, totals and producer contacts as the ORM path, for every role."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ayni.api.routes.listings import to_public_many, to_public_rows
from ayni.services import listings
from ayni.storage.tables import User
from tests.integration.conftest import Actor, Factory


def _both(session_factory: sessionmaker[Session], actor: Actor, **filters: Any) -> tuple[str, str]:
    window = {"status": None, "material": None, "ubigeo": None, "limit": 3, "offset": 1, **filters}
    with session_factory() as session:
        user = session.get(User, actor.user_id)
        assert user is not None
        orm = listings.list_listings(session, user, **window)
        rows = listings.list_listing_rows(session, user, **window)
        a = [p.model_dump_json() for p in to_public_many(session, user, orm.items)] + [str(orm.total)]
        b = [p.model_dump_json() for p in to_public_rows(session, user, rows.items)] + [str(rows.total)]
    return "\n".join(a), "\n".join(b)


@pytest.mark.parametrize("filters", [{}, {"status": "open"}, {"material": "PET"}, {"ubigeo": "140101"}])
def test_browse_rows_match_the_orm_shapes_for_every_role(make: Factory, session_factory: sessionmaker[Session],
                                                         filters: dict[str, Any]) -> None:
    producer, other, partner = make.producer(), make.producer(), make.partner()
    admin = make.user("admin")
    for _ in range(3):
        make.listing(producer)
        make.listing(other, material="cardboard")
    listing, match = make.match(producer, partner)
    assert partner.post(f"/v1/matches/{match['id']}/accept").status_code == 200  # the partner now sees the contact
    for actor in (producer, other, partner, admin):
        orm, rows = _both(session_factory, actor, **filters)
        assert orm == rows
    orm, _ = _both(session_factory, partner, limit=50, offset=0)
    assert '"producer_contact":{' in orm  # the accepted match's listing shows its contact to the partner

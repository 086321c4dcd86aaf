"""Matching over the database: ranked partners, opportunities, allocation, route, impact."""

from __future__ import annotations

from datetime import date

from tests.integration.conftest import Factory

PLASTIC = [{"material": "plastic", "price_cents_per_kg": 80, "min_kg": "0", "weekly_capacity_kg": "500"}]


def test_ranked_partners_prefer_value_and_exclude_those_that_cannot_take_it(make: Factory) -> None:
    producer = make.producer()
    cheap = make.partner(materials=[{**PLASTIC[0], "price_cents_per_kg": 40}])
    rich = make.partner(materials=[{**PLASTIC[0], "price_cents_per_kg": 120}])
    glass_only = make.partner(materials=[{"material": "glass", "price_cents_per_kg": 500, "min_kg": "0",
                                          "weekly_capacity_kg": "900"}])
    tiny = make.partner(materials=[{**PLASTIC[0], "weekly_capacity_kg": "1"}])
    big_minimum = make.partner(materials=[{**PLASTIC[0], "min_kg": "100"}])
    listing = make.listing(producer, material="PET", kg="20")
    r = producer.get(f"/v1/listings/{listing['id']}/matches")
    assert r.status_code == 200, r.text
    ids = [x["partner_id"] for x in r.json()]
    assert ids.index(rich.profile_id) < ids.index(cheap.profile_id)
    assert glass_only.profile_id not in ids and tiny.profile_id not in ids and big_minimum.profile_id not in ids
    top = r.json()[0]
    assert top["explanation"]["text_es"] and top["explanation"]["text_en"] and top["p_source"] == "rule"
    assert top["expected_net_cents"] <= top["gross_cents"]


def test_ranked_partners_respect_capacity_already_reserved(make: Factory) -> None:
    producer = make.producer()
    partner = make.partner(materials=[{**PLASTIC[0], "weekly_capacity_kg": "30"}])
    _, match = make.match(producer, partner, kg="25")
    assert partner.post(f"/v1/matches/{match['id']}/accept", json={"pickup_date": date.today().isoformat()}).status_code == 200
    other = make.listing(producer, kg="10")
    ids = [x["partner_id"] for x in producer.get(f"/v1/listings/{other['id']}/matches").json()]
    assert partner.profile_id not in ids


def test_partner_opportunities_hide_contact_and_only_show_what_it_takes(make: Factory) -> None:
    producer = make.producer()
    partner = make.partner(materials=PLASTIC)
    pet = make.listing(producer, material="PET")
    make.listing(producer, material="glass_clear")
    r = partner.get("/v1/partners/me/opportunities")
    assert r.status_code == 200
    ids = [o["listing"]["id"] for o in r.json()]
    assert ids == [pet["id"]]
    assert r.json()[0]["listing"]["producer_contact"] is None
    assert producer.get("/v1/partners/me/opportunities").status_code == 403


def test_allocation_is_admin_only_and_never_overbooks(make: Factory) -> None:
    producer = make.producer()
    make.partner(materials=[{**PLASTIC[0], "weekly_capacity_kg": "30"}])
    for _ in range(5):
        make.listing(producer, kg="12")
    admin = make.user("admin")
    assert producer.post("/v1/allocations", json={"region": "1401"}).status_code == 403
    assert admin.post("/v1/allocations", json={"region": "14x"}).status_code == 422
    r = admin.post("/v1/allocations", json={"region": "1401", "apply": True})
    assert r.status_code == 200, r.text
    body = r.json()
    methods = {m["method"]: m for m in body["methods"]}
    assert set(methods) == {"optimal", "nearest", "highest_price", "fcfs"}
    assert all(m["capacity_violations"] == 0 for m in methods.values())
    assert methods["optimal"]["assigned"] == 2  # 30 kg of capacity holds two 12 kg listings
    assert methods["optimal"]["total_expected_net_cents"] >= max(m["total_expected_net_cents"] for m in methods.values())
    assert body["proposed_matches"] == 2


def test_route_orders_the_days_accepted_collections(make: Factory) -> None:
    partner = make.partner()
    day = date.today()
    for lat in (-6.76, -6.79, -6.80):
        producer = make.producer(lat=lat, lon=-79.84)
        _, match = make.match(producer, partner, kg="5")
        assert partner.post(f"/v1/matches/{match['id']}/accept", json={"pickup_date": day.isoformat()}).status_code == 200
    r = partner.get("/v1/partners/me/route", params={"date": day.isoformat()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["stops"]) == 3 and body["distance_km"] > 0
    assert sorted(s["order"] for s in body["stops"]) == [1, 2, 3]


def test_impact_counts_collected_kg_and_money(make: Factory) -> None:
    producer, partner = make.producer(), make.partner()
    _, match = make.match(producer, partner, kg="10")
    partner.post(f"/v1/matches/{match['id']}/accept", json={})
    partner.post(f"/v1/matches/{match['id']}/collect", json={"weighed_kg": "9.5"})
    r = producer.get("/v1/impact")
    assert r.status_code == 200
    body = r.json()
    assert body["kg_collected"] == "9.500" and body["soles_paid_cents"] == 760 and body["collections"] == 1
    assert make.producer().get("/v1/impact").json()["collections"] == 0  # another producer sees only its own

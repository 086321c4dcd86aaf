"""Every listing/match transition through the API, and the invalid ones (409 with a clear message)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.orm import Session

from ayni.settings import Settings
from ayni.storage.tables import CapacityReservation, Feedback
from tests.integration.conftest import Factory


def test_full_journey_request_accept_collect_close(make: Factory, session: Session) -> None:
    producer, partner = make.producer(), make.partner()
    listing, match = make.match(producer, partner)
    assert producer.get(f"/v1/listings/{listing['id']}").json()["status"] == "matched"
    assert match["status"] == "proposed" and match["agreed_price_cents_per_kg"] == 80 and match["material"] == "plastic"
    r = partner.post(f"/v1/matches/{match['id']}/accept", json={})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted" and r.json()["pickup_date"] is not None
    assert producer.get(f"/v1/listings/{listing['id']}").json()["status"] == "scheduled"
    reserved = session.scalar(
        select(CapacityReservation.reserved_kg).where(CapacityReservation.partner_id == partner.profile_id)
    )
    assert str(reserved) == "12.500"
    r = partner.post(f"/v1/matches/{match['id']}/collect", json={"weighed_kg": "11.2"})
    assert r.status_code == 200
    assert r.json()["paid_cents"] == 896  # 11.2 kg × 80 céntimos, exact
    assert producer.get(f"/v1/listings/{listing['id']}").json()["status"] == "collected"
    outcome = session.scalar(
        select(Feedback).where(Feedback.kind == "collection_outcome", Feedback.listing_id == listing["id"])
    )
    assert outcome is not None and outcome.payload["weighed_kg"] == "11.200"
    assert producer.post(f"/v1/listings/{listing['id']}/close").json()["status"] == "closed"


def test_collect_counts_co2e_with_the_emission_factors_of_the_apps_own_data_dir(
    make: Factory, app_settings: Settings
) -> None:
    factors = app_settings.data_dir / "peru" / "emission_factors_warm_v15.csv"
    factors.parent.mkdir(parents=True)
    factors.write_text("warm_material,pathway,kgco2e_per_kg\nPET,landfilling,0.5\nPET,recycling,-1.5\n")
    labels = {"material": "plastic", "department": "LAMBAYEQUE"}
    before = REGISTRY.get_sample_value("ayni_co2e_avoided_kg_total", labels) or 0.0
    producer, partner = make.producer(), make.partner()
    _, match = make.match(producer, partner)
    assert partner.post(f"/v1/matches/{match['id']}/accept", json={}).status_code == 200
    assert partner.post(f"/v1/matches/{match['id']}/collect", json={"weighed_kg": "10"}).status_code == 200
    after = REGISTRY.get_sample_value("ayni_co2e_avoided_kg_total", labels) or 0.0
    assert after - before == pytest.approx(20.0)  # (0.5 − (−1.5)) kg CO2e/kg × 10 kg, from this app's data only


def test_decline_reopens_the_listing_and_cancel_releases_capacity(make: Factory, session: Session) -> None:
    producer, partner = make.producer(), make.partner()
    listing, match = make.match(producer, partner)
    assert partner.post(f"/v1/matches/{match['id']}/decline", json={"reason": "full"}).json()["status"] == "declined"
    assert producer.get(f"/v1/listings/{listing['id']}").json()["status"] == "open"
    listing2, match2 = make.match(producer, partner)
    partner.post(f"/v1/matches/{match2['id']}/accept", json={})
    r = producer.post(f"/v1/matches/{match2['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert producer.get(f"/v1/listings/{listing2['id']}").json()["status"] == "open"
    reserved = session.scalar(
        select(CapacityReservation.reserved_kg).where(CapacityReservation.partner_id == partner.profile_id)
    )
    assert reserved == 0


def test_cancelling_a_listing_cancels_its_pending_matches(make: Factory) -> None:
    producer, partner = make.producer(), make.partner()
    listing, match = make.match(producer, partner)
    assert producer.post(f"/v1/listings/{listing['id']}/cancel").json()["status"] == "cancelled"
    assert partner.get(f"/v1/matches/{match['id']}").json()["status"] == "cancelled"


def test_invalid_transitions_answer_409_with_what_is_allowed(make: Factory) -> None:
    producer, partner = make.producer(), make.partner()
    listing, match = make.match(producer, partner)
    r = partner.post(f"/v1/matches/{match['id']}/collect", json={"weighed_kg": "5"})
    assert r.status_code == 409
    assert "cannot become 'collected'" in r.json()["detail"] and "accepted" in r.json()["detail"]
    assert producer.post(f"/v1/listings/{listing['id']}/close").status_code == 409
    partner.post(f"/v1/matches/{match['id']}/decline", json={})
    assert partner.post(f"/v1/matches/{match['id']}/accept", json={}).status_code == 409
    assert partner.post(f"/v1/matches/{match['id']}/decline", json={}).status_code == 409
    producer.post(f"/v1/listings/{listing['id']}/cancel")
    again = producer.post(f"/v1/listings/{listing['id']}/cancel")
    assert again.status_code == 409 and "final" in again.json()["detail"]
    new_request = producer.post(
        f"/v1/listings/{listing['id']}/pickup-requests", json={"partner_id": partner.profile_id}
    )
    assert new_request.status_code == 409


def test_the_same_partner_cannot_be_asked_twice(make: Factory) -> None:
    producer, partner = make.producer(), make.partner()
    listing, _ = make.match(producer, partner)
    r = producer.post(f"/v1/listings/{listing['id']}/pickup-requests", json={"partner_id": partner.profile_id})
    assert r.status_code == 409


def test_accept_rejects_when_capacity_is_exhausted(make: Factory) -> None:
    producer = make.producer()
    partner = make.partner(
        materials=[{"material": "plastic", "price_cents_per_kg": 80, "min_kg": "0", "weekly_capacity_kg": "20"}]
    )
    _, first = make.match(producer, partner, kg="15")
    _, second = make.match(producer, partner, kg="10")
    assert partner.post(f"/v1/matches/{first['id']}/accept", json={}).status_code == 200
    r = partner.post(f"/v1/matches/{second['id']}/accept", json={})
    assert r.status_code == 409 and "capacity" in r.json()["detail"]


def test_partner_refuses_materials_it_does_not_take_and_quantities_below_its_minimum(make: Factory) -> None:
    producer = make.producer()
    partner = make.partner(
        materials=[{"material": "glass", "price_cents_per_kg": 10, "min_kg": "50", "weekly_capacity_kg": "900"}]
    )
    pet = make.listing(producer, material="PET")
    r = producer.post(f"/v1/listings/{pet['id']}/pickup-requests", json={"partner_id": partner.profile_id})
    assert r.status_code == 422 and "does not take" in r.json()["detail"]
    glass = make.listing(producer, material="glass_clear", kg="5")
    r = producer.post(f"/v1/listings/{glass['id']}/pickup-requests", json={"partner_id": partner.profile_id})
    assert r.status_code == 422 and "at least 50" in r.json()["detail"]


def test_correcting_the_predicted_material_is_stored_as_feedback(make: Factory, session: Session) -> None:
    producer = make.producer()
    r = producer.post(
        "/v1/listings",
        json={
            "material": "glass",
            "estimated_kg": "3",
            "predicted_material": "plastic",
            "predicted_confidence": 0.55,
            "model_version": "v-test",
        },
    )
    assert r.status_code == 201 and r.json()["predicted_material"] == "plastic"
    fb = session.scalar(select(Feedback).where(Feedback.listing_id == r.json()["id"]))
    assert fb is not None and (fb.predicted_material, fb.corrected_material) == ("plastic", "glass")
    r2 = producer.patch(f"/v1/listings/{r.json()['id']}", json={"material": "metal"})
    assert r2.status_code == 200 and r2.json()["material"] == "metal"
    n = len(list(session.scalars(select(Feedback).where(Feedback.listing_id == r.json()["id"]))))
    assert n == 2

"""The REST API: keys, validation errors with field and reason, batches, pagination, visibility."""

import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from regua.commerce.models import Order
from regua.customers.models import Contact
from regua.events.models import Event
from regua.users.models import ApiKey, User

pytestmark = pytest.mark.django_db


def post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_every_endpoint_needs_a_key() -> None:
    anonymous = Client()
    assert anonymous.get("/api/contacts").status_code == 401
    assert post(anonymous, "/api/events", {"events": []}).status_code == 401
    assert (
        Client(headers={"Authorization": "Bearer rg_nope_nope"}).get("/api/contacts").status_code
        == 401
    )


def test_a_revoked_key_stops_working(api: Client, api_token: str) -> None:
    assert api.get("/api/contacts").status_code == 200
    ApiKey.objects.update(revoked_at=timezone.now())
    assert api.get("/api/contacts").status_code == 401


def test_the_key_works_in_the_x_api_key_header_and_records_its_use(api_token: str) -> None:
    client = Client(headers={"X-API-Key": api_token})
    assert client.get("/api/contacts").status_code == 200
    assert ApiKey.objects.get().last_used_at is not None
    assert ApiKey.objects.get().digest != api_token  # only a digest is stored


def test_agents_may_read_but_not_write(alice: User) -> None:
    _key, token = ApiKey.generate(user=alice, name="x")
    client = Client(headers={"Authorization": f"Bearer {token}"})
    assert client.get("/api/contacts").status_code == 200
    assert post(client, "/api/contacts", {"email": "a@x.com"}).status_code == 403


def test_upserting_a_contact_creates_then_updates(api: Client) -> None:
    body = {
        "external_id": "C1",
        "email": "Clara@Example.com",
        "name": "Clara Souza",
        "phone": "(11) 98765-4321",
        "tags": ["vip"],
        "consent": {"email": True},
        "attributes": {"plano": "ouro"},
    }
    created = post(api, "/api/contacts", body)
    assert created.status_code == 201
    data = created.json()
    assert data["status"] == "created"
    assert data["contact"]["email"] == "clara@example.com"
    assert data["contact"]["phone"] == "+5511987654321"
    assert data["contact"]["tags"] == ["vip"]
    assert data["contact"]["consent"] == {"email": "granted"}
    again = post(api, "/api/contacts", body)
    assert (again.status_code, again.json()["status"]) == (200, "unchanged")
    changed = post(api, "/api/contacts", {"external_id": "C1", "city": "Natal"})
    assert changed.json()["status"] == "updated"
    assert changed.json()["contact"]["city"] == "Natal"
    assert changed.json()["contact"]["first_name"] == "Clara"


def test_an_invalid_contact_is_a_422_naming_the_field_and_the_reason(api: Client) -> None:
    response = post(api, "/api/contacts", {"email": "joao@@example.com", "state": "XX"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {tuple(d["loc"]) for d in detail} == {("body", "email"), ("body", "state")}
    assert all(d["msg"] for d in detail)
    assert not Contact.objects.exists()
    wrong_type = post(api, "/api/contacts", {"email": "a@x.com", "tags": "not-a-list"})
    assert wrong_type.status_code == 422
    assert "tags" in json.dumps(wrong_type.json())


def test_a_batch_keeps_the_good_items_and_reports_the_bad_ones_whole(api: Client) -> None:
    body = {
        "contacts": [
            {"external_id": "A", "email": "a@x.com", "tags": ["t1"], "consent": {"sms": True}},
            {"external_id": "B", "email": "bad@@x.com", "tags": ["t2"], "consent": {"sms": True}},
            {"external_id": "C", "email": "a@x.com"},  # e-mail of A: refused, not merged
        ]
    }
    response = post(api, "/api/contacts/batch", body)
    assert response.status_code == 200
    data = response.json()
    assert (data["created"], data["skipped"]) == (1, 2)
    assert [r["status"] for r in data["results"]] == ["created", "error", "error"]
    assert data["results"][1]["errors"][0]["field"] == "email"
    # nothing of a refused item was written: no contact, no tag, no consent
    assert list(Contact.objects.values_list("external_id", flat=True)) == ["A"]
    assert not Contact.objects.filter(tags__name="t2").exists()


def test_a_batch_has_at_most_1000_items(api: Client) -> None:
    response = post(
        api,
        "/api/events",
        {
            "events": [{"customer_id": "x", "name": "login", "occurred_at": "2025-01-01T00:00:00Z"}]
            * 1001
        },
    )
    assert response.status_code == 422


def test_events_batches_are_idempotent(api: Client) -> None:
    events = [
        {
            "customer_id": "C1",
            "name": "login",
            "occurred_at": "2025-01-01T10:00:00-03:00",
            "id": f"ev-{i}",
        }
        for i in range(10)
    ]
    events.append({"customer_id": "C1", "name": "login", "occurred_at": "amanhã"})
    first = post(api, "/api/events", {"events": events}).json()
    assert (first["created"], first["skipped"], first["contacts_created"]) == (10, 1, 1)
    assert first["errors"] == [
        {"index": 10, "field": "occurred_at", "message": first["errors"][0]["message"]}
    ]
    second = post(api, "/api/events", {"events": events}).json()
    assert (second["created"], second["unchanged"]) == (0, 10)
    assert Event.objects.count() == 10


def test_orders_batches_create_and_update(api: Client) -> None:
    order = {
        "order_id": "P1",
        "customer_id": "c@x.com",
        "ordered_at": "2025-03-01T10:00:00Z",
        "total": "1.234,56",
        "items": [{"sku": "S1", "quantity": 2, "unit_price": "617.28"}],
    }
    assert post(api, "/api/orders", {"orders": [order]}).json()["created"] == 1
    result = post(api, "/api/orders", {"orders": [{**order, "status": "entregue"}]}).json()
    assert result["updated"] == 1
    assert Order.objects.get().status == "delivered"


def test_contacts_list_filters_and_pages_with_a_cursor(
    api: Client, make_contact, alice: User
) -> None:  # type: ignore[no-untyped-def]
    for i in range(7):
        make_contact(
            stage="customer" if i % 2 else "lead", city="Natal", owner=alice if i < 3 else None
        )
    first = api.get("/api/contacts?limit=3").json()
    assert len(first["items"]) == 3
    second = api.get(f"/api/contacts?limit=3&cursor={first['next_cursor']}").json()
    third = api.get(f"/api/contacts?limit=3&cursor={second['next_cursor']}").json()
    ids = [c["id"] for page in (first, second, third) for c in page["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 7
    assert third["next_cursor"] is None
    customers = api.get("/api/contacts?stage=customer").json()["items"]
    assert {c["stage"] for c in customers} == {"customer"} and len(customers) == 3
    assert len(api.get(f"/api/contacts?owner={alice.pk}").json()["items"]) == 3
    one = customers[0]
    assert api.get(f"/api/contacts/{one['id']}").json()["email"] == one["email"]
    assert api.get("/api/contacts/999999").status_code == 404


def test_agents_see_only_their_portfolio_when_it_is_private(
    settings, alice: User, bob: User, make_contact
) -> None:  # type: ignore[no-untyped-def]
    settings.PORTFOLIO_VISIBILITY = "own"
    mine, theirs = make_contact(owner=alice), make_contact(owner=bob)
    _key, token = ApiKey.generate(user=alice, name="x")
    client = Client(headers={"Authorization": f"Bearer {token}"})
    assert [c["id"] for c in client.get("/api/contacts").json()["items"]] == [mine.pk]
    assert client.get(f"/api/contacts/{theirs.pk}").status_code == 404


def test_the_openapi_schema_and_docs_are_published(api: Client) -> None:
    schema = Client().get("/api/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/contacts", "/api/contacts/batch", "/api/events", "/api/orders"} <= set(paths)
    assert Client().get("/api/docs").status_code == 200


def test_nul_characters_never_fail_a_batch(api: Client) -> None:
    created = post(api, "/api/contacts", {"email": "nul@x.com", "name": "Ana\u0000 Lima"})
    assert created.status_code == 201
    assert created.json()["contact"]["first_name"] == "Ana"
    refused = post(api, "/api/contacts", {"email": "n2@x.com", "attributes": {"a": "x\u0000"}})
    assert refused.status_code == 422
    events = post(
        api,
        "/api/events",
        {
            "events": [
                {
                    "customer_id": "nul@x.com",
                    "name": "login",
                    "occurred_at": "2025-01-01T00:00:00Z",
                },
                {
                    "customer_id": "nul@x.com",
                    "name": "review",
                    "occurred_at": "2025-01-01T00:00:00Z",
                    "properties": {"text": "bad\u0000"},
                },
            ]
        },
    ).json()
    assert (events["created"], events["skipped"]) == (1, 1)

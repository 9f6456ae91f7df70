"""schemathesis against the REST API: every operation of the OpenAPI schema django-ninja
serves at /api/openapi.json, called through the WSGI application with an API key, with
valid and invalid input; no request may get a 5xx (a bad value is a 4xx saying which
field and why). CI runs a few examples per operation; `regua bench --only fuzz` runs
many (regua/benchmarks/api_fuzz.py)."""

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from regua.benchmarks.api_fuzz import api_schema, same_connection
from regua.benchmarks.fuzz import rolled_back
from regua.customers.models import Contact
from regua.desk.services import ticket_open


@pytest.fixture
def openapi(db: None, settings: Any) -> Any:
    """The schema, with a contact and a ticket in the database for the calls to find."""
    settings.RATELIMIT_ENABLE = False  # the fuzzer is one busy client
    contact = Contact.objects.create(external_id="ext-1", email="ana@exemplo.com.br")
    ticket_open(contact=contact, subject="Pedido", body="Cadê?")
    return api_schema()


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation, read from django-ninja without a request."""
    from regua.api import api

    paths = api.get_openapi_schema(path_prefix="/api/")["paths"]
    return sorted((method.upper(), path) for path, item in paths.items() for method in item)


OPERATIONS = _operations()
# A few examples per operation here, valid and invalid; the benchmark runs many more.
EXAMPLES = 20


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_request_gets_a_server_error(
    openapi: Any, api_token: str, method: str, path: str
) -> None:
    operation = openapi[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(cases)
    def each(case: Any) -> None:
        with same_connection(), rolled_back():
            case.call_and_validate(
                headers={"Authorization": f"Bearer {api_token}"}, checks=[not_a_server_error]
            )

    each()


def test_the_schema_lists_every_operation_of_the_api(openapi: Any) -> None:
    labels = {result.ok().label for result in openapi.get_all_operations()}
    assert labels == {f"{method} {path}" for method, path in OPERATIONS}
    assert {"POST /api/contacts", "POST /api/events", "POST /api/orders"} <= labels


def test_a_bad_value_is_a_4xx_that_names_the_field(api: Any, db: None) -> None:
    response = api.post(
        "/api/contacts",
        {"email": "ana@exemplo.com.br", "birth_date": "31/02/2024"},
        content_type="application/json",
    )
    assert 400 <= response.status_code < 500
    body = response.json()
    assert "birth_date" in str(body)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"updated_since": "0031-07-18T12:19:52+21:48"}, None),  # PostgreSQL's range
        ({"updated_since": "0001-01-01T00:00:00+03:00"}, "updated_since"),
        ({"external_id": "a\x00b"}, "external_id"),
        ({"q": "\x00"}, "q"),
    ],
)
def test_odd_query_values_are_answered_not_crashed_on(
    api: Any, db: None, query: dict[str, str], field: str | None
) -> None:
    response = api.get("/api/contacts", query)
    if field is None:
        assert response.status_code == 200
    else:
        assert response.status_code == 422
        assert field in str(response.json()["detail"][0]["loc"])


def test_a_value_the_database_refuses_is_a_422(api: Any, db: None, monkeypatch: Any) -> None:
    from django.db import DataError

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")

    monkeypatch.setattr("regua.customers.api.contacts_search_page", refuse)
    response = api.get("/api/contacts")
    assert response.status_code == 422
    assert "cannot store" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/desk/tickets", {"contact": "ana@x.com", "subject": "a\x00", "body": "b"}, "subject"),
        ("/api/desk/tickets", {"contact": "ana@x.com", "subject": "a", "body": "\x00"}, "body"),
        ("/api/loyalty/referrals", {"referrer_code": "\x00", "contact": "ext-1"}, "referrer_code"),
    ],
)
def test_a_nul_character_is_a_422_that_names_the_field(
    api: Any, db: None, path: str, body: dict[str, str], field: str
) -> None:
    # PostgreSQL cannot store one: schemathesis found these as 500s there
    response = api.post(path, body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field


def test_a_nul_in_a_loyalty_key_finds_no_one(api: Any, db: None) -> None:
    assert api.get("/api/loyalty/contacts/a%00b").status_code == 404

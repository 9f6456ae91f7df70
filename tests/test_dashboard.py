"""The dashboard: computed once into a snapshot, served from it, filtered, exported."""

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from regua.analytics.models import CustomerScore, Snapshot
from regua.commerce.models import Order
from regua.customers.models import Contact
from regua.segments.models import Segment
from regua.users.models import User

pytestmark = pytest.mark.django_db
NOW = timezone.make_aware(timezone.datetime(2026, 6, 30, 15, 0))


@pytest.fixture
def shop(alice: User) -> list[Contact]:
    """Thirty buyers in two cities, half of Recife owned by Alice."""
    contacts = []
    for n in range(30):
        contact = Contact.objects.create(
            email=f"c{n}@exemplo.com.br",
            first_name=f"Cliente {n}",
            city="Recife" if n % 2 else "Curitiba",
            owner=alice if n % 4 == 1 else None,
        )
        for k in range(1 + n % 4):
            Order.objects.create(
                external_id=f"{n}-{k}",
                contact=contact,
                ordered_at=NOW - timedelta(days=7 + 35 * k + n),
                total=50 + 10 * k,
            )
        contacts.append(contact)
    return contacts


def page(client, **params):  # type: ignore[no-untyped-def]
    client.cookies["django_language"] = "en"
    return client.get(reverse("analytics:dashboard"), params)


def test_the_dashboard_is_computed_once_and_then_served_from_its_snapshot(  # type: ignore[no-untyped-def]
    client_for, manager: User, shop: list[Contact]
) -> None:
    client = client_for(manager)
    with time_machine.travel(NOW, tick=False):
        first = page(client)
        body = first.content.decode()
        assert first.status_code == 200 and 'data-testid="freshness"' in body
        assert 'data-testid="kpi-retention"' in body and "customers won" in body
        assert Snapshot.objects.count() == 1
        assert CustomerScore.objects.count() == 30  # scores refreshed for the as-of date
        with CaptureQueriesContext(connection) as queries:
            again = page(client)
        assert again.status_code == 200
        assert Snapshot.objects.count() == 1
        assert len(queries) < 12  # session, user, snapshot, segments: no recomputation
        snapshot = Snapshot.objects.get()
        tables = snapshot.payload["tables"]
        assert sum(row[2] for row in tables["rfm_matrix"]["rows"]) == 30
        assert sum(row[1] for row in tables["activity"]["rows"]) == 30


def test_a_segment_filter_and_an_agents_portfolio_get_their_own_figures(  # type: ignore[no-untyped-def]
    client_for, manager: User, alice: User, shop: list[Contact], settings
) -> None:
    settings.PORTFOLIO_VISIBILITY = "own"
    recife = Segment.objects.create(
        name="Recife",
        rule={"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "Recife"}]},
    )
    with time_machine.travel(NOW, tick=False):
        page(client_for(manager), segment=recife.pk)
        page(client_for(alice))
    keys = {s.key: s for s in Snapshot.objects.all()}
    assert len(keys) == 2
    by_segment = next(s for k, s in keys.items() if f"segment={recife.pk}" in k)
    by_owner = next(s for k, s in keys.items() if f"owner={alice.pk}" in k)
    customers = lambda s: sum(r[1] for r in s.payload["tables"]["activity"]["rows"])  # noqa: E731
    assert customers(by_segment) == 15
    assert customers(by_owner) == Contact.objects.filter(owner=alice).count() == 8


def test_every_table_exports_as_csv_in_the_readers_language(  # type: ignore[no-untyped-def]
    client_for, manager: User, shop: list[Contact]
) -> None:
    client = client_for(manager)
    with time_machine.travel(NOW, tick=False):
        page(client)
        for table in (
            "kpis",
            "rfm_matrix",
            "rfm_segments",
            "activity",
            "relationship",
            "cohorts",
            "second_purchase",
            "nps_trend",
            "clv_histogram",
            "top_customers",
        ):
            response = client.get(reverse("analytics:export", args=[table]))
            assert response.status_code == 200, table
            rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
            assert rows[0], table
        kpis = client.get(reverse("analytics:export", args=["kpis"]))
        rows = list(csv.reader(io.StringIO(kpis.content.decode("utf-8-sig"))))
        assert rows[0] == ["KPI", "Value", "Formula"]
        assert rows[1][:1] == ["Conversion rate"]
        assert "customers won ÷ leads created × 100" in rows[1][2]
        assert client.get(reverse("analytics:export", args=["nope"])).status_code == 404


def test_an_empty_base_still_shows_a_dashboard_and_says_there_is_no_clv(  # type: ignore[no-untyped-def]
    client_for, manager: User
) -> None:
    response = page(client_for(manager))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="no-clv"' in body


def test_recompute_replaces_the_snapshot(client_for, manager: User, shop: list[Contact]) -> None:  # type: ignore[no-untyped-def]
    client = client_for(manager)
    with time_machine.travel(NOW, tick=False):
        page(client)
        before = Snapshot.objects.get().updated_at
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        response = client.post(reverse("analytics:recompute"))
        assert response.status_code == 302
        assert Snapshot.objects.get().updated_at > before

"""`regua demo`: a believable shop, the same for the same seed."""

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Count, Max, Min

from regua.commerce.models import Order, OrderItem
from regua.customers.models import Company, Consent, Contact, ContactRole, StageChange
from regua.desk.models import Ticket
from regua.desk.reports import sla_report
from regua.events.models import Event
from regua.faq.models import Article
from regua.users.models import User

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def digest() -> str:
    rows = [
        list(
            Contact.objects.order_by("id").values_list(
                "email", "first_name", "city", "stage", "birth_date"
            )
        ),
        list(
            Order.objects.order_by("id").values_list(
                "external_id", "contact_id", "ordered_at", "total"
            )
        ),
        list(
            Event.objects.order_by("contact_id", "name", "occurred_at").values_list(
                "contact_id", "name", "occurred_at", "fingerprint"
            )
        ),
    ]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_the_demo_is_a_believable_shop_and_the_same_for_a_seed(capsys) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        call_command("demo", contacts=400, months=12, seed=7)
        first = digest()
        call_command("demo", contacts=400, months=12, seed=7)  # data there: kept
        assert digest() == first
        call_command("demo", contacts=400, months=12, seed=7, reset=True)
        assert digest() == first
        call_command("demo", contacts=400, months=12, seed=8, reset=True)
        assert digest() != first
    out = capsys.readouterr().out
    assert "admin@regua.demo" in out and "regua-demo" in out
    # a team that can sign in, with roles
    assert User.objects.get(email="admin@regua.demo").check_password("regua-demo")
    assert User.objects.filter(role="agent").count() >= 3
    # customers who buy repeatedly, with items, over the window
    contacts, orders = Contact.objects.count(), Order.objects.count()
    assert contacts == 400 and orders >= 2.5 * contacts
    assert OrderItem.objects.count() >= orders
    span = Order.objects.aggregate(first=Min("ordered_at"), last=Max("ordered_at"))
    assert (span["last"] - span["first"]).days > 300 and span["last"] <= NOW
    # a stream of events, every order's purchase in it, nothing in the future
    assert Event.objects.count() >= 10 * contacts
    assert Event.objects.filter(name="purchase").count() == orders
    assert not Event.objects.filter(occurred_at__gt=NOW).exists()
    assert set(Event.objects.values_list("name", flat=True)) >= {
        "signup",
        "login",
        "product_viewed",
        "purchase",
        "upgrade",
        "cancellation",
        "complaint",
    }
    # lifecycle stages agree with the orders, with their history
    buyers = set(Order.objects.values_list("contact_id", flat=True))
    for contact_id, stage in Contact.objects.values_list("id", "stage"):
        assert (stage in ("customer", "inactive", "churned")) == (contact_id in buyers)
    assert StageChange.objects.filter(to_stage="customer").count() == len(buyers)
    # B2B accounts with a power map, consent on record, Brazilian places
    assert Company.objects.exists() and ContactRole.objects.exists()
    assert Consent.objects.filter(channel="email", status="granted").count() > contacts / 2
    assert Contact.objects.filter(state="SP").exists()
    assert Contact.objects.values("city").annotate(n=Count("id")).count() > 10
    # a service desk with months of tickets, the complaints among them, mostly in time
    assert Ticket.objects.filter(kind="complaint").exists()
    assert Ticket.objects.filter(status__in=["new", "open"]).exists()
    total, _rows = sla_report(Ticket.objects.all(), "month")
    assert total.met_rate is not None and 50 < total.met_rate < 100
    assert Article.objects.filter(published=True, language="pt-br").exists()


@pytest.mark.django_db(transaction=True)
def test_the_demo_has_seasonal_peaks(capsys) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        call_command("demo", contacts=2000, months=12, seed=3)
    from regua.lib.dates_br import black_friday

    def per_day(first: date, last: date) -> float:
        orders = Order.objects.filter(ordered_at__date__range=(first, last)).count()
        return orders / ((last - first).days + 1)

    # Black Friday week sells well above the fortnight before it
    bf = black_friday(2025)
    before = per_day(bf - timedelta(days=24), bf - timedelta(days=10))
    assert per_day(bf - timedelta(days=3), bf + timedelta(days=3)) > 1.8 * before


def _indexes(table: str) -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, table))


@pytest.mark.django_db(transaction=True)
def test_a_load_killed_after_dropping_the_indexes_is_mended_by_the_next_one() -> None:
    from django.db import connection

    from regua.customers import fts
    from regua.customers.search import contact_search

    with time_machine.travel(NOW, tick=False):
        call_command("demo", contacts=60, months=3, seed=7)
        # a load killed between dropping and rebuilding left the base like this
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX event_name_time_idx")
            cursor.execute("DROP INDEX contact_birth_idx")
            if connection.vendor == "sqlite":
                for trigger in ("customers_contact_fts_ai", "customers_contact_fts_au"):
                    cursor.execute(f"DROP TRIGGER {trigger}")
        assert "event_name_time_idx" not in _indexes("events_event")
        call_command("demo", contacts=60, months=3, seed=7, reset=True)
    assert "event_name_time_idx" in _indexes("events_event")
    assert "contact_birth_idx" in _indexes("customers_contact")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            triggers = {name for (name,) in cursor.fetchall()}
        assert {sql.split()[5] for sql in fts.TRIGGERS} <= triggers
        # the name search follows a renamed contact again
        contact = Contact.objects.order_by("id").first()
        assert contact is not None
        contact.first_name = "Zuleica"
        contact.save()
        found = contact_search(Contact.objects.all(), "Zuleica")
        assert contact.pk in set(found.values_list("pk", flat=True))

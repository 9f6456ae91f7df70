"""Analytics from the database: the CDNOW reference fit, KPIs and the command line."""

import json
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from regua.analytics import clv, frames, kpis
from regua.commerce.models import Order, OrderStatus, Product
from regua.customers.models import Contact
from regua.events.models import Event

CDNOW = Path(__file__).parent / "fixtures" / "CDNOW_sample.txt"


def run(*args: str) -> dict:
    out = StringIO()
    call_command("analytics", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_cdnow_through_the_orders_import_gives_the_published_parameters(tmp_path: Path) -> None:
    # given: the CDNOW sample converted and imported as orders
    orders_csv = tmp_path / "orders.csv"
    call_command("analytics", "cdnow-orders", str(CDNOW), str(orders_csv), stdout=StringIO())
    summary = StringIO()
    call_command("import", "orders", str(orders_csv), stdout=summary)
    assert json.loads(summary.getvalue())["created"] == 6919
    # when
    result = run("clv", "--calibration-end", "1997-09-30", "--time-unit", "week")
    # then: Fader, Hardie & Lee (2005) and Fader & Hardie's Gamma-Gamma note, within 0.5%
    assert result["customers"] == 2357 and result["repeat_buyers"] == 946
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "loglik": -9582.4}
    for name, value in published.items():
        assert result["bgnbd"][name] == pytest.approx(value, rel=0.005), name
    for name, value in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert result["gamma_gamma"][name] == pytest.approx(value, rel=0.005), name
    assert result["problems"] == []
    assert 0 < result["mean_p_alive"] < 1 and result["total_clv"] > 0


def test_bgnbd_conditional_expectations_behave() -> None:
    model = clv.BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426, loglik=0.0)
    # no repeat purchase: surely alive
    assert model.p_alive(np.array([0.0]), np.array([0.0]), np.array([30.0]))[0] == 1.0
    # same frequency, a long silence since the last purchase: less likely alive
    recent, silent = model.p_alive(
        np.array([5.0, 5.0]), np.array([30.0, 5.0]), np.array([31.0, 31.0])
    )
    assert recent > silent
    more_time = model.expected_purchases(np.array([10.0, 20.0]), [2, 2], [20, 20], [30, 30])
    assert more_time[1] > more_time[0] > 0
    # the new-customer expectation equals the conditional one for a history of zero length
    assert model.expected_purchases(10.0, [0], [0], [0])[0] == pytest.approx(
        float(model.expected_purchases_new(10.0))
    )


def test_a_fit_with_too_few_repeat_buyers_is_refused() -> None:
    x = np.array([0, 0, 1, 0, 2], dtype=float)
    with pytest.raises(clv.FitError, match="too few repeat buyers"):
        clv.fit_bgnbd(x, x * 2, np.full(5, 30.0))
    with pytest.raises(clv.FitError):
        clv.fit_gamma_gamma(x, np.array([0, 0, 10, 0, 20], dtype=float))


@pytest.mark.django_db
def test_the_clv_command_says_why_there_is_no_model_and_gives_model_free_figures(
    make_contact,
) -> None:
    contact = make_contact()
    for day in (1, 5, 9):
        Order.objects.create(
            external_id=f"o{day}",
            contact=contact,
            ordered_at=datetime(2026, 3, day, 15, tzinfo=UTC),
            total=100,
        )
    result = run("clv", "--calibration-end", "2026-06-30", "--time-unit", "day")
    assert result["bgnbd"] is None and result["gamma_gamma"] is None
    assert any("too few repeat buyers" in p for p in result["problems"])
    assert "total_clv" not in result
    assert result["customers"] == 1 and result["repeat_buyers"] == 1


@pytest.mark.parametrize(
    ("start", "acquired", "end", "expected"),
    [(20, 5, 24, 95.0), (44, 12, 43, 70.45)],
)
def test_retention_rate_formula(start: int, acquired: int, end: int, expected: float) -> None:
    assert kpis.retention_rate(start, acquired, end) == pytest.approx(expected, abs=0.005)


def test_the_other_kpi_formulas() -> None:
    assert kpis.conversion_rate(15, 300) == 5.0
    assert kpis.complaint_rate(3, 120) == 2.5
    assert kpis.churn_rate(4, 80) == 5.0
    assert kpis.revenue_churn(250.0, 10_000.0) == 2.5
    assert kpis.nps(promoters=50, detractors=20, answers=100) == 30.0
    assert kpis.nps(0, 0, 0) is None
    assert kpis.conversion_rate(1, 0) is None


def _order(contact: Contact, when: datetime, total: float, **extra: object) -> Order:
    return Order.objects.create(
        external_id=f"{contact.pk}-{when.isoformat()}",
        contact=contact,
        ordered_at=when,
        total=total,
        **extra,
    )


def _event(contact: Contact, name: str, when: datetime, **properties: object) -> None:
    Event.objects.create(
        contact=contact,
        name=name,
        occurred_at=when,
        properties=properties,
        fingerprint=hash((contact.pk, name, when)) % 2**62,
    )


@pytest.mark.django_db
def test_kpis_count_from_orders_events_and_contacts(make_contact) -> None:
    # given: a period of March 2026
    def at(month: int, day: int) -> datetime:
        return datetime(2026, month, day, 15, tzinfo=UTC)

    old = [make_contact(attributes={"mrr": 49.9}) for _ in range(4)]
    for contact in old:
        _order(contact, at(1, 10), 100)
    _event(old[0], "cancellation", at(3, 5))  # one of four active customers cancels
    _order(old[1], at(3, 20), 80)
    _event(old[1], "complaint", at(3, 22))
    newcomer = make_contact()
    Contact.objects.filter(pk=newcomer.pk).update(created_at=at(3, 1))
    _order(newcomer, at(3, 2), 60)
    _order(newcomer, at(3, 3), 60, status=OrderStatus.CANCELLED)  # not a purchase
    lead = make_contact()
    Contact.objects.filter(pk=lead.pk).update(created_at=at(3, 9))
    for score in (10, 9, 7, 3):
        _event(lead, "nps_answered", at(3, 10 + score), score=score)
    # when
    result = {k.key: k for k in kpis.kpis(start=date(2026, 3, 1), end=date(2026, 3, 31))}
    # then
    assert result["conversion"].parts == {"won": 1, "leads": 2}
    assert result["conversion"].value == 50.0
    assert result["complaints"].parts == {"complaints": 1, "orders": 2}
    assert result["churn"].parts == {"cancellations": 1, "active_at_start": 4}
    assert result["revenue_churn"].value == pytest.approx(25.0)
    # 4 at the start, 1 acquired, 4 at the end (3 old + the newcomer) → 75%
    assert result["retention"].parts == {"at_start": 4, "acquired": 1, "at_end": 4}
    assert result["retention"].value == 75.0
    assert result["nps"].parts == {"answers": 4, "promoters": 2, "detractors": 1}
    assert result["nps"].value == 25.0


@pytest.mark.django_db
def test_purchases_are_paid_orders_on_the_business_day(make_contact, settings) -> None:
    settings.TIME_ZONE = "America/Sao_Paulo"
    contact = make_contact()
    _order(contact, datetime(2026, 5, 2, 1, 30, tzinfo=UTC), 10)  # 1 May, 22:30 in São Paulo
    _order(contact, datetime(2026, 5, 3, 12, tzinfo=UTC), 20, status=OrderStatus.REFUNDED)
    _order(contact, datetime(2026, 5, 4, 12, tzinfo=UTC), 30, status=OrderStatus.PENDING)
    frame = frames.purchases(until=date(2026, 5, 31))
    assert frame.select("day", "total").rows() == [(date(2026, 5, 1), 10.0)]
    assert frames.purchases(until=date(2026, 4, 30)).is_empty()


@pytest.mark.django_db
def test_rfm_cohorts_and_crosssell_commands_print_json(make_contact, tmp_path: Path) -> None:
    contact = make_contact()
    _order(contact, datetime(2026, 4, 1, 12, tzinfo=UTC), 50)
    _order(contact, datetime(2026, 5, 1, 12, tzinfo=UTC), 70)
    rfm = run("rfm", "--as-of", "2026-06-30", "--csv", str(tmp_path / "rfm.csv"))
    assert rfm["customers"] == 1 and rfm["segments"] == {"hibernating": 1}
    assert (tmp_path / "rfm.csv").read_text().startswith("contact_id,")
    cohorts = run("cohorts", "--as-of", "2026-06-30", "--months", "6")
    assert cohorts["cohorts"][0]["cohort"] == "2026-04-01"
    assert cohorts["second_purchase"]["median_days"] == 30
    assert run("crosssell", "--as-of", "2026-06-30")["pairs"] == []
    kpi = run("kpis", "--from", "2026-05-01", "--to", "2026-05-31")
    assert kpi["kpis"]["complaints"]["orders"] == 1


@pytest.mark.django_db
def test_refresh_stores_every_buyers_scores_and_replaces_the_old_ones(make_contact) -> None:
    # given: a repeat buyer, a one-time buyer and a contact who never bought
    loyal, once, never = make_contact(), make_contact(), make_contact()
    for month in (1, 2, 3, 4, 5, 6):
        _order(loyal, datetime(2026, month, 10, 12, tzinfo=UTC), 100)
    _order(once, datetime(2025, 1, 10, 12, tzinfo=UTC), 40)
    # when
    first = run("refresh", "--as-of", "2026-06-30")
    second = run("refresh", "--as-of", "2026-06-30")
    # then
    from regua.analytics.models import CustomerScore

    assert first["customers"] == second["customers"] == 2
    assert CustomerScore.objects.count() == 2
    score = CustomerScore.objects.get(contact=loyal)
    assert (score.purchases, score.frequency, score.recency_days) == (6, 6, 20)
    assert score.first_purchase_on == date(2026, 1, 10)
    assert score.next_purchase_on == date(2026, 7, 10)
    lost = CustomerScore.objects.get(contact=once)
    assert lost.activity_cell == "lost" and lost.r is None and lost.rfm_segment == ""
    assert not CustomerScore.objects.filter(contact=never).exists()
    # too few repeat buyers for the models: no CLV, and the command says why
    assert score.clv is None and first["clv_problems"]
    loyal.refresh_from_db()
    assert loyal.relationship_type == "exploiter"  # short-term but buys often


@pytest.mark.django_db
def test_the_worker_queues_one_scores_refresh_a_day_after_the_set_hour(
    make_contact, settings, django_assert_num_queries
) -> None:
    from regua.analytics.models import CustomerScore
    from regua.analytics.services import scores_refresh_daily

    settings.REGUA_ANALYTICS_HOUR = 2
    _order(make_contact(), datetime(2026, 5, 1, 12, tzinfo=UTC), 50)
    early = datetime(2026, 6, 30, 3, 0, tzinfo=UTC)  # 00:00 in São Paulo
    assert not scores_refresh_daily(now=early)
    later = datetime(2026, 6, 30, 9, 0, tzinfo=UTC)
    assert scores_refresh_daily(now=later)  # the job runs inline in tests
    assert CustomerScore.objects.get().as_of == date(2026, 6, 30)
    # Each tick asks again: the day's marker answers, without reading the scores.
    with django_assert_num_queries(1) as context:
        assert not scores_refresh_daily(now=later + timedelta(hours=1))
    assert "analytics_customerscore" not in context.captured_queries[0]["sql"]


def _sales(contact: Contact, skus: list[str]) -> tuple[Order, list[Product]]:
    """One order of `contact` with an item per sku in `skus` (a sku twice: sold twice);
    the order and the products, in the order they first appear."""
    from regua.commerce.models import OrderItem

    products = {
        sku: Product.objects.create(sku=sku, name=sku.title(), price=10)
        for sku in dict.fromkeys(skus)
    }
    order = _order(contact, datetime(2026, 6, 1, 12, tzinfo=UTC), 30)
    for sku in skus:
        OrderItem.objects.create(order=order, product=products[sku], sku=sku, unit_price=10)
    return order, list(products.values())


@pytest.mark.django_db
def test_best_sellers_are_counted_by_a_background_job_and_shared_through_the_cache(
    make_contact, django_assert_num_queries, django_capture_on_commit_callbacks, time_machine
) -> None:
    from django.core.cache import caches

    from regua.analytics import recommendations
    from regua.commerce.models import OrderItem

    # given: coffee sold twice, tea once, counted once
    time_machine.move_to(datetime(2026, 7, 1, 12, tzinfo=UTC), tick=False)
    order, (_coffee, tea) = _sales(make_contact(), ["CAFE", "CAFE", "CHA"])
    assert [p["sku"] for p in recommendations._popular()] == ["CAFE", "CHA"]
    # when: tea outsells coffee, and another process (no copy of its own) asks
    for _ in range(3):
        OrderItem.objects.create(order=order, product=tea, sku="CHA", unit_price=8)
    recommendations._popular_cache = None
    with django_assert_num_queries(1):  # the shared cache's read, no count
        shared = [p["sku"] for p in recommendations._popular()]
    # then: it reads the first count from the shared cache
    assert shared == ["CAFE", "CHA"]
    # when: the list is stale and a page asks
    time_machine.move_to(datetime(2026, 7, 1, 12, 11, tzinfo=UTC), tick=False)
    recommendations._popular_cache = None
    with (
        django_capture_on_commit_callbacks() as queued,
        CaptureQueriesContext(connection) as asked,
    ):
        stale = [p["sku"] for p in recommendations._popular(page=True)]
    # then: the page shows the stale list, counts nothing and has queued the count, once
    assert stale == ["CAFE", "CHA"]
    assert not [q for q in asked.captured_queries if "commerce_orderitem" in q["sql"]]
    assert len(queued) == 1
    assert caches["shared"].has_key(recommendations.POPULAR_REFRESH_KEY)
    # and another process meanwhile keeps the stale list and queues nothing more
    recommendations._popular_cache = None
    with django_capture_on_commit_callbacks() as again:
        assert [p["sku"] for p in recommendations._popular(page=True)] == ["CAFE", "CHA"]
    assert again == []
    # when: the job runs (the test's task backend runs it as it is queued)
    queued[0]()
    # then: it has stored the new count and freed the key; every process reads it
    assert not caches["shared"].has_key(recommendations.POPULAR_REFRESH_KEY)
    recommendations._popular_cache = None
    with django_assert_num_queries(1):
        assert [p["sku"] for p in recommendations._popular(page=True)] == ["CHA", "CAFE"]
    # when: the same count was queued twice (the jobs' worker was down) and runs again
    from regua.analytics.tasks import best_sellers_refresh_job

    with CaptureQueriesContext(connection) as again_asked:
        assert best_sellers_refresh_job.call(20) == ["CHA", "CAFE"]
    # then: the fresh list is kept, not counted again
    assert not [q for q in again_asked.captured_queries if "commerce_orderitem" in q["sql"]]


@pytest.mark.django_db
def test_best_sellers_counted_once_when_none_are_stored_and_kept_stale_for_a_week(
    make_contact, django_assert_num_queries, django_capture_on_commit_callbacks, time_machine
) -> None:
    from django.core.cache import caches

    from regua.analytics import recommendations
    from regua.analytics.tasks import best_sellers_refresh_job

    # given: a base with sales and no best sellers stored yet (a new install)
    time_machine.move_to(datetime(2026, 7, 1, 12, tzinfo=UTC), tick=False)
    _sales(make_contact(), ["CAFE"])
    recommendations._popular_cache = None
    refresh = recommendations.POPULAR_REFRESH_KEY
    caches["shared"].delete(recommendations.POPULAR_KEY)
    # when: the job is already queued
    caches["shared"].add(refresh, 1, 300)
    # then: a page goes without them rather than count (the read and the key's look)
    with django_assert_num_queries(2):
        assert recommendations._popular(page=True) == []
    # and a message counts for itself, leaving the job's key alone
    assert [p["sku"] for p in recommendations._popular()] == ["CAFE"]
    assert caches["shared"].has_key(refresh)
    # when: the job runs
    assert best_sellers_refresh_job.call(20) == ["CAFE"]
    # then: the key is free for the next count
    assert not caches["shared"].has_key(refresh)
    # when: six days pass without a page (the list is long stale)
    time_machine.move_to(datetime(2026, 7, 7, 12, tzinfo=UTC), tick=False)
    recommendations._popular_cache = None
    # then: a page still has the stale list to show while the job counts
    with django_capture_on_commit_callbacks() as queued:
        assert [p["sku"] for p in recommendations._popular(page=True)] == ["CAFE"]
    assert len(queued) == 1


@pytest.mark.django_db
def test_refresh_stores_cross_sell_pairs_that_drive_recommendations_and_the_dossier(
    make_contact, client_for, manager
) -> None:
    from regua.analytics.models import ProductPair
    from regua.analytics.recommendations import recommendations
    from regua.commerce.models import OrderItem, Product

    # given: coffee is bought with a grinder in three orders, with a mug in one
    for sku, name in (("CAFE", "Café"), ("MOEDOR", "Moedor"), ("CANECA", "Caneca")):
        Product.objects.create(sku=sku, name=name, price=10)
    buyers = [make_contact() for _ in range(4)]
    for n, (contact, skus) in enumerate(
        zip(
            buyers,
            (["CAFE", "MOEDOR"], ["CAFE", "MOEDOR"], ["CAFE", "MOEDOR"], ["CAFE", "CANECA"]),
            strict=True,
        )
    ):
        order = _order(contact, datetime(2026, 5, 1 + n, 12, tzinfo=UTC), 60)
        for sku in skus:
            OrderItem.objects.create(order=order, sku=sku, unit_price=30)
    run("refresh", "--as-of", "2026-06-30")
    assert ProductPair.objects.filter(sku="CAFE", other="MOEDOR", baskets=3).exists()
    # when: someone who bought only coffee
    newcomer = make_contact()
    order = _order(newcomer, datetime(2026, 6, 1, 12, tzinfo=UTC), 30)
    OrderItem.objects.create(order=order, sku="CAFE", unit_price=30)
    found = recommendations({newcomer.pk: {"CAFE"}, 999_999: set()})
    # then: the grinder first (pairs), never coffee again; best sellers for a new contact
    assert [p["sku"] for p in found[newcomer.pk]][:1] == ["MOEDOR"]
    assert "CAFE" not in [p["sku"] for p in found[newcomer.pk]]
    assert found[999_999][0]["sku"] == "CAFE"
    page = client_for(manager).get(f"/contacts/{buyers[3].pk}/").content.decode()
    assert 'data-testid="recommended"' in page and "Moedor" in page
    assert 'data-testid="scores"' in page

"""Event retention: old raw events become monthly totals, and every reader still counts them."""

import io
import json
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Sum

from regua.analytics.frames import day_start
from regua.cadences.models import Cadence, Step
from regua.customers.models import Contact
from regua.customers.selectors import contact_timeline
from regua.events import retention
from regua.events.models import ArchiveRun, Event, EventSummary
from regua.events.retention import events_archive, events_archive_due
from regua.events.selectors import contact_event_totals
from regua.segments.rules import compile_rule
from regua.users.models import User

# 15 June 2026, noon in São Paulo; with 3 months' retention the horizon is 1 March 2026.
NOW = datetime.fromisoformat("2026-06-15T12:00:00-03:00")
HORIZON = day_start(date(2026, 3, 1))


@pytest.fixture(autouse=True)
def _retention(settings: Any) -> None:
    settings.TIME_ZONE = "America/Sao_Paulo"
    settings.REGUA_EVENT_RETENTION_MONTHS = 3
    settings.REGUA_EVENT_RETENTION_KEEP = ["purchase"]
    settings.REGUA_EVENT_ARCHIVE_HOUR = 3
    settings.REGUA_MAX_LATENESS_HOURS = 72


_serial = iter(range(1, 1_000_000))


def add(contact: Contact, name: str, at: datetime, **properties: Any) -> Event:
    return Event.objects.create(
        contact=contact, name=name, occurred_at=at, properties=properties, fingerprint=next(_serial)
    )


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def history(make_contact: Callable[..., Contact]) -> list[Contact]:
    """Three contacts with nine months of views and logins, on both sides of the horizon,
    and the kept kinds (complaint, NPS answer, purchase) long ago."""
    ana, bia, caio = make_contact(), make_contact(), make_contact()
    for n in range(12):  # every 20 days back from yesterday: 6 Nov 2025 .. 14 Jun 2026
        add(ana, "product_viewed", days_ago(1 + 20 * n), sku=f"S{n}")
    for n in range(5):
        add(bia, "product_viewed", days_ago(150 + 5 * n))  # 27 Dec – 16 Jan: archived
        add(bia, "login", days_ago(100 + n))  # early March 2026: kept raw
    add(caio, "login", days_ago(200))  # 27 and 26 November 2025
    add(caio, "login", days_ago(201))
    add(ana, "complaint", days_ago(240))
    add(ana, "nps_answered", days_ago(230), score=3, category="detractor")
    add(bia, "purchase", days_ago(220), order_id="A1")
    return [ana, bia, caio]


def raw_counts() -> Counter[tuple[int, str]]:
    return Counter(Event.objects.values_list("contact_id", "name"))


def summary_counts() -> Counter[tuple[int, str]]:
    totals: Counter[tuple[int, str]] = Counter()
    for contact_id, name, count in EventSummary.objects.values_list("contact_id", "name", "count"):
        totals[contact_id, name] += count
    return totals


def members(rule: dict[str, Any]) -> set[int]:
    with time_machine.travel(NOW, tick=False):
        q = compile_rule(rule)
    return set(Contact.objects.filter(q).values_list("pk", flat=True))


def test_old_events_become_monthly_totals_that_reconcile_exactly(history: list[Contact]) -> None:
    # given
    before = raw_counts()
    old = Event.objects.filter(occurred_at__lt=HORIZON).exclude(
        name__in=["complaint", "nps_answered", "purchase"]
    )
    expected = Counter(old.values_list("contact_id", "name"))
    oldest = old.order_by("occurred_at").first()
    # when
    summary = events_archive(now=NOW)
    # then: raw before = raw after + archived totals, per contact and name
    assert raw_counts() + summary_counts() == before
    assert summary_counts() == expected
    assert summary.rows_summarised == summary.rows_deleted == sum(expected.values())
    assert summary.horizon == HORIZON.isoformat()
    assert summary.months == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert not Event.objects.filter(occurred_at__lt=HORIZON, name="product_viewed").exists()
    first = EventSummary.objects.get(contact=oldest.contact, name=oldest.name, month="2025-11-01")
    assert first.first_at == oldest.occurred_at


def test_a_second_run_changes_nothing(history: list[Contact]) -> None:
    events_archive(now=NOW)
    totals = list(EventSummary.objects.values_list("contact_id", "name", "month", "count"))
    again = events_archive(now=NOW)
    assert (again.rows_summarised, again.rows_deleted, again.summary_rows) == (0, 0, 0)
    assert again.months == []
    assert list(EventSummary.objects.values_list("contact_id", "name", "month", "count")) == totals


def test_kept_names_and_events_from_the_horizon_on_stay_raw(
    history: list[Contact], make_contact: Callable[..., Contact]
) -> None:
    # given: one event at the horizon's very instant, one a microsecond before it
    dora = make_contact()
    at_horizon = add(dora, "login", HORIZON)
    just_before = add(dora, "login", HORIZON - timedelta(microseconds=1))
    kept = set(
        Event.objects.filter(name__in=["complaint", "nps_answered", "purchase"]).values_list(
            "pk", flat=True
        )
    )
    recent = set(Event.objects.filter(occurred_at__gte=HORIZON).values_list("pk", flat=True))
    # when
    events_archive(now=NOW)
    # then
    left = set(Event.objects.values_list("pk", flat=True))
    assert left == kept | recent
    assert at_horizon.pk in left and just_before.pk not in left
    feb = EventSummary.objects.get(contact=dora, name="login")
    assert (feb.month, feb.count, feb.last_at) == (date(2026, 2, 1), 1, just_before.occurred_at)


def test_small_slices_add_up_to_the_same_totals(
    history: list[Contact], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: two events per transaction, so most months take several slices
    before = raw_counts()
    monkeypatch.setattr(retention, "SLICE_ROWS", 2)
    # when
    summary = events_archive(now=NOW)
    # then
    assert raw_counts() + summary_counts() == before
    assert summary.summary_rows > EventSummary.objects.count()  # months were added to
    bia = history[1]
    january = EventSummary.objects.get(contact=bia, name="product_viewed", month="2026-01-01")
    views = [days_ago(150 + 5 * n) for n in range(5)]
    in_january = [at for at in views if retention.month_of(at) == date(2026, 1, 1)]
    assert len(in_january) == 4
    assert (january.count, january.first_at, january.last_at) == (
        4,
        min(in_january),
        max(in_january),
    )


def test_events_that_arrive_late_for_an_archived_month_join_its_total(
    history: list[Contact],
) -> None:
    # given
    bia = history[1]
    events_archive(now=NOW)
    january = EventSummary.objects.get(contact=bia, name="product_viewed", month="2026-01-01")
    late = add(bia, "product_viewed", january.last_at + timedelta(hours=1))
    # when
    summary = events_archive(now=NOW)
    # then
    january.refresh_from_db()
    assert summary.rows_summarised == 1
    assert (january.count, january.last_at) == (5, late.occurred_at)


def test_a_dry_run_writes_nothing_and_says_what_a_run_would_do(history: list[Contact]) -> None:
    before = raw_counts()
    dry = events_archive(now=NOW, dry_run=True)
    assert raw_counts() == before and not EventSummary.objects.exists()
    real = events_archive(now=NOW)
    assert (dry.rows_summarised, dry.rows_deleted, dry.months) == (
        real.rows_summarised,
        real.rows_deleted,
        real.months,
    )
    assert dry.summary_rows == EventSummary.objects.count()


def test_without_retention_nothing_is_archived(history: list[Contact], settings: Any) -> None:
    settings.REGUA_EVENT_RETENTION_MONTHS = None
    before = raw_counts()
    summary = events_archive(now=NOW)
    assert summary.as_dict()["months_processed"] == 0 and summary.horizon is None
    assert raw_counts() == before


RULES = [
    {"field": "event.product_viewed", "op": "count_gte", "value": {"count": 5}},
    {"field": "event.product_viewed", "op": "count_gte", "value": {"count": 6}},
    {"field": "event.product_viewed", "op": "count_lte", "value": {"count": 4}},
    {"field": "event.product_viewed", "op": "count_gte", "value": {"count": 1}},
    {"field": "event.product_viewed", "op": "count_lte", "value": {"count": 0}},
    # 200 days back: the window starts on 27 November; that month's views are before it
    {"field": "event.product_viewed", "op": "count_gte", "value": {"count": 9, "days": 200}},
    {"field": "event.product_viewed", "op": "within_days", "value": 160},
    {"field": "event.product_viewed", "op": "not_within_days", "value": 140},
    {"field": "event.login", "op": "within_days", "value": 200},
    {"field": "event.login", "op": "not_within_days", "value": 199},
    {"field": "event.login", "op": "count_gte", "value": {"count": 2}},
]


@pytest.mark.parametrize("condition", RULES)
def test_segment_rules_on_events_find_the_same_contacts_after_archiving(
    history: list[Contact], condition: dict[str, Any]
) -> None:
    rule = {"match": "all", "conditions": [condition]}
    before = members(rule)
    events_archive(now=NOW)
    assert members(rule) == before


def test_the_rules_ignore_the_totals_while_retention_is_off(
    history: list[Contact], settings: Any
) -> None:
    events_archive(now=NOW)
    settings.REGUA_EVENT_RETENTION_MONTHS = None
    condition = {"field": "event.product_viewed", "op": "count_gte", "value": {"count": 7}}
    assert members({"match": "all", "conditions": [condition]}) == set()  # ana: 6 still raw


def test_the_dossier_and_a_segment_agree_on_the_lifetime_count(history: list[Contact]) -> None:
    # given
    ana = history[0]

    def dossier_views() -> int:
        return next(t.count for t in contact_event_totals(ana.pk) if t.name == "product_viewed")

    def at_least(count: int) -> bool:
        condition = {"field": "event.product_viewed", "op": "count_gte", "value": {"count": count}}
        return ana.pk in members({"match": "all", "conditions": [condition]})

    assert dossier_views() == 12 and at_least(12) and not at_least(13)
    # when
    events_archive(now=NOW)
    # then
    totals = {t.name: t for t in contact_event_totals(ana.pk)}
    assert totals["product_viewed"].count == 12 and at_least(12) and not at_least(13)
    assert totals["product_viewed"].archived == 6
    assert totals["product_viewed"].last_at == days_ago(1)
    assert totals["complaint"].count == 1 and totals["complaint"].archived == 0


def test_the_contact_page_shows_the_totals_and_the_archived_months(
    history: list[Contact], client_for: Callable[[User], Any], manager: User
) -> None:
    # given
    bia = history[1]
    events_archive(now=NOW)
    # when
    page = client_for(manager).get(f"/contacts/{bia.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="event-totals"' in html
    assert "5 in monthly totals" in html
    assert "monthly total: the single events were archived" in html
    kinds = [entry.kind for entry in contact_timeline(bia, size=50).items]
    assert kinds.count("archive") == 2  # product views in December and January
    assert kinds.count("event") == 5  # the logins (the purchase shows as its order)


def test_the_timeline_pages_through_archived_months(history: list[Contact]) -> None:
    ana = history[0]
    events_archive(now=NOW)
    seen, cursor = [], ""
    while True:
        page = contact_timeline(ana, cursor=cursor, size=2)
        seen += [(entry.kind, entry.obj.pk) for entry in page.items]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    whole = contact_timeline(ana, size=100).items
    assert seen == [(entry.kind, entry.obj.pk) for entry in whole]
    assert len(seen) == 6 + 4 + 2  # raw views, archived months, complaint and NPS


def test_a_regua_that_reads_far_back_holds_the_horizon_back(history: list[Contact]) -> None:
    # given: an inactivity régua that looks 120 days back, and an archived one that would
    # look further
    Cadence.objects.create(
        key="saudade",
        name="Saudade",
        objective="recovery",
        status="active",
        trigger={"kind": "inactivity", "days": 120, "events": ["login"]},
    )
    Cadence.objects.create(
        key="antiga",
        name="Antiga",
        objective="recovery",
        status="archived",
        trigger={"kind": "inactivity", "days": 400, "events": ["login"]},
    )
    # when
    summary = events_archive(now=NOW)
    # then: 120 days and the lateness margin before 15 June is in February
    assert summary.held_back_by == "saudade"
    assert summary.horizon == day_start(date(2026, 2, 1)).isoformat()
    assert summary.months[-1] == "2026-01"


def test_an_event_triggered_regua_keeps_its_trigger_events_for_its_longest_step(
    history: list[Contact],
) -> None:
    cadence = Cadence.objects.create(
        key="boas-vindas",
        name="Boas-vindas",
        objective="acquisition",
        status="paused",
        trigger={"kind": "event", "event": "signup"},
    )
    Step.objects.create(cadence=cadence, key="oferta", offset="6mo", channel="email")
    Step.objects.create(
        cadence=cadence, key="velha", offset="9mo", channel="email", archived_at=NOW
    )
    summary = events_archive(now=NOW)
    # six months and the margin before 15 June 2026. The e-mail may go to an account
    # manager as a task (for_dedicated), which may still be made two weeks late: 14 days,
    # a day of send window and the hour for late events put it on 29 November 2025
    assert summary.held_back_by == "boas-vindas"
    assert summary.horizon == day_start(date(2025, 11, 1)).isoformat()
    # a step that always stays a message keeps the 72-hour margin: 11 December 2025
    Step.objects.filter(key="oferta").update(for_dedicated="message")
    assert events_archive(now=NOW).horizon == day_start(date(2025, 12, 1)).isoformat()


def test_the_archive_is_queued_once_a_day_after_its_hour(
    history: list[Contact], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    early = datetime.fromisoformat("2026-06-15T02:59:00-03:00")
    later = datetime.fromisoformat("2026-06-15T03:00:00-03:00")
    assert not events_archive_due(now=early)
    with django_capture_on_commit_callbacks(execute=True):
        assert events_archive_due(now=later)
    assert not events_archive_due(now=later + timedelta(hours=5))
    run = ArchiveRun.objects.get()
    assert run.day == date(2026, 6, 15) and run.finished_at is not None
    assert run.summary["rows_deleted"] == EventSummary.objects.aggregate(n=Sum("count"))["n"]
    assert events_archive_due(now=later + timedelta(days=1))
    settings.REGUA_EVENT_RETENTION_MONTHS = None
    assert not events_archive_due(now=later + timedelta(days=2))


def test_the_command_prints_one_json_summary_and_dry_run_writes_nothing(
    history: list[Contact],
) -> None:
    out = io.StringIO()
    call_command("events-archive", "--dry-run", "--now", NOW.isoformat(), stdout=out)
    dry = json.loads(out.getvalue())
    assert dry["dry_run"] is True and dry["rows_deleted"] > 0 and dry["months_processed"] == 4
    assert not EventSummary.objects.exists()
    out = io.StringIO()
    call_command("events-archive", "--now", "2026-06-15T12:00:00", stdout=out)
    done = json.loads(out.getvalue())
    assert (done["rows_summarised"], done["rows_deleted"]) == (dry["rows_summarised"],) * 2
    assert done["kept"] == sorted({*retention.KEPT, "purchase"})
    assert EventSummary.objects.aggregate(n=Sum("count"))["n"] == done["rows_summarised"]


def test_the_segment_builder_says_how_event_conditions_count_archived_months(
    client_for: Callable[[User], Any], manager: User, settings: Any
) -> None:
    page = client_for(manager).get("/segments/new/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Events older than 3 months are kept as monthly totals" in page.content.decode()
    settings.REGUA_EVENT_RETENTION_MONTHS = None
    page = client_for(manager).get("/segments/new/", HTTP_ACCEPT_LANGUAGE="en")
    assert 'data-testid="retention-note"' not in page.content.decode()

"""The tick as of an instant: every trigger kind, exits, re-entry, holdout, guards, edits.

Time is a parameter: each test activates a régua at T0 (frozen with time-machine) and
ticks at chosen instants. The outbox backend stands in for the channels here; the real
SMTP conversation is in test_sending_smtp.py.
"""

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from regua.agenda.models import Task
from regua.cadences.due import into_window
from regua.cadences.models import (
    Cadence,
    Delivery,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    OutboxMessage,
    Suppression,
)
from regua.cadences.tick import tick
from regua.cadences.yaml_io import cadence_import, cadence_set_status
from regua.commerce.models import Order
from regua.customers.models import Consent, Contact
from regua.events.ingest import fingerprint
from regua.events.models import Event

pytestmark = pytest.mark.django_db

SP = ZoneInfo("America/Sao_Paulo")
MANAUS = ZoneInfo("America/Manaus")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SP)  # a Monday, 10:00 in São Paulo

MESSAGE = """
    message:
      pt-br:
        subject: "Olá, {{ contact.first_name }}"
        body: "Oi, {{ contact.first_name }}!"
      en:
        subject: "Hello, {{ contact.first_name }}"
        body: "Hi, {{ contact.first_name }}!"
"""


@pytest.fixture(autouse=True)
def _engine_settings(settings: Any) -> None:
    settings.EMAIL_BACKEND = "regua.cadences.channels.outbox.EmailBackend"
    settings.REGUA_QUIET_HOURS = "21:00-08:00"
    settings.REGUA_FREQUENCY_CAP = 3
    settings.REGUA_FREQUENCY_DAYS = 7
    import regua.analytics.recommendations as recommendations

    recommendations._popular_cache = None


def regua(
    trigger: str,
    steps: str = "",
    *,
    key: str = "teste",
    extra: str = "",
    at: datetime = T0,
    activate: bool = True,
) -> Cadence:
    """A régua from YAML, activated at `at`."""
    steps = (
        steps
        or f"""
  - key: primeiro
    offset: 0
    channel: email
{MESSAGE}"""
    )
    document = f"""
key: {key}
name: Régua de teste {key}
objective: retention
trigger: {trigger}
{extra}
steps:
{steps}
"""
    cadence, _created = cadence_import(document)
    if activate:
        with time_machine.travel(at, tick=False):
            cadence_set_status(cadence, "active")
    cadence.refresh_from_db()
    return cadence


@pytest.fixture
def customer(make_contact: Callable[..., Contact]) -> Callable[..., Contact]:
    """A contact who agreed to e-mail (and, if asked, to other channels)."""

    def make(channels: tuple[str, ...] = ("email",), **fields: Any) -> Contact:
        contact = make_contact(**fields)
        for channel in channels:
            Consent.objects.create(
                contact=contact,
                channel=channel,
                status="granted",
                recorded_at=T0 - timedelta(days=90),
            )
        return contact

    return make


def event(contact: Contact, name: str, at: datetime, **properties: Any) -> Event:
    ident = f"{contact.pk}:{name}:{at.isoformat()}"
    return Event.objects.create(
        contact=contact,
        name=name,
        occurred_at=at,
        properties=properties,
        fingerprint=fingerprint(ident, {})[0],
    )


def sent_to(contact: Contact) -> list[str]:
    return list(
        OutboxMessage.objects.filter(to=contact.email)
        .order_by("id")
        .values_list("subject", flat=True)
    )


# Event triggers and idempotency ---------------------------------------------------------


def test_a_signup_event_enrolls_and_sends_the_day_0_message_once(customer) -> None:  # type: ignore[no-untyped-def]
    # given an active régua on signup and a customer who signs up after activation
    regua("{kind: event, event: signup}")
    clara = customer(first_name="Clara")
    event(clara, "signup", T0 + timedelta(minutes=5))
    # when the tick runs twice at the same instant
    first = tick(now=T0 + timedelta(minutes=6))
    second = tick(now=T0 + timedelta(minutes=6))
    # then she is enrolled once and gets one welcome
    assert (first.total.enrolled, first.total.scheduled, first.total.sent) == (1, 1, 1)
    assert (second.total.enrolled, second.total.scheduled, second.total.sent) == (0, 0, 0)
    assert sent_to(clara) == ["Olá, Clara"]
    assert Enrollment.objects.get().occurrence.startswith("e")


def test_a_batch_fetches_only_what_its_messages_read_in_any_language(customer) -> None:  # type: ignore[no-untyped-def]
    # given a welcome that reads the first name and a thank-you whose English text alone
    # reads the last order
    regua("{kind: event, event: signup}")
    regua(
        "{kind: event, event: purchase}",
        """
  - key: obrigado
    offset: 0
    channel: email
    message:
      pt-br:
        subject: "Obrigado, {{ contact.first_name }}"
        body: "Obrigado!"
      en:
        subject: "Thanks{% if last_order %} for order {{ last_order.number }}{% endif %}"
        body: "Thank you!"
""",
        key="obrigado",
    )
    clara = customer(first_name="Clara")
    john = customer(first_name="John", language="en")
    Order.objects.create(external_id="P-1001", contact=john, ordered_at=T0, total=Decimal("120.00"))
    event(clara, "signup", T0 + timedelta(minutes=5))
    event(john, "purchase", T0 + timedelta(minutes=10))
    orders = Order._meta.db_table
    # when the welcome goes out alone, and then the thank-you
    with CaptureQueriesContext(connection) as welcome:
        tick(now=T0 + timedelta(minutes=6))
    with CaptureQueriesContext(connection) as thanks:
        tick(now=T0 + timedelta(minutes=11))
    # then the welcome read no order, and John's English subject has his
    assert sent_to(clara) == ["Olá, Clara"]
    assert sent_to(john) == ["Thanks for order P-1001"]
    assert not [q for q in welcome.captured_queries if orders in q["sql"]]
    assert [q for q in thanks.captured_queries if orders in q["sql"]]


def test_a_message_reads_its_trigger_event_and_the_owner(customer, alice) -> None:  # type: ignore[no-untyped-def]
    # given a reminder of the product a customer looked at, signed by her account manager
    regua(
        "{kind: event, event: product_viewed}",
        """
  - key: lembrete
    offset: 0
    channel: email
    message:
      pt-br:
        subject: "{% if event %}{{ event.properties.produto }} ainda está aqui{% endif %}"
        body: >-
          Qualquer dúvida, fale com
          {% if owner %}{{ owner.name }} ({{ owner.email }}){% else %}a gente{% endif %}.
""",
    )
    alice.first_name, alice.last_name = "Alice", "Ramos"
    alice.save()
    clara = customer(first_name="Clara", owner=alice)
    nina = customer(first_name="Nina")
    event(clara, "product_viewed", T0 + timedelta(minutes=5), produto="Cafeteira")
    event(nina, "product_viewed", T0 + timedelta(minutes=5), produto="Chaleira")
    # when it falls due
    tick(now=T0 + timedelta(minutes=6))
    # then each reads her own event, and Clara's text names her owner
    assert sent_to(clara) == ["Cafeteira ainda está aqui"]
    assert sent_to(nina) == ["Chaleira ainda está aqui"]
    assert f"fale com Alice Ramos ({alice.email})" in OutboxMessage.objects.get(to=clara.email).text
    assert "fale com a gente" in OutboxMessage.objects.get(to=nina.email).text


def test_a_message_that_does_not_parse_fails_with_its_line_not_a_missing_variable(customer) -> None:  # type: ignore[no-untyped-def]
    # given a régua saved before the checks existed, whose body no longer parses
    cadence = regua("{kind: event, event: signup}")
    step = cadence.steps.get()
    step.message = {"pt-br": {"subject": "Oi", "body": "Olá\n{% if last_order %}sem fim"}}
    step.save(update_fields=["message"])
    clara = customer(first_name="Clara")
    event(clara, "signup", T0 + timedelta(minutes=5))
    # when it falls due
    tick(now=T0 + timedelta(minutes=6))
    # then the delivery fails with the template's reason, and nothing is sent
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.reason.startswith("template:")
    assert sent_to(clara) == []


def test_events_before_activation_or_not_matching_the_filter_enroll_nobody(customer) -> None:  # type: ignore[no-untyped-def]
    regua("{kind: event, event: upgrade, where: {plan: pro}}")
    old, basic, pro = customer(), customer(), customer()
    event(old, "upgrade", T0 - timedelta(days=2), plan="pro")
    event(basic, "upgrade", T0 + timedelta(minutes=1), plan="basic")
    event(pro, "upgrade", T0 + timedelta(minutes=1), plan="pro")
    tick(now=T0 + timedelta(minutes=2))
    assert list(Enrollment.objects.values_list("contact_id", flat=True)) == [pro.pk]


def test_an_event_reported_a_little_late_still_enrolls(customer) -> None:  # type: ignore[no-untyped-def]
    regua("{kind: event, event: signup}")
    clara = customer()
    tick(now=T0 + timedelta(minutes=10))
    # the shop reports at 10:20 a signup that happened at 10:05 (before the last tick)
    event(clara, "signup", T0 + timedelta(minutes=5))
    tick(now=T0 + timedelta(minutes=20))
    assert sent_to(clara) == ["Olá, Cliente"]


def test_a_late_event_behind_the_watermark_gets_its_first_message_in_the_same_tick(
    customer,
) -> None:  # type: ignore[no-untyped-def]
    regua("{kind: event, event: signup}")
    clara, davi = customer(), customer()
    with time_machine.travel(T0 + timedelta(minutes=40), tick=False):
        tick(now=T0 + timedelta(minutes=40))
    # at 10:50 the shop reports two signups: clara's from 10:02, 38 minutes behind the
    # last tick (its welcome is overdue at once), davi's from 10:49
    with time_machine.travel(T0 + timedelta(minutes=50), tick=False):
        event(clara, "signup", T0 + timedelta(minutes=2))
        event(davi, "signup", T0 + timedelta(minutes=49))
        tick(now=T0 + timedelta(minutes=50))
    assert sent_to(clara) == ["Olá, Cliente"] and sent_to(davi) == ["Olá, Cliente"]
    assert Delivery.objects.get(contact=clara).due_at == T0 + timedelta(minutes=2)


def test_an_event_trigger_reads_behind_its_watermark_only_what_arrived_since(customer) -> None:  # type: ignore[no-untyped-def]
    from regua.cadences.triggers import EVENT_LATENESS, RECENT, trigger_events

    since = T0 + timedelta(hours=2)
    contact = customer()
    names = {}
    for key, occurred, received in [
        ("seen by the last tick", since - timedelta(minutes=30), since - timedelta(minutes=30)),
        ("received late", since - timedelta(minutes=31), since + timedelta(minutes=1)),
        ("new", since + timedelta(minutes=1), since + timedelta(minutes=1)),
        ("too late", since - EVENT_LATENESS - timedelta(minutes=1), since + timedelta(minutes=1)),
        # stamped just before the watermark, perhaps committed after the last tick read
        ("just before", since - RECENT + timedelta(seconds=30), since - RECENT * 3),
        ("received just before", since - timedelta(minutes=20), since - RECENT / 2),
        ("received before", since - timedelta(minutes=21), since - RECENT * 2),
    ]:
        with time_machine.travel(received, tick=False):
            names[event(contact, "signup", occurred, note=key).pk] = key
    read = trigger_events({"event": "signup"}, since, since + timedelta(minutes=2))
    assert sorted(names[pk] for pk in read.values_list("pk", flat=True)) == [
        "just before",
        "new",
        "received just before",
        "received late",
    ]


def test_a_finished_passage_is_completed_by_the_first_tick_of_the_next_minute(customer) -> None:  # type: ignore[no-untyped-def]
    regua("{kind: event, event: signup}")
    ana = customer()
    event(ana, "signup", T0 + timedelta(seconds=1))
    tick(now=T0 + timedelta(seconds=10))
    assert sent_to(ana) == ["Olá, Cliente"]
    tick(now=T0 + timedelta(seconds=40))
    assert Enrollment.objects.get(contact=ana).status == "active"
    tick(now=T0 + timedelta(seconds=70))
    passage = Enrollment.objects.get(contact=ana)
    assert (passage.status, passage.exited_at) == ("completed", T0 + timedelta(seconds=70))


def test_a_broadcast_committed_just_behind_the_watermark_is_still_scheduled(customer) -> None:  # type: ignore[no-untyped-def]
    from regua.cadences.tick import cadence_enroll

    cadence = regua("{kind: manual}")
    ana = customer()
    # The broadcast takes its moment at 10:09; a tick reads at 10:10 before it commits
    tick(now=T0 + timedelta(minutes=10))
    assert (
        cadence_enroll(cadence=cadence, contacts=Q(pk=ana.pk), now=T0 + timedelta(minutes=9)) == 1
    )
    tick(now=T0 + timedelta(minutes=11))
    assert sent_to(ana) == ["Olá, Cliente"]


def test_the_tick_command_prints_one_json_summary_line_and_dry_run_writes_nothing(customer) -> None:  # type: ignore[no-untyped-def]
    regua("{kind: event, event: signup}")
    clara = customer()
    event(clara, "signup", T0 + timedelta(minutes=1))
    out = StringIO()
    now = (T0 + timedelta(minutes=2)).isoformat()
    call_command("tick", "--now", now, "--dry-run", stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["dry_run"] is True
    assert (summary["enrolled"], summary["scheduled"], summary["sent"]) == (1, 1, 1)
    assert summary["reguas"]["teste"]["enrolled"] == 1
    assert not Enrollment.objects.exists() and not Delivery.objects.exists()
    assert not OutboxMessage.objects.exists()
    assert Cadence.objects.get().enrolled_through == T0  # the watermark did not move
    out = StringIO()
    call_command("tick", "--now", now, stdout=out)
    assert json.loads(out.getvalue())["sent"] == 1
    assert len(sent_to(clara)) == 1


def test_the_tick_is_set_based_the_query_count_does_not_grow_with_contacts(customer) -> None:  # type: ignore[no-untyped-def]
    regua("{kind: event, event: signup}")

    def queries_for(n: int, at: datetime) -> int:
        for _ in range(n):
            event(customer(), "signup", at - timedelta(minutes=1))
        with CaptureQueriesContext(connection) as captured:
            tick(now=at, send=False)
        return len(captured)

    assert queries_for(3, T0 + timedelta(hours=1)) == queries_for(60, T0 + timedelta(hours=2))


# Yearly dates, calendar dates, inactivity, attributes -----------------------------------


def test_birthdays_enter_at_the_local_hour_in_each_time_zone(customer) -> None:  # type: ignore[no-untyped-def]
    regua("{kind: date, attribute: birth_date, hour: 9}", extra="reentry: each_occurrence")
    paulista = customer(birth_date=date(1990, 3, 5), time_zone="America/Sao_Paulo")
    manauara = customer(birth_date=date(1985, 3, 5), time_zone="America/Manaus")
    customer(birth_date=date(1990, 3, 6))
    # 09:30 in São Paulo is 08:30 in Manaus: only the paulista has reached 9 o'clock
    tick(now=datetime(2026, 3, 5, 9, 30, tzinfo=SP))
    assert set(Enrollment.objects.values_list("contact_id", flat=True)) == {paulista.pk}
    tick(now=datetime(2026, 3, 5, 9, 30, tzinfo=MANAUS))
    entered = dict(Enrollment.objects.values_list("contact_id", "entered_at"))
    assert entered == {
        paulista.pk: datetime(2026, 3, 5, 9, tzinfo=SP),
        manauara.pk: datetime(2026, 3, 5, 9, tzinfo=MANAUS),
    }
    assert set(Enrollment.objects.values_list("occurrence", flat=True)) == {"2026"}
    # next year they enter again (each occurrence)
    tick(now=datetime(2027, 3, 5, 12, 0, tzinfo=SP))
    assert Enrollment.objects.filter(occurrence="2027").count() == 2


def test_someone_born_on_29_february_celebrates_on_the_28th_in_common_years(customer) -> None:  # type: ignore[no-untyped-def]
    regua("{kind: date, attribute: birth_date, hour: 9}", at=datetime(2026, 2, 1, tzinfo=SP))
    leap = customer(birth_date=date(2000, 2, 29))
    tick(now=datetime(2026, 2, 28, 10, 0, tzinfo=SP))
    assert Enrollment.objects.get().contact_id == leap.pk


def test_the_catch_up_tick_enrolls_the_backlog_that_can_still_be_sent(customer, caplog) -> None:  # type: ignore[no-untyped-def]
    regua("{kind: date, attribute: birth_date, hour: 9}", at=datetime(2026, 1, 1, tzinfo=SP))
    people = [customer(birth_date=date(1980 + n, 1 + n % 12, 1 + n % 27)) for n in range(24)]
    recent = customer(birth_date=date(1990, 12, 30))
    # The worker comes back after a year: a birthday e-mail of March would only expire
    # (72 h lateness), so only the birthdays of the last days enter; the rest is logged.
    summary = tick(now=datetime(2026, 12, 31, 23, 0, tzinfo=SP), send=False)
    entered = set(Enrollment.objects.values_list("contact_id", flat=True))
    assert recent.pk in entered
    assert (
        summary.total.enrolled
        == len(entered)
        == 1 + sum(1 for p in people if p.birth_date.month == 12 and p.birth_date.day >= 27)
    )
    assert "are not enrolled" in caplog.text
    assert tick(now=datetime(2026, 12, 31, 23, 0, tzinfo=SP), send=False).total.enrolled == 0


def test_a_task_steps_backlog_enters_within_the_tasks_own_lateness_limit(
    customer, settings
) -> None:  # type: ignore[no-untyped-def]
    steps = """
  - key: ligacao
    offset: 0
    channel: task
    task: {kind: call, due_days: 2}
    message:
      pt-br: {subject: "Ligar para {{ contact.name }}", body: "Parabéns pessoalmente"}
"""
    at = datetime(2026, 1, 1, tzinfo=SP)
    regua("{kind: date, attribute: birth_date, hour: 9}", steps, at=at)
    people = [customer(birth_date=date(1980 + n, 1 + n % 12, 1 + n % 27)) for n in range(24)]
    people += [customer(birth_date=date(1985, 12, day)) for day in (16, 17, 30)]
    # A call is still worth making two weeks late (REGUA_TASK_MAX_LATENESS_DAYS), and a
    # day of send window: the birthdays from 17 December enter; a year of calls does not.
    assert settings.REGUA_TASK_MAX_LATENESS_DAYS == 14
    summary = tick(now=datetime(2026, 12, 31, 23, 0, tzinfo=SP), send=False)
    recent = {p.pk for p in people if (p.birth_date.month, p.birth_date.day) >= (12, 17)}
    assert len(recent) == 3  # the 17th, the 24th and the 30th
    assert set(Enrollment.objects.values_list("contact_id", flat=True)) == recent
    assert summary.total.enrolled == summary.total.scheduled == 3


def test_customer_anniversaries_follow_the_local_day_of_signup(customer) -> None:  # type: ignore[no-untyped-def]
    regua("{kind: date, attribute: created_at, hour: 10}", at=datetime(2026, 3, 1, tzinfo=SP))
    # 22:30 on 4 March in São Paulo is already 5 March in UTC: the anniversary is the 4th
    late = customer()
    Contact.objects.filter(pk=late.pk).update(created_at=datetime(2024, 3, 4, 22, 30, tzinfo=SP))
    this_year = customer()  # joined this year: no anniversary yet
    Contact.objects.filter(pk=this_year.pk).update(created_at=datetime(2026, 1, 4, tzinfo=SP))
    tick(now=datetime(2026, 3, 4, 11, 0, tzinfo=SP), send=False)
    assert list(Enrollment.objects.values_list("contact_id", "entered_at")) == [
        (late.pk, datetime(2026, 3, 4, 10, 0, tzinfo=SP))
    ]
    tick(now=datetime(2026, 3, 5, 11, 0, tzinfo=SP), send=False)
    assert Enrollment.objects.count() == 1


@pytest.mark.parametrize(
    ("rule", "day"),
    [
        ("mothers_day", date(2027, 5, 9)),
        ("fathers_day", date(2027, 8, 8)),
        ("customer_day", date(2027, 9, 15)),
        ("black_friday", date(2027, 11, 26)),
        ("christmas", date(2027, 12, 25)),
        ("06-12", date(2027, 6, 12)),
    ],
)
def test_calendar_rules_enroll_their_audience_on_the_brazilian_date(
    customer, rule: str, day: date
) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2027, 1, 1, tzinfo=SP)
    regua(
        f"{{kind: calendar, rule: '{rule}', hour: 9}}",
        extra="audience:\n  - {field: gender, op: eq, value: female}",
        at=start,
    )
    maria = customer(gender="female")
    customer(gender="male")
    tick(
        now=datetime.combine(day - timedelta(days=1), datetime.min.time(), tzinfo=SP).replace(
            hour=12
        )
    )
    assert not Enrollment.objects.exists()
    tick(now=datetime.combine(day, datetime.min.time(), tzinfo=SP).replace(hour=9, minute=1))
    enrollment = Enrollment.objects.get()
    assert (enrollment.contact_id, enrollment.occurrence) == (maria.pk, day.isoformat())


def test_inactivity_enrolls_who_went_silent_for_n_days_and_only_then(customer) -> None:  # type: ignore[no-untyped-def]
    regua(
        "{kind: inactivity, days: 30, events: [login, purchase]}",
        extra="reentry: after_exit",
        at=T0,
    )
    quiet, active, never_active = customer(), customer(), customer()
    went_quiet = T0 - timedelta(days=20) + timedelta(seconds=7, microseconds=123456)
    event(quiet, "login", T0 - timedelta(days=24))
    event(quiet, "login", went_quiet)
    event(active, "login", T0 - timedelta(days=20))
    event(active, "login", T0 + timedelta(days=5))
    event(never_active, "product_viewed", T0 - timedelta(days=20))  # not a counted kind
    tick(now=T0 + timedelta(days=9))
    assert not Enrollment.objects.exists()  # 29 days of silence so far
    tick(now=T0 + timedelta(days=10, hours=1))
    enrollment = Enrollment.objects.get()
    assert enrollment.contact_id == quiet.pk
    # entered when the silence reached 30 days, to the microsecond; one passage per silence,
    # named by that minute in UTC
    entered = went_quiet + timedelta(days=30)
    assert enrollment.entered_at == entered
    assert enrollment.occurrence == f"i{entered.astimezone(UTC):%Y%m%d%H%M}"


def test_an_attribute_trigger_enrolls_the_audience_once(customer) -> None:  # type: ignore[no-untyped-def]
    regua(
        "{kind: attribute}",
        extra=(
            "audience:\n"
            "  - {field: stage, op: eq, value: inactive}\n"
            "  - {field: tags, op: not_has, value: vip}"
        ),
    )
    dormant = customer(stage="inactive")
    customer(stage="customer")
    tick(now=T0 + timedelta(hours=1))
    tick(now=T0 + timedelta(days=3))
    assert list(Enrollment.objects.values_list("contact_id", flat=True)) == [dormant.pk]
    # a contact who becomes inactive later enters on the next tick
    later = customer(stage="inactive")
    tick(now=T0 + timedelta(days=4))
    assert Enrollment.objects.filter(contact=later).count() == 1


# Steps over time, windows, exits, re-entry, holdout -------------------------------------


STEPS_0_15_40 = f"""
  - key: boas-vindas
    offset: 0
    channel: email
{MESSAGE}
  - key: experiencia
    offset: 15d
    window: {{start: "09:00", end: "18:00"}}
    channel: email
{MESSAGE}
  - key: ligacao
    offset: 40d
    channel: task
    task: {{kind: call, due_days: 2}}
    message:
      pt-br: {{subject: "Ligar para {{{{ contact.name }}}}", body: "Alinhamento"}}
"""


def test_each_step_goes_out_at_its_offset_inside_its_window_and_the_call_becomes_a_task(  # type: ignore[no-untyped-def]
    customer, alice
) -> None:
    regua("{kind: event, event: signup}", STEPS_0_15_40)
    clara = customer(first_name="Clara", owner=alice)
    signup = T0 + timedelta(hours=9)  # 19:00 local: outside the day-15 window
    event(clara, "signup", signup)
    tick(now=signup + timedelta(minutes=1))
    tick(now=signup + timedelta(days=15, minutes=1))
    day15 = Delivery.objects.get(step__key="experiencia")
    assert day15.due_at == datetime(2026, 3, 18, 9, 0, tzinfo=SP)  # next window opening
    assert day15.status == DeliveryStatus.SCHEDULED
    tick(now=datetime(2026, 3, 18, 9, 5, tzinfo=SP))
    assert sent_to(clara) == ["Olá, Clara", "Olá, Clara"]
    tick(now=signup + timedelta(days=40, minutes=1))
    task = Task.objects.get()
    assert (task.owner, task.contact, task.kind) == (alice, clara, "call")
    assert task.title == f"Ligar para {clara.name}"
    assert task.due_on == date(2026, 4, 13)
    tick(now=signup + timedelta(days=41))
    assert Enrollment.objects.get().status == EnrollmentStatus.COMPLETED


def test_month_offsets_are_calendar_months(customer) -> None:  # type: ignore[no-untyped-def]
    regua(
        "{kind: event, event: signup}",
        f"""
  - key: nps
    offset: 3mo
    channel: email
{MESSAGE}""",
        at=datetime(2026, 1, 1, tzinfo=SP),
    )
    clara = customer()
    event(clara, "signup", datetime(2026, 1, 31, 12, 0, tzinfo=SP))
    tick(now=datetime(2026, 1, 31, 13, 0, tzinfo=SP))
    tick(now=datetime(2026, 4, 29, 13, 0, tzinfo=SP))
    assert not Delivery.objects.exists()
    tick(now=datetime(2026, 4, 30, 12, 30, tzinfo=SP))
    assert Delivery.objects.get().due_at == datetime(2026, 4, 30, 12, 0, tzinfo=SP)


def test_the_exit_event_ends_the_passage_and_cancels_what_was_not_sent(customer) -> None:  # type: ignore[no-untyped-def]
    regua(
        "{kind: event, event: product_viewed}",
        f"""
  - key: lembrete
    offset: 2h
    window: {{start: "09:00", end: "10:00"}}
    channel: email
{MESSAGE}""",
        extra="exit: {event: purchase}\nconversion_days: 7",
    )
    clara = customer()
    event(clara, "product_viewed", T0 + timedelta(hours=1))  # 11:00; due 13:00 → tomorrow 9:00
    tick(now=T0 + timedelta(hours=3, minutes=1))
    assert Delivery.objects.get().status == DeliveryStatus.SCHEDULED
    event(clara, "purchase", T0 + timedelta(hours=5))
    summary = tick(now=T0 + timedelta(hours=6))
    assert summary.total.exited == 1
    enrollment = Enrollment.objects.get()
    assert enrollment.status == EnrollmentStatus.EXITED
    assert enrollment.goal_at == T0 + timedelta(hours=5)
    assert Delivery.objects.get().status == DeliveryStatus.CANCELLED
    tick(now=T0 + timedelta(days=1, hours=1))
    assert sent_to(clara) == []


def test_a_finished_passage_that_converts_records_its_goal_and_stays_finished(customer) -> None:  # type: ignore[no-untyped-def]
    # given a régua whose exit event is also its goal, one passage that already finished
    # and one still going when both customers buy
    regua(
        "{kind: event, event: product_viewed}",
        f"""
  - key: lembrete
    offset: 0
    channel: email
{MESSAGE}
  - key: ultima-chance
    offset: 3d
    channel: email
{MESSAGE}""",
        extra="exit: {event: purchase}\nconversion_days: 30",
    )
    done, going = customer(), customer()
    event(done, "product_viewed", T0 + timedelta(minutes=1))
    tick(now=T0 + timedelta(minutes=2))
    tick(now=T0 + timedelta(days=3, minutes=2))
    tick(now=T0 + timedelta(days=4))
    assert Enrollment.objects.get(contact=done).status == EnrollmentStatus.COMPLETED
    event(going, "product_viewed", T0 + timedelta(days=4, minutes=1))
    tick(now=T0 + timedelta(days=4, minutes=2))
    finished_at = Enrollment.objects.get(contact=done).exited_at
    event(done, "purchase", T0 + timedelta(days=5))
    event(going, "purchase", T0 + timedelta(days=5, hours=1))
    # when the tick sees both purchases
    summary = tick(now=T0 + timedelta(days=5, hours=2))
    # then only the passage still going is ended by it, and both record their conversion
    assert summary.total.exited == 1
    converted = Enrollment.objects.get(contact=done)
    assert (converted.status, converted.exit_reason, converted.exited_at) == (
        EnrollmentStatus.COMPLETED,
        "completed",
        finished_at,
    )
    assert converted.goal_at == T0 + timedelta(days=5)
    ended = Enrollment.objects.get(contact=going)
    assert (ended.status, ended.exit_reason) == (EnrollmentStatus.EXITED, "goal")
    assert ended.goal_at == T0 + timedelta(days=5, hours=1)
    # and a tick again at the same instant changes and counts nothing
    assert tick(now=T0 + timedelta(days=5, hours=2)).total.exited == 0
    # nor does the ended passage get its last step when it falls due
    tick(now=T0 + timedelta(days=8))
    assert not Delivery.objects.filter(contact=going, step__key="ultima-chance").exists()


def test_a_goal_that_is_not_the_exit_is_recorded_without_ending_the_passage(customer) -> None:  # type: ignore[no-untyped-def]
    regua(
        "{kind: event, event: signup}",
        f"""
  - key: depois
    offset: 10d
    channel: email
{MESSAGE}""",
        extra="goal: {event: purchase}\nexit: {event: unsubscribed}\nconversion_days: 30",
    )
    clara, bruno = customer(), customer()
    event(clara, "signup", T0 + timedelta(minutes=1))
    event(bruno, "signup", T0 + timedelta(minutes=1))
    tick(now=T0 + timedelta(minutes=2))
    event(clara, "purchase", T0 + timedelta(days=1))
    event(bruno, "unsubscribed", T0 + timedelta(days=1))
    summary = tick(now=T0 + timedelta(days=1, hours=1))
    assert summary.total.exited == 1
    bought = Enrollment.objects.get(contact=clara)
    assert (bought.status, bought.goal_at) == (EnrollmentStatus.ACTIVE, T0 + timedelta(days=1))
    left = Enrollment.objects.get(contact=bruno)
    assert (left.status, left.exit_reason, left.goal_at) == (EnrollmentStatus.EXITED, "goal", None)


def test_reentry_never_versus_each_occurrence(customer) -> None:  # type: ignore[no-untyped-def]
    regua("{kind: event, event: product_viewed}", key="uma-vez")
    regua("{kind: event, event: product_viewed}", key="sempre", extra="reentry: each_occurrence")
    clara = customer()
    event(clara, "product_viewed", T0 + timedelta(minutes=1), sku="A")
    tick(now=T0 + timedelta(minutes=2), send=False)
    event(clara, "product_viewed", T0 + timedelta(minutes=3), sku="B")
    event(clara, "product_viewed", T0 + timedelta(minutes=4), sku="C")
    tick(now=T0 + timedelta(minutes=5), send=False)
    assert Enrollment.objects.filter(cadence__key="uma-vez").count() == 1
    assert Enrollment.objects.filter(cadence__key="sempre").count() == 3


def test_the_holdout_is_a_stable_share_that_gets_nothing(customer) -> None:  # type: ignore[no-untyped-def]
    cadence = regua("{kind: event, event: signup}", extra="holdout_percent: 20")
    people = [customer() for _ in range(200)]
    for person in people:
        event(person, "signup", T0 + timedelta(minutes=1))
    tick(now=T0 + timedelta(minutes=2))
    held = set(Enrollment.objects.filter(holdout=True).values_list("contact_id", flat=True))
    assert 20 <= len(held) <= 60  # 20% of 200, give or take the draw
    assert held == {p.pk for p in people if cadence.in_holdout(p.pk)}  # the same draw again
    assert not Delivery.objects.filter(contact_id__in=held).exists()
    assert OutboxMessage.objects.count() == 200 - len(held)


def test_a_b_subjects_split_the_deliveries_by_a_stable_draw(customer) -> None:  # type: ignore[no-untyped-def]
    from regua.cadences import draws

    steps = """
  - key: primeiro
    offset: 0
    channel: email
    message:
      pt-br: {subject: "Olá", subject_b: "Oi, tudo bem?", body: "Oi!"}
"""
    regua("{kind: event, event: signup}", steps)
    for person in [customer() for _ in range(100)]:
        event(person, "signup", T0 + timedelta(minutes=1))
    tick(now=T0 + timedelta(minutes=2), send=False)
    variants = dict(Delivery.objects.values_list("enrollment_id", "variant"))
    assert 30 <= list(variants.values()).count("b") <= 70
    for enrollment_id, variant in variants.items():
        assert variant == draws.variant(enrollment_id, "primeiro")


# Guards at send time ---------------------------------------------------------------------


def test_quiet_hours_defer_to_the_next_allowed_minute_in_the_contacts_time_zone(customer) -> None:  # type: ignore[no-untyped-def]
    regua("{kind: event, event: signup}")
    paulista = customer(time_zone="America/Sao_Paulo")
    manauara = customer(time_zone="America/Manaus")
    at = datetime(2026, 3, 2, 21, 30, tzinfo=SP)  # 21:30 in SP, 20:30 in Manaus
    event(paulista, "signup", at - timedelta(minutes=1))
    event(manauara, "signup", at - timedelta(minutes=1))
    summary = tick(now=at)
    assert (summary.total.sent, summary.total.deferred) == (1, 1)
    assert sent_to(manauara) and not sent_to(paulista)
    deferred = Delivery.objects.get(contact=paulista)
    assert deferred.due_at == datetime(2026, 3, 3, 8, 0, tzinfo=SP)
    assert deferred.reason == "quiet hours"
    tick(now=datetime(2026, 3, 3, 8, 0, tzinfo=SP))
    assert len(sent_to(paulista)) == 1


def test_the_frequency_cap_defers_the_lower_priority_and_never_drops_it(customer) -> None:  # type: ignore[no-untyped-def]
    for n, priority in enumerate([90, 80, 70, 10]):
        regua("{kind: event, event: signup}", key=f"r{n}", extra=f"priority: {priority}")
    regua("{kind: event, event: signup}", key="recibo", extra="marketing: false\npriority: 0")
    clara = customer()
    event(clara, "signup", T0 + timedelta(minutes=1))
    summary = tick(now=T0 + timedelta(minutes=2))
    # three marketing messages and the transactional one go; the lowest priority waits
    assert summary.total.sent == 4 and summary.total.deferred == 1
    waiting = Delivery.objects.get(status=DeliveryStatus.SCHEDULED)
    assert waiting.cadence.key == "r3" and waiting.reason == "frequency cap"
    assert waiting.due_at == T0 + timedelta(minutes=2) + timedelta(days=7, minutes=1)
    tick(now=waiting.due_at)
    assert Delivery.objects.get(pk=waiting.pk).status == DeliveryStatus.SENT


def test_consent_and_the_suppression_list_hold_messages_back(customer, make_contact) -> None:  # type: ignore[no-untyped-def]
    regua("{kind: event, event: signup}", key="marketing")
    regua("{kind: event, event: signup}", key="transacional", extra="marketing: false")
    granted = customer()
    unknown = make_contact()  # never asked: marketing needs consent, transactional does not
    withdrawn = make_contact()
    Consent.objects.create(contact=withdrawn, channel="email", status="withdrawn", recorded_at=T0)
    bounced = customer()
    Suppression.objects.create(channel="email", address=bounced.email, reason="bounce")
    for person in (granted, unknown, withdrawn, bounced):
        event(person, "signup", T0 + timedelta(minutes=1))
    tick(now=T0 + timedelta(minutes=2))
    status = {
        (d.contact_id, d.cadence.key): d.status for d in Delivery.objects.select_related("cadence")
    }
    assert status == {
        (granted.pk, "marketing"): "sent",
        (granted.pk, "transacional"): "sent",
        (unknown.pk, "marketing"): "suppressed",
        (unknown.pk, "transacional"): "sent",
        (withdrawn.pk, "marketing"): "suppressed",
        (withdrawn.pk, "transacional"): "suppressed",
        (bounced.pk, "marketing"): "suppressed",
        (bounced.pk, "transacional"): "suppressed",
    }


def test_a_step_condition_is_checked_when_the_step_falls_due(customer) -> None:  # type: ignore[no-untyped-def]
    regua(
        "{kind: event, event: signup}",
        f"""
  - key: so-clientes
    offset: 1d
    condition:
      - {{field: stage, op: eq, value: customer}}
    channel: email
{MESSAGE}""",
    )
    buyer, lead = customer(stage="lead"), customer(stage="lead")
    for person in (buyer, lead):
        event(person, "signup", T0 + timedelta(minutes=1))
    tick(now=T0 + timedelta(hours=1))
    Contact.objects.filter(pk=buyer.pk).update(stage="customer")  # bought in the meantime
    summary = tick(now=T0 + timedelta(days=1, hours=1))
    assert (summary.total.scheduled, summary.total.skipped) == (1, 1)
    assert len(sent_to(buyer)) == 1 and sent_to(lead) == []


def test_a_message_due_long_ago_expires_instead_of_arriving_late(customer) -> None:  # type: ignore[no-untyped-def]
    regua("{kind: event, event: signup}", STEPS_0_15_40)
    clara = customer()
    event(clara, "signup", T0 + timedelta(minutes=1))
    tick(now=T0 + timedelta(minutes=2))
    # the worker was down for a month: day 15 is two weeks overdue, so the tick does
    # not create it, and counts it
    summary = tick(now=T0 + timedelta(days=30))
    assert (summary.total.expired, summary.total.scheduled) == (1, 0)
    assert not Delivery.objects.filter(step__key="experiencia").exists()
    assert tick(now=T0 + timedelta(days=30, minutes=1)).total.expired == 0  # counted once


def test_a_delivery_created_before_an_outage_expires_when_the_worker_returns(customer) -> None:  # type: ignore[no-untyped-def]
    regua("{kind: event, event: signup}", STEPS_0_15_40)
    clara = customer()
    event(clara, "signup", T0 + timedelta(minutes=1))
    tick(now=T0 + timedelta(minutes=2))
    tick(now=T0 + timedelta(days=15, hours=1), send=False)  # created, then the worker died
    summary = tick(now=T0 + timedelta(days=30))
    assert summary.total.expired == 1
    assert Delivery.objects.get(step__key="experiencia").status == DeliveryStatus.EXPIRED


@pytest.mark.parametrize(("late_days", "status"), [(10, "sent"), (20, "expired")])
def test_a_task_goes_stale_after_its_own_lateness_limit(customer, alice, late_days, status) -> None:  # type: ignore[no-untyped-def]
    regua("{kind: event, event: signup}", STEPS_0_15_40)
    clara = customer(owner=alice)
    event(clara, "signup", T0 + timedelta(minutes=1))
    tick(now=T0 + timedelta(days=40, minutes=2), send=False)  # the call, created on time
    tick(now=T0 + timedelta(days=40 + late_days))  # the worker comes back
    call = Delivery.objects.get(step__key="ligacao")
    assert call.status == status
    assert Task.objects.filter(delivery=call).count() == (1 if status == "sent" else 0)


# Editing an active régua -----------------------------------------------------------------


def test_moving_a_step_earlier_skips_nobody_and_resends_nothing(customer) -> None:  # type: ignore[no-untyped-def]
    cadence = regua("{kind: event, event: signup}", STEPS_0_15_40)
    early, late = customer(), customer()
    event(early, "signup", T0 + timedelta(minutes=1))
    event(late, "signup", T0 + timedelta(days=9))
    tick(now=T0 + timedelta(days=9, minutes=1))
    with time_machine.travel(T0 + timedelta(days=12), tick=False):
        # early is on day 12, late on day 3: the day-15 step moves to day 5
        document = cadence_export_text(cadence).replace("offset: 15d", "offset: 5d")
        cadence_import(document)
        now = T0 + timedelta(days=12, hours=1)
    summary = tick(now=now)
    day5 = Delivery.objects.filter(step__key="experiencia")
    # early's day 5 passed a week ago, while the step said 15: it goes now, not never
    # (and not expired as a week late)
    assert list(day5.values_list("contact_id", flat=True)) == [early.pk]
    assert (summary.total.sent, summary.total.expired) == (1, 0)
    tick(now=T0 + timedelta(days=14, hours=1))
    assert day5.filter(contact=late).count() == 1
    assert day5.count() == 2  # each once


def cadence_export_text(cadence: Cadence) -> str:
    from regua.cadences.yaml_io import cadence_export

    return cadence_export(Cadence.objects.get(pk=cadence.pk))


def test_pausing_holds_sending_and_resuming_does_not_enroll_what_fired_meanwhile(customer) -> None:  # type: ignore[no-untyped-def]
    cadence = regua("{kind: event, event: signup}")
    before, during = customer(), customer()
    event(before, "signup", T0 + timedelta(minutes=1))
    tick(now=T0 + timedelta(minutes=2), send=False)
    with time_machine.travel(T0 + timedelta(minutes=3), tick=False):
        cadence_set_status(cadence, "paused")
    event(during, "signup", T0 + timedelta(hours=1))
    tick(now=T0 + timedelta(hours=2))
    assert not OutboxMessage.objects.exists()
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        cadence_set_status(Cadence.objects.get(pk=cadence.pk), "active")
    tick(now=T0 + timedelta(hours=3, minutes=1))
    assert len(sent_to(before)) == 1 and sent_to(during) == []


def test_into_window_handles_windows_across_midnight() -> None:
    window = (datetime(2026, 1, 1, 22).time(), datetime(2026, 1, 1, 2).time())
    assert into_window(datetime(2026, 3, 2, 23, 0, tzinfo=SP), SP, window) == datetime(
        2026, 3, 2, 23, 0, tzinfo=SP
    )
    assert into_window(datetime(2026, 3, 2, 12, 0, tzinfo=SP), SP, window) == datetime(
        2026, 3, 2, 22, 0, tzinfo=SP
    )

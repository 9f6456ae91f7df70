"""The régua pages: list, ruler and report, step editor, settings, YAML, status, preview,
test send, outbox — for managers and agents, in both languages — and the customer's
public pages (unsubscribe, survey, open pixel, click redirect)."""

import html
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from regua.cadences import tokens
from regua.cadences.forms import CadenceForm, StepForm
from regua.cadences.models import (
    Cadence,
    Delivery,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    OutboxMessage,
    Step,
)
from regua.cadences.tick import tick
from regua.cadences.yaml_io import cadence_export, cadence_import, cadence_set_status
from regua.customers.models import Consent, ConsentChange, Contact
from regua.events.ingest import fingerprint
from regua.events.models import Event
from regua.users.models import User

pytestmark = pytest.mark.django_db

SP = ZoneInfo("America/Sao_Paulo")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SP)  # a Monday, 10:00 in São Paulo
DEFAULTS = Path(__file__).parent.parent / "regua" / "cadences" / "defaults"

PT_BR = pytest.param("pt-br", id="pt-br")
EN = pytest.param("en", id="en")

REGUA = """
key: boas-vindas
name: Boas-vindas da loja
objective: conversion
holdout_percent: 10
trigger: {kind: event, event: signup}
exit: {event: cancellation}
goal: {event: purchase}
steps:
  - key: welcome
    name: Boas-vindas
    offset: 0
    channel: email
    message:
      pt-br:
        subject: "Olá, {{ contact.first_name }}"
        body: "Oi, {{ contact.first_name }}!\\n\\n[Ver a loja]({{ links.site }})"
      en:
        subject: "Hello, {{ contact.first_name }}"
        body: "Hi, {{ contact.first_name }}!\\n\\n[See the shop]({{ links.site }})"
  - key: reminder
    name: Lembrete rápido
    offset: 2h
    channel: sms
    message:
      pt-br: {body: "Oi, {{ contact.first_name }}!"}
  - key: check
    name: Checagem
    offset: 15d
    channel: email
    message:
      pt-br: {subject: "Tudo certo, {{ contact.first_name }}?", body: "Conte como foi."}
  - key: nps
    name: Pesquisa NPS
    offset: 3mo
    channel: email
    message:
      pt-br: {subject: "Uma pergunta", body: "[Responder]({{ links.survey }})"}
"""


@pytest.fixture(autouse=True)
def _engine_settings(settings: Any) -> None:
    settings.EMAIL_BACKEND = "regua.cadences.channels.outbox.EmailBackend"
    settings.REGUA_QUIET_HOURS = "21:00-08:00"
    settings.REGUA_FREQUENCY_CAP = 3
    settings.REGUA_FREQUENCY_DAYS = 7
    settings.REGUA_SITE_URL = "https://crm.loja.example"
    import regua.analytics.recommendations as recommendations

    recommendations._popular_cache = None  # best sellers are cached across tests otherwise


# Helpers ---------------------------------------------------------------------------------


def speaking(client: Client, language: str) -> Client:
    client.cookies["django_language"] = language
    return client


def make_regua(document: str = REGUA, *, active: bool = False, at: datetime = T0) -> Cadence:
    cadence, _created = cadence_import(document)
    if active:
        with time_machine.travel(at, tick=False):
            cadence_set_status(cadence, "active")
    cadence.refresh_from_db()
    return cadence


def default_regua(key: str) -> str:
    return (DEFAULTS / f"{key}.yaml").read_text("utf-8")


def granted(contact: Contact, *channels: str) -> Contact:
    for channel in channels or ("email",):
        Consent.objects.create(
            contact=contact, channel=channel, status="granted", recorded_at=T0 - timedelta(days=90)
        )
    return contact


def event(contact: Contact, name: str, at: datetime) -> Event:
    return Event.objects.create(
        contact=contact,
        name=name,
        occurred_at=at,
        fingerprint=fingerprint(f"{contact.pk}:{name}:{at.isoformat()}", {})[0],
    )


def enroll(cadence: Cadence, contact: Contact, **fields: Any) -> Enrollment:
    fields.setdefault("entered_at", T0)
    return Enrollment.objects.create(
        cadence=cadence, contact=contact, occurrence=f"t{contact.pk}", **fields
    )


def deliver(enrollment: Enrollment, step_key: str, **fields: Any) -> Delivery:
    step = enrollment.cadence.steps.get(key=step_key)
    fields.setdefault("status", DeliveryStatus.SENT)
    fields.setdefault("due_at", enrollment.entered_at)
    if fields["status"] == DeliveryStatus.SENT:
        fields.setdefault("sent_at", fields["due_at"])
    return Delivery.objects.create(
        enrollment=enrollment,
        step=step,
        cadence=enrollment.cadence,
        contact=enrollment.contact,
        channel=step.channel,
        **fields,
    )


def form_data(initial: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A form's initial values as a browser posts them back (unchecked boxes left out)."""
    data = {**initial, **changes}
    posted = {}
    for name, value in data.items():
        if value is None or value is False:
            continue
        posted[name] = (
            "on"
            if value is True
            else value.strftime("%H:%M")
            if hasattr(value, "strftime")
            else str(value)
        )
    return posted


def step_form(step: Step | None = None, **changes: Any) -> dict[str, Any]:
    """What the step editor posts: the step as it is (or an empty e-mail step), changed."""
    initial = (
        StepForm.initial_for(step)
        if step is not None
        else {"offset": "0", "channel": "email", "task_kind": "call"}
    )
    return form_data(initial, **changes)


def settings_form(**changes: Any) -> dict[str, Any]:
    initial = {
        "key": "pos-compra",
        "name": "Pós-compra",
        "description": "Agradece e pede avaliação.",
        "objective": "loyalty",
        "priority": 40,
        "marketing": True,
        "holdout_percent": 5,
        "reentry": "each_occurrence",
        "conversion_days": 14,
        "trigger_kind": "event",
        "trigger_event": "purchase",
        "trigger_where": "{channel: site}",
        "trigger_attribute": "birth_date",
        "audience": "- {field: stage, op: in, value: [customer, prospect]}",
        "exit": "{event: cancellation}",
        "goal": "{event: review}",
    }
    return form_data(initial, **changes)


class _Table(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table_row(page: str, first: str) -> list[str]:
    """The cells of the table row whose first cell starts with `first`."""
    parser = _Table()
    parser.feed(page)
    for row in parser.rows:
        if row and row[0].startswith(first):
            return row
    raise AssertionError(f"no row starting with {first!r}")


def text_of(page: str) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def words_in(language: str, *english: str) -> list[str]:
    """The catalogue's words for a language; in pt-BR each must really be translated."""
    with translation.override(language):
        words = [gettext(word) for word in english]
    if language == "pt-br":
        untranslated = [word for word in english if word in words]
        assert not untranslated, f"not translated: {untranslated}"
    return words


def flashed(client: Client) -> str:
    """The messages a redirect left for the next page (the list shows them)."""
    return text_of(client.get(reverse("cadences:list")).content.decode())


# The list and the default réguas ---------------------------------------------------------


@pytest.mark.parametrize("language", [PT_BR, EN])
def test_the_list_shows_each_regua_with_status_trigger_and_counts(
    client_for, alice: User, make_contact, language: str
) -> None:  # type: ignore[no-untyped-def]
    # given an active régua with three entrants, two messages sent, and a draft
    cadence = make_regua(active=True)
    for n in range(3):
        entry = enroll(cadence, make_contact())
        if n < 2:
            deliver(entry, "welcome")
    make_regua(default_regua("birthday"))
    # when an agent opens the list
    response = speaking(client_for(alice), language).get(reverse("cadences:list"))
    # then each régua is there with its status, trigger, objective and counts
    assert response.status_code == 200
    page = response.content.decode()
    active, trigger, objective, draft, birthday, steps, name = words_in(
        language, "Active", "Event “%(name)s”", "Conversion", "Draft", "Birthday", "Steps", "Name"
    )
    trigger, birthday = trigger % {"name": "signup"}, f"{birthday}, 9h"
    assert steps in table_row(page, name)
    assert table_row(page, "Boas-vindas da loja")[1:] == [active, trigger, objective, "4", "3", "2"]
    assert table_row(page, "Aniversário")[1:3] == [draft, birthday]
    assert f'href="{reverse("cadences:detail", args=["boas-vindas"])}"' in page


def test_installing_the_defaults_adds_twelve_drafts_once(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    client = speaking(client_for(manager), "en")
    files = sorted(p.stem for p in DEFAULTS.glob("*.yaml"))
    assert len(files) == 12
    # when a manager installs the defaults
    response = client.post(reverse("cadences:install_defaults"), follow=True)
    # then the twelve réguas are there, as drafts, and listed
    page = text_of(response.content.decode())
    assert "12 default réguas installed as drafts." in page
    assert sorted(Cadence.objects.values_list("key", flat=True)) == files
    assert set(Cadence.objects.values_list("status", flat=True)) == {"draft"}
    for name in ("Onboarding SaaS", "Aniversário", "Black Friday", "Dia das Mães", "Natal"):
        assert table_row(response.content.decode(), name)[1] == "Draft"
    # and a second time installs nothing new
    steps = Step.objects.count()
    again = client.post(reverse("cadences:install_defaults"), follow=True)
    assert "0 default réguas installed as drafts." in text_of(again.content.decode())
    assert Cadence.objects.count() == 12 and Step.objects.count() == steps


# Who may do what -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/reguas/",
        "/reguas/boas-vindas/",
        "/reguas/boas-vindas/preview/",
        "/reguas/boas-vindas/yaml/",
        "/reguas/boas-vindas/settings/",
        "/reguas/boas-vindas/steps/welcome/",
        "/outbox/",
    ],
)
def test_an_anonymous_visitor_is_sent_to_sign_in(url: str) -> None:
    make_regua()
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_an_agent_may_read_but_every_change_is_refused(
    client_for, alice: User, make_contact
) -> None:  # type: ignore[no-untyped-def]
    cadence = make_regua()
    make_contact()
    client = speaking(client_for(alice), "en")
    assert client.get(reverse("cadences:list")).status_code == 200
    assert "New régua" not in client.get(reverse("cadences:list")).content.decode()
    assert client.get(reverse("cadences:yaml", args=["boas-vindas"])).status_code == 200
    assert client.get(reverse("cadences:preview", args=["boas-vindas"])).status_code == 200
    before = cadence_export(cadence)
    welcome = cadence.steps.get(key="welcome")
    attempts = [
        ("get", reverse("cadences:settings", args=["boas-vindas"]), {}),
        ("post", reverse("cadences:settings", args=["boas-vindas"]), settings_form()),
        ("get", reverse("cadences:new"), {}),
        ("post", reverse("cadences:new"), settings_form()),
        ("post", reverse("cadences:status", args=["boas-vindas"]), {"status": "active"}),
        ("post", reverse("cadences:import"), {"document": REGUA.replace("Boas", "Más")}),
        ("post", reverse("cadences:install_defaults"), {}),
        ("get", reverse("cadences:step", args=["boas-vindas", "welcome"]), {}),
        ("post", reverse("cadences:step", args=["boas-vindas", "welcome"]), step_form(welcome)),
        ("post", reverse("cadences:step_new", args=["boas-vindas"]), step_form(key="novo")),
        ("post", reverse("cadences:step_archive", args=["boas-vindas", "welcome"]), {}),
        ("post", reverse("cadences:step_test", args=["boas-vindas", "welcome"]), {}),
    ]
    for method, url, data in attempts:
        response = getattr(client, method)(url, data)
        assert response.status_code in (302, 403), url
        if response.status_code == 302:
            assert response["Location"].startswith("/accounts/login/"), url
    assert Cadence.objects.count() == 1
    assert cadence_export(Cadence.objects.get()) == before
    assert not mail.outbox and not OutboxMessage.objects.exists()


def test_an_agent_sees_the_ruler_without_edit_controls(client_for, alice: User) -> None:  # type: ignore[no-untyped-def]
    make_regua()
    page = speaking(client_for(alice), "en").get(reverse("cadences:detail", args=["boas-vindas"]))
    assert page.status_code == 200
    content = page.content.decode()
    assert 'href="#step-welcome"' in content
    assert reverse("cadences:settings", args=["boas-vindas"]) not in content
    assert "Test send to me" not in content and "Activate" not in content


@pytest.mark.parametrize("who", ["manager", "admin_user"])
def test_managers_and_admins_edit(client_for, who: str, request: pytest.FixtureRequest) -> None:  # type: ignore[no-untyped-def]
    make_regua()
    client = speaking(client_for(request.getfixturevalue(who)), "en")
    assert "New régua" in client.get(reverse("cadences:list")).content.decode()
    for url in (
        reverse("cadences:settings", args=["boas-vindas"]),
        reverse("cadences:new"),
        reverse("cadences:step", args=["boas-vindas", "welcome"]),
        reverse("cadences:step_new", args=["boas-vindas"]),
    ):
        assert client.get(url).status_code == 200, url
    response = client.post(
        reverse("cadences:step", args=["boas-vindas", "welcome"]),
        step_form(Step.objects.get(key="welcome"), name="Bem-vindo"),
    )
    assert response.status_code == 302
    assert Step.objects.get(key="welcome").name == "Bem-vindo"


# The ruler and the report ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "labels"),
    [
        pytest.param("pt-br", ["Dia 0", "2 horas", "Dia 15", "Mês 3"], id="pt-br"),
        pytest.param("en", ["Day 0", "2 hours", "Day 15", "Month 3"], id="en"),
    ],
)
def test_the_ruler_shows_each_step_at_its_offset_in_order(
    client_for, manager: User, language: str, labels: list[str]
) -> None:  # type: ignore[no-untyped-def]
    make_regua()
    response = speaking(client_for(manager), language).get(
        reverse("cadences:detail", args=["boas-vindas"])
    )
    assert response.status_code == 200
    page = response.content.decode()
    ruler = page[page.index('class="ruler"') : page.index("</section>", page.index('"ruler"'))]
    marks = re.findall(
        r'data-left="([\d.]+)".*?class="ruler-when">([^<]+)<.*?class="ruler-name">([^<]+)<',
        ruler,
        re.S,
    )
    # in time order, whatever order the YAML gave: day 0, 2 hours, day 15, month 3
    assert [(when, name) for _left, when, name in marks] == list(
        zip(labels, ["Boas-vindas", "Lembrete rápido", "Checagem", "Pesquisa NPS"], strict=True)
    )
    lefts = [float(left) for left, _when, _name in marks]
    assert lefts == sorted(lefts) and lefts[0] >= 0 and lefts[-1] <= 100
    # each mark opens its step in the editor
    assert reverse("cadences:step", args=["boas-vindas", "check"]) in ruler


def test_the_ruler_positions_stay_css_numbers_in_portuguese(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    # pt-BR writes decimals with a comma; "left: 51,2%" would pile every step at the start
    make_regua()
    page = speaking(client_for(manager), "pt-br").get(
        reverse("cadences:detail", args=["boas-vindas"])
    )
    lefts = re.findall(r'class="ruler-step[^"]*" data-left="([^"]*)"', page.content.decode())
    assert len(lefts) == 4
    assert [float(left) for left in lefts] == sorted(float(left) for left in lefts)


def test_steps_imported_out_of_order_still_read_in_time_order(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    # the same régua with its month-3 step written first
    nps = REGUA[REGUA.index("  - key: nps") :]
    make_regua(REGUA.replace(nps, "").replace("steps:\n", "steps:\n" + nps))
    preview = speaking(client_for(manager), "en").get(
        reverse("cadences:preview", args=["boas-vindas"])
    )
    assert table_row(preview.content.decode(), "Day")[1:-1] == [
        "Boas-vindas",
        "Lembrete rápido",
        "Checagem",
        "Pesquisa NPS",
    ]


def test_the_report_counts_each_step_and_the_uplift_against_the_holdout(
    client_for, manager: User, make_contact
) -> None:  # type: ignore[no-untyped-def]
    # given four who received the régua (two bought within the window) and two in the
    # holdout (none bought)
    cadence = make_regua(active=True)
    people = [enroll(cadence, make_contact()) for _ in range(4)]
    for n, entry in enumerate(people):
        deliver(
            entry,
            "welcome",
            opened_at=T0 + timedelta(hours=1) if n < 3 else None,
            clicked_at=T0 + timedelta(hours=2) if n < 1 else None,
        )
        if n < 2:
            Enrollment.objects.filter(pk=entry.pk).update(goal_at=T0 + timedelta(days=3))
    deliver(people[0], "check", status=DeliveryStatus.SCHEDULED, due_at=T0 + timedelta(days=15))
    deliver(people[1], "check", status=DeliveryStatus.SUPPRESSED)
    for _ in range(2):
        enroll(cadence, make_contact(), holdout=True)
    # when a manager opens the régua
    page = speaking(client_for(manager), "en").get(reverse("cadences:detail", args=["boas-vindas"]))
    content = page.content.decode()
    # then the funnel: waiting, sent, delivered, opened, clicked, converted, unsubscribed
    welcome = table_row(content, "Boas-vindas")
    assert welcome[1:9] == ["0", "4", "4", "3 (75.0%)", "1 (25.0%)", "2 (50.0%)", "0", "0 / 0 / 0"]
    check = table_row(content, "Checagem")
    assert check[1:3] == ["1", "0"] and check[8] == "1 / 0 / 0"
    # and the uplift: 50% of receivers converted, 0% of the holdout
    text = text_of(content)
    assert "2 of 4 who received the régua converted within 30 days; 0 of 2 in the holdout did." in (
        text
    )
    assert "Uplift: 50.00 percentage points" in text
    assert "95% confidence interval: 1.00 to 99.00" in text


# The step editor -------------------------------------------------------------------------


def test_saving_a_valid_step_adds_it_to_the_regua(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    make_regua()
    client = speaking(client_for(manager), "en")
    response = client.post(
        reverse("cadences:step_new", args=["boas-vindas"]),
        step_form(
            key="ultima-chance",
            name="Última chance",
            offset="20d",
            window_start="09:00",
            window_end="18:00",
            **{
                "pt-br_subject": "{{ contact.first_name }}, última chance",
                "pt-br_body": "Olá!\n\n[Comprar]({{ links.site }})",
                "en_subject": "Last chance, {{ contact.first_name }}",
                "en_body": "Hi!",
            },
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("cadences:detail", args=["boas-vindas"])
    step = Step.objects.get(key="ultima-chance")
    assert (step.name, step.offset, str(step.window_start), step.channel) == (
        "Última chance",
        "20d",
        "09:00:00",
        "email",
    )
    assert step.message["en"] == {"subject": "Last chance, {{ contact.first_name }}", "body": "Hi!"}
    # it takes its place in time: after day 15, before month 3
    order = list(
        Step.objects.filter(cadence__key="boas-vindas")
        .order_by("position")
        .values_list("key", flat=True)
    )
    assert order == ["welcome", "reminder", "check", "ultima-chance", "nps"]
    preview = client.get(reverse("cadences:preview", args=["boas-vindas"])).content.decode()
    assert "Última chance" in table_row(preview, "Day")
    # and the editor opens it again with what was saved
    editor = client.get(reverse("cadences:step", args=["boas-vindas", "ultima-chance"]))
    assert "Last chance, {{ contact.first_name }}" in html.unescape(editor.content.decode())


@pytest.mark.parametrize(
    ("field", "value", "where", "why"),
    [
        (
            "pt-br_subject",
            "Olá, {{ contact.frist_name }}",
            "message.pt-br.subject, line 1",
            "'contact' has no attribute 'frist_name'",
        ),
        (
            "pt-br_body",
            "Olá!\n\nSeu pedido: {{ contact.frist_name }}",
            "message.pt-br.body, line 3",
            "'contact' has no attribute 'frist_name'",
        ),
        (
            "en_body",
            "Hi!\n{% if %}\nBye",
            "message.en.body, line 2",
            "Expected an expression",
        ),
        (
            "pt-br_body",
            "Oi!\n\n[Clique aqui](javascript:alert(1))",
            "message.pt-br.body, line 3",
            "links must start with http:// or https://, not 'javascript:alert(1)'",
        ),
    ],
    ids=["unknown-variable-subject", "unknown-variable-body", "syntax-error", "javascript-link"],
)
def test_a_broken_template_is_refused_with_its_field_and_line(
    client_for, manager: User, field: str, value: str, where: str, why: str
) -> None:  # type: ignore[no-untyped-def]
    cadence = make_regua()
    before = cadence_export(cadence)
    step = cadence.steps.get(key="welcome")
    response = speaking(client_for(manager), "en").post(
        reverse("cadences:step", args=["boas-vindas", "welcome"]),
        step_form(step, **{field: value}),
    )
    # the editor comes back with the problem, where it is and why
    assert response.status_code == 200
    text = text_of(response.content.decode())
    assert f"{where}: {why}" in text
    assert value.split("\n")[-1] in html.unescape(response.content.decode())  # kept for fixing
    # and nothing was saved
    assert cadence_export(Cadence.objects.get()) == before


def test_each_problem_is_shown_once(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    make_regua()
    response = speaking(client_for(manager), "en").post(
        reverse("cadences:step", args=["boas-vindas", "welcome"]),
        step_form(Step.objects.get(key="welcome"), **{"pt-br_subject": "{{ contact.frist_name }}"}),
    )
    assert text_of(response.content.decode()).count("has no attribute 'frist_name'") == 1


def test_a_step_key_taken_by_another_step_is_refused(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    make_regua()
    response = speaking(client_for(manager), "en").post(
        reverse("cadences:step", args=["boas-vindas", "welcome"]),
        step_form(Step.objects.get(key="welcome"), key="check"),
    )
    assert response.status_code == 200
    assert "Another step of this régua has this key." in text_of(response.content.decode())
    assert Step.objects.filter(key="welcome").exists()


def test_moving_a_step_of_an_active_regua_sends_it_once_to_each(
    client_for, manager: User, make_contact
) -> None:  # type: ignore[no-untyped-def]
    # given an active régua; early signed up on day 0 and already had the day-15 step,
    # late signed up on day 9
    cadence = make_regua(REGUA.replace("holdout_percent: 10", "holdout_percent: 0"), active=True)
    early, late = (granted(make_contact(phone=f"+551199999000{n}")) for n in range(2))
    event(early, "signup", T0 + timedelta(minutes=1))
    tick(now=T0 + timedelta(minutes=2))
    tick(now=T0 + timedelta(days=15, minutes=3))
    event(late, "signup", T0 + timedelta(days=15, minutes=4))
    tick(now=T0 + timedelta(days=15, minutes=5))
    check = Delivery.objects.filter(step__key="check")
    assert list(check.values_list("contact_id", "status")) == [(early.pk, "sent")]
    # when, on day 25, a manager moves that step to day 8 in the editor
    with time_machine.travel(T0 + timedelta(days=25), tick=False):
        response = client_for(manager).post(
            reverse("cadences:step", args=["boas-vindas", "check"]),
            step_form(cadence.steps.get(key="check"), offset="8d"),
        )
    assert response.status_code == 302
    assert Step.objects.get(key="check").offset == "8d"
    tick(now=T0 + timedelta(days=25, minutes=1))
    tick(now=T0 + timedelta(days=25, minutes=2))
    # then late, whose day 8 has passed, gets it now; early does not get it again
    assert sorted(check.values_list("contact_id", flat=True)) == sorted([early.pk, late.pk])
    assert (
        OutboxMessage.objects.filter(to=early.email, subject__startswith="Tudo certo").count() == 1
    )
    assert (
        OutboxMessage.objects.filter(to=late.email, subject__startswith="Tudo certo").count() == 1
    )


# Settings: a new régua and an existing one -------------------------------------------------


def test_a_new_regua_is_created_from_the_settings_form(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    client = speaking(client_for(manager), "en")
    assert client.get(reverse("cadences:new")).status_code == 200
    response = client.post(reverse("cadences:new"), settings_form())
    assert response.status_code == 302
    assert response["Location"] == reverse("cadences:detail", args=["pos-compra"])
    cadence = Cadence.objects.get(key="pos-compra")
    assert (cadence.name, cadence.status, cadence.objective, cadence.priority) == (
        "Pós-compra",
        "draft",
        "loyalty",
        40,
    )
    assert (cadence.description, cadence.marketing, cadence.holdout_percent) == (
        "Agradece e pede avaliação.",
        True,
        5,
    )
    assert (cadence.reentry, cadence.conversion_days) == ("each_occurrence", 14)
    assert cadence.trigger == {"kind": "event", "event": "purchase", "where": {"channel": "site"}}
    assert cadence.audience == [{"field": "stage", "op": "in", "value": ["customer", "prospect"]}]
    assert (cadence.exit_goal, cadence.goal) == ({"event": "cancellation"}, {"event": "review"})


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"trigger_kind": "inactivity", "trigger_events": "login"},
            "trigger inactivity: days must be a whole number ≥ 1",
        ),
        ({"trigger_event": ""}, "trigger event: name the event"),
        ({"audience": "- {field: stage, op: eq"}, "Not valid YAML"),
        ({"audience": "- {field: shoe_size, op: eq, value: 40}"}, "shoe_size"),
        ({"key": "boas-vindas"}, "key: a régua with this key exists"),
    ],
    ids=["inactivity-without-days", "event-without-name", "bad-yaml", "unknown-field", "taken"],
)
def test_an_invalid_regua_is_refused_with_the_reason(
    client_for, manager: User, changes: dict[str, str], problem: str
) -> None:  # type: ignore[no-untyped-def]
    make_regua()
    response = speaking(client_for(manager), "en").post(
        reverse("cadences:new"), settings_form(**changes)
    )
    assert response.status_code == 200
    assert problem in text_of(response.content.decode())
    assert list(Cadence.objects.values_list("key", flat=True)) == ["boas-vindas"]


def test_saving_the_settings_unchanged_changes_nothing(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    for key in ("onboarding", "birthday", "inactivity", "mothers_day", "reactivation"):
        cadence = make_regua(default_regua(key))
        before = cadence_export(cadence)
        response = client_for(manager).post(
            reverse("cadences:settings", args=[key]),
            form_data(CadenceForm.initial_for(cadence)),
        )
        assert response.status_code == 302, text_of(response.content.decode())[:2000]
        assert cadence_export(Cadence.objects.get(key=key)) == before, key


def test_the_settings_form_changes_the_trigger_and_keeps_the_key(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    cadence = make_regua()
    data = form_data(
        CadenceForm.initial_for(cadence),
        key="outra-chave",
        name="Reengajamento",
        trigger_kind="inactivity",
        trigger_days=45,
        trigger_events="login, purchase",
        holdout_percent=0,
    )
    response = client_for(manager).post(reverse("cadences:settings", args=["boas-vindas"]), data)
    assert response.status_code == 302
    cadence = Cadence.objects.get()
    assert (cadence.key, cadence.name, cadence.holdout_percent) == (
        "boas-vindas",
        "Reengajamento",
        0,
    )
    assert cadence.trigger == {"kind": "inactivity", "days": 45, "events": ["login", "purchase"]}


# YAML: import and export -----------------------------------------------------------------


def test_importing_a_valid_document_creates_the_regua(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    client = speaking(client_for(manager), "en")
    response = client.post(reverse("cadences:import"), {"document": REGUA})
    assert response.status_code == 302
    assert response["Location"] == reverse("cadences:detail", args=["boas-vindas"])
    cadence = Cadence.objects.get()
    assert (cadence.name, cadence.status) == ("Boas-vindas da loja", "draft")
    assert cadence.steps.count() == 4
    assert "Régua Boas-vindas da loja created." in flashed(client)
    # the same key again updates it
    client.post(reverse("cadences:import"), {"document": REGUA.replace("da loja", "do site")})
    assert list(Cadence.objects.values_list("name", flat=True)) == ["Boas-vindas do site"]
    assert "Régua Boas-vindas do site updated." in flashed(client)


def test_a_yaml_file_can_be_uploaded(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("onboarding.yaml", default_regua("onboarding").encode())
    response = client_for(manager).post(reverse("cadences:import"), {"file": upload})
    assert response.status_code == 302
    assert Cadence.objects.get().name == "Onboarding SaaS"


def test_an_invalid_document_lists_every_problem_and_writes_nothing(
    client_for, manager: User
) -> None:  # type: ignore[no-untyped-def]
    cadence = make_regua()
    before = cadence_export(cadence)
    broken = (
        REGUA.replace("name: Boas-vindas da loja", "name: Outro nome")
        .replace("objective: conversion", "objective: fame")
        .replace("offset: 15d", "offset: 15 days")
        .replace('subject: "Uma pergunta"', 'subject: "{{ contact.frist_name }}"')
    )
    client = speaking(client_for(manager), "en")
    response = client.post(reverse("cadences:import"), {"document": broken}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("cadences:list")
    text = text_of(response.content.decode())
    assert "objective: 'fame' is not one of" in text
    assert "steps[2].offset: '15 days' is not an offset" in text
    assert "steps[3].message.pt-br.subject, line 1: 'contact' has no attribute 'frist_name'" in (
        text
    )
    # nothing changed, nothing added
    assert Cadence.objects.count() == 1
    assert cadence_export(Cadence.objects.get()) == before
    # nor from a document that is not YAML at all
    response = client.post(reverse("cadences:import"), {"document": "key: [x"}, follow=True)
    assert "not valid YAML" in text_of(response.content.decode())
    assert Cadence.objects.count() == 1


@pytest.mark.parametrize("key", ["onboarding", "birthday", "inactivity", "reactivation"])
def test_exporting_and_importing_gives_back_the_same_document(
    client_for, manager: User, key: str
) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_for(manager)
    cadence_import(default_regua(key))
    # when the régua is downloaded, deleted and the downloaded file uploaded
    exported = client.get(reverse("cadences:yaml", args=[key]))
    assert exported["Content-Type"].startswith("application/yaml")
    assert exported["Content-Disposition"] == f'attachment; filename="{key}.yaml"'
    Cadence.objects.all().delete()
    upload = SimpleUploadedFile(f"{key}.yaml", exported.content)
    assert client.post(reverse("cadences:import"), {"file": upload}).status_code == 302
    # then exporting it again gives the same text
    again = client.get(reverse("cadences:yaml", args=[key]))
    assert again.content.decode() == exported.content.decode()


def test_a_pasted_document_is_imported_exactly_as_written(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    text = default_regua("birthday")  # ends with a message body in a `|` block
    client_for(manager).post(reverse("cadences:import"), {"document": text})
    pasted = Step.objects.get(key="birthday_whatsapp").message
    Cadence.objects.all().delete()
    cadence_import(text)
    assert Step.objects.get(key="birthday_whatsapp").message == pasted


# Status ----------------------------------------------------------------------------------


def test_the_status_buttons_activate_pause_and_archive(
    client_for, manager: User, make_contact
) -> None:  # type: ignore[no-untyped-def]
    make_regua()
    client = speaking(client_for(manager), "en")
    status_url = reverse("cadences:status", args=["boas-vindas"])
    # activate
    response = client.post(status_url, {"status": "active"})
    assert response.status_code == 302
    cadence = Cadence.objects.get()
    assert cadence.status == "active" and cadence.activated_at is not None
    assert "Régua is now active." in flashed(client)
    # pause
    client.post(status_url, {"status": "paused"})
    assert Cadence.objects.get().status == "paused"
    assert "Régua is now paused." in flashed(client)
    # archive: what was waiting is cancelled, what was sent stays
    entry = enroll(cadence, make_contact())
    sent = deliver(entry, "welcome")
    waiting = deliver(entry, "check", status=DeliveryStatus.SCHEDULED, due_at=T0 + timedelta(15))
    client.post(status_url, {"status": "archived"})
    assert Cadence.objects.get().status == "archived"
    assert Delivery.objects.get(pk=waiting.pk).status == DeliveryStatus.CANCELLED
    assert Delivery.objects.get(pk=sent.pk).status == DeliveryStatus.SENT
    assert Enrollment.objects.get().status == EnrollmentStatus.EXITED
    # the list no longer shows it, but says there is one archived
    listing = flashed(client)
    assert "Régua is now archived." in listing
    assert "1 archived régua not shown." in listing and "Boas-vindas da loja" not in listing
    # and an unknown status is refused
    assert client.post(status_url, {"status": "deleted"}).status_code == 404


def test_reactivating_an_archived_regua_enrolls_nobody_from_meanwhile(
    client_for, manager: User, make_contact
) -> None:  # type: ignore[no-untyped-def]
    make_regua(REGUA.replace("holdout_percent: 10", "holdout_percent: 0"), active=True)
    tick(now=T0 + timedelta(minutes=1))
    client = client_for(manager)
    status_url = reverse("cadences:status", args=["boas-vindas"])
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        client.post(status_url, {"status": "archived"})
    meanwhile = granted(make_contact())
    event(meanwhile, "signup", T0 + timedelta(hours=2))
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        client.post(status_url, {"status": "active"})
    tick(now=T0 + timedelta(hours=3, minutes=1))
    assert not Enrollment.objects.filter(contact=meanwhile).exists()


# Preview ---------------------------------------------------------------------------------


@pytest.fixture
def birthdays(make_contact) -> dict[str, Contact]:  # type: ignore[no-untyped-def]
    """Contacts around T0 (2 March 2026): birthdays ahead, behind, far, and one without
    consent."""
    from datetime import date

    people = {
        "clara": granted(make_contact(first_name="Clara", birth_date=date(1990, 3, 7))),
        "bruno": granted(make_contact(first_name="Bruno", birth_date=date(1985, 3, 14))),
        "paula": granted(make_contact(first_name="Paula", birth_date=date(1988, 3, 14))),
        "diego": make_contact(first_name="Diego", birth_date=date(1979, 3, 9)),
        "elisa": granted(make_contact(first_name="Elisa", birth_date=date(1992, 6, 1))),
        "fabio": granted(make_contact(first_name="Fábio", birth_date=date(1975, 2, 10))),
    }
    return people


def snapshot() -> tuple[int, ...]:
    return (
        Enrollment.objects.count(),
        Delivery.objects.count(),
        Event.objects.count(),
        OutboxMessage.objects.count(),
    )


def test_the_preview_shows_the_birthdays_of_the_next_30_days_and_writes_nothing(
    client_for, manager: User, birthdays: dict[str, Contact]
) -> None:  # type: ignore[no-untyped-def]
    # given the birthday régua, active since T0
    cadence = make_regua(default_regua("birthday"), active=True)
    before = snapshot()
    # when a manager previews it
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        response = speaking(client_for(manager), "en").get(
            reverse("cadences:preview", args=["birthday"])
        )
    assert response.status_code == 200
    page = response.content.decode()
    text = text_of(page)
    assert "What it will send in the next 30 days" in text
    # then each birthday with e-mail consent is counted on its day
    assert table_row(page, "Day")[1:] == [
        "E-mail de aniversário",
        "WhatsApp de aniversário",
        "Total",
    ]
    assert table_row(page, "Sat 07/03")[1:] == ["1", "0", "1"]
    assert table_row(page, "Sat 14/03")[1:] == ["2", "0", "2"]
    assert table_row(page, "Mon 09/03")[1:] == ["0", "0", "0"]  # Diego: no consent
    assert table_row(page, "Mon 02/03")  # the period starts today
    # and named
    to_whom = text[text.index("To whom") :]
    for name in ("Clara", "Bruno", "Paula"):
        assert name in to_whom
    for name in ("Diego", "Elisa", "Fábio"):
        assert name not in to_whom
    assert "4 would enter" in text  # Diego enters; the guard holds his message back
    # and nothing was written
    assert snapshot() == before
    cadence.refresh_from_db()
    assert (cadence.status, cadence.enrolled_through) == ("active", T0)


def test_the_backtest_shows_what_the_last_30_days_would_have_sent(
    client_for, manager: User, birthdays: dict[str, Contact]
) -> None:  # type: ignore[no-untyped-def]
    cadence = make_regua(default_regua("birthday"))
    before = snapshot()
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        response = speaking(client_for(manager), "en").get(
            reverse("cadences:preview", args=["birthday"]), {"period": "past"}
        )
    page = response.content.decode()
    text = text_of(page)
    assert "What it would have sent in the last 30 days" in text
    assert table_row(page, "Tue 10/02")[1:] == ["1", "0", "1"]
    assert "Fábio" in text[text.index("To whom") :]
    assert "Clara" not in text[text.index("To whom") :]
    assert snapshot() == before
    assert Cadence.objects.get(pk=cadence.pk).status == "draft"


# Test send -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "prefix"),
    [
        pytest.param("pt-br", "[Teste]", id="pt-br"),
        pytest.param("en", "[Test]", id="en"),
    ],
)
def test_a_test_send_mails_the_rendered_step_to_the_manager(
    client_for, manager: User, make_contact, settings: Any, language: str, prefix: str
) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    make_regua()
    clara = make_contact(first_name="Clara", last_name="Souza")
    response = speaking(client_for(manager), language).post(
        reverse("cadences:step_test", args=["boas-vindas", "welcome"]), {"contact": clara.pk}
    )
    assert response.status_code == 200
    # the message went to the manager, marked as a test, rendered for Clara
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["gerente@example.com"]
    assert message.subject == f"{prefix} Olá, Clara"
    assert "Oi, Clara!" in message.body and "Ver a loja: https://crm.loja.example" in message.body
    html_part = message.alternatives[0][0]
    assert "Ver a loja" in html_part
    # and the page shows it as Clara would see it, in a sandboxed frame
    page = response.content.decode()
    text = text_of(page)
    assert "Clara Souza" in text and "Olá, Clara" in text and "gerente@example.com" in text
    frame = re.search(r"<iframe[^>]*>", page)
    assert frame is not None and " sandbox " in frame.group(0)
    assert "Ver a loja" in html.unescape(frame.group(0))
    assert not OutboxMessage.objects.exists()  # nothing recorded as a real delivery
    assert not Delivery.objects.exists()


def test_a_test_send_of_a_text_message_only_shows_it(
    client_for, manager: User, make_contact, settings: Any
) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    make_regua()
    make_contact(first_name="Bruno")
    response = client_for(manager).post(
        reverse("cadences:step_test", args=["boas-vindas", "reminder"])
    )
    assert response.status_code == 200
    assert "Oi, Bruno!" in text_of(response.content.decode())
    assert mail.outbox == []


def test_a_test_send_of_a_webhook_step_does_not_fail(
    client_for, manager: User, make_contact
) -> None:  # type: ignore[no-untyped-def]
    make_regua(
        REGUA
        + """  - key: erp
    offset: 1d
    channel: webhook
    webhook: {url: "https://erp.example/hook"}
"""
    )
    make_contact()
    client = client_for(manager)
    client.raise_request_exception = False
    response = client.post(reverse("cadences:step_test", args=["boas-vindas", "erp"]))
    assert response.status_code in (200, 302)


def test_a_test_send_for_a_contact_the_template_fails_on_says_why(
    client_for, manager: User, make_contact, settings: Any
) -> None:  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # the sample contact has an age; this one has no birth date
    make_regua(REGUA.replace("Olá, {{ contact.first_name }}", "{{ contact.age + 1 }} anos!"))
    make_contact(birth_date=None)
    client = speaking(client_for(manager), "en")
    client.raise_request_exception = False
    response = client.post(reverse("cadences:step_test", args=["boas-vindas", "welcome"]))
    assert response.status_code in (200, 302)
    shown = text_of(response.content.decode()) + flashed(client)  # on the page or the next
    assert "pt-br.subject, line 1" in shown
    assert mail.outbox == []


# The outbox ------------------------------------------------------------------------------


@pytest.fixture
def outbox_rows() -> list[OutboxMessage]:
    return [
        OutboxMessage.objects.create(
            channel="email",
            to="clara@exemplo.com.br",
            subject="Feliz aniversário, Clara!",
            text="Feliz aniversário!",
            html="<html><body><p>Feliz <b>aniversário</b>!</p><script>x()</script></body></html>",
            headers={"From": "Loja <loja@exemplo.com.br>", "List-Unsubscribe": "<https://x/u/1>"},
        ),
        OutboxMessage.objects.create(
            channel="sms", to="+5581987654321", text="Oi Bruno, seu pedido saiu para entrega."
        ),
    ]


def test_the_outbox_lists_the_messages_by_channel(client_for, alice: User, outbox_rows) -> None:  # type: ignore[no-untyped-def]
    client = speaking(client_for(alice), "en")
    page = text_of(client.get(reverse("cadences:outbox")).content.decode())
    assert "Feliz aniversário, Clara!" in page and "Oi Bruno, seu pedido" in page
    assert "clara@exemplo.com.br" in page and "+5581987654321" in page
    only_sms = text_of(client.get(reverse("cadences:outbox"), {"channel": "sms"}).content.decode())
    assert "Oi Bruno" in only_sms and "Feliz aniversário, Clara!" not in only_sms


def test_a_message_is_shown_in_a_sandboxed_frame(client_for, alice: User, outbox_rows) -> None:  # type: ignore[no-untyped-def]
    email, sms = outbox_rows
    client = speaking(client_for(alice), "en")
    url = reverse("cadences:outbox_message", args=[email.pk])
    page = client.get(url).content.decode()
    frame = re.search(r"<iframe[^>]*>", page)
    assert frame is not None
    assert 'sandbox="' in frame.group(0) and "allow-scripts" not in frame.group(0)
    assert f'src="{url}?raw=html"' in frame.group(0)
    assert "List-Unsubscribe" in page and "Feliz aniversário!" in page  # headers, text part
    # the frame's document: the HTML as sent, under a sandboxing policy
    raw = client.get(url, {"raw": "html"})
    assert raw.content.decode() == email.html
    assert raw["Content-Security-Policy"].startswith("sandbox")
    assert "default-src 'none'" in raw["Content-Security-Policy"]
    # a text message has no frame, only its text
    sms_page = client.get(reverse("cadences:outbox_message", args=[sms.pk])).content.decode()
    assert "<iframe" not in sms_page and "seu pedido saiu para entrega" in sms_page
    assert client.get(reverse("cadences:outbox_message", args=[999999])).status_code == 404


def test_the_message_frame_may_be_shown_by_the_app_itself(
    client_for, alice: User, outbox_rows
) -> None:  # type: ignore[no-untyped-def]
    raw = client_for(alice).get(
        reverse("cadences:outbox_message", args=[outbox_rows[0].pk]), {"raw": "html"}
    )
    assert raw.get("X-Frame-Options", "SAMEORIGIN") == "SAMEORIGIN"


# The customer's pages (no sign-in) -------------------------------------------------------


@pytest.fixture
def sent_email(make_contact) -> Callable[..., Delivery]:  # type: ignore[no-untyped-def]
    """A welcome e-mail sent to a contact who agreed to e-mail and SMS."""

    def make(**contact_fields: Any) -> Delivery:
        cadence = Cadence.objects.filter(key="boas-vindas").first() or make_regua(active=True)
        contact_fields.setdefault("phone", "+5511987654321")
        contact = granted(make_contact(**contact_fields), "email", "sms")
        return deliver(enroll(cadence, contact), "welcome")

    return make


def public_client() -> Client:
    # As a mail client or a browser without a session: CSRF checks on, no cookies.
    return Client(enforce_csrf_checks=True)


@pytest.mark.parametrize("language", [PT_BR, EN])
def test_the_unsubscribe_page_speaks_the_contacts_language(sent_email, language: str) -> None:  # type: ignore[no-untyped-def]
    words = words_in(language, "Message preferences", "not subscribed", "Unsubscribe")
    delivery = sent_email(first_name="Joan", language=language)
    # whatever language the browser asks for
    other = "en" if language == "pt-br" else "pt-br"
    response = public_client().get(
        reverse("cadences:unsubscribe", args=[tokens.make("unsubscribe", delivery.pk)]),
        headers={"Accept-Language": other},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert f'<html lang="{language}">' in page
    text = text_of(page)
    for word in words:
        assert word in text
    assert "Joan" in text
    # every channel, the ones not subscribed to marked
    for value in ("email", "sms", "whatsapp"):
        assert f'name="channels" value="{value}"' in page
    assert text.count(words[1]) == 1  # only WhatsApp


def test_unsubscribing_withdraws_consent_on_the_chosen_channels(sent_email) -> None:  # type: ignore[no-untyped-def]
    delivery = sent_email(language="en")
    contact = delivery.contact
    url = reverse("cadences:unsubscribe", args=[tokens.make("unsubscribe", delivery.pk)])
    response = public_client().post(url, {"channels": ["email", "sms"]})
    assert response.status_code == 200
    assert "Done: you will no longer receive our messages" in text_of(response.content.decode())
    assert dict(contact.consents.values_list("channel", "status")) == {
        "email": "withdrawn",
        "sms": "withdrawn",
    }
    changes = ConsentChange.objects.filter(contact=contact, status="withdrawn")
    assert sorted(changes.values_list("channel", "source")) == [
        ("email", "unsubscribe page"),
        ("sms", "unsubscribe page"),
    ]
    assert Delivery.objects.get(pk=delivery.pk).unsubscribed_at is not None
    assert Event.objects.filter(contact=contact, name="unsubscribed").count() == 1
    # doing it again changes nothing
    again = public_client().post(url, {"channels": ["email"]})
    assert "Nothing changed." in text_of(again.content.decode())
    assert ConsentChange.objects.filter(contact=contact).count() == 2


def test_one_click_unsubscribe_withdraws_e_mail_consent(sent_email) -> None:  # type: ignore[no-untyped-def]
    delivery = sent_email()
    url = reverse("cadences:unsubscribe", args=[tokens.make("unsubscribe", delivery.pk)])
    response = public_client().post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert dict(delivery.contact.consents.values_list("channel", "status")) == {
        "email": "withdrawn",
        "sms": "granted",
    }
    assert ConsentChange.objects.get(contact=delivery.contact).source == "one-click"


@pytest.mark.parametrize("name", ["cadences:unsubscribe", "cadences:survey"])
def test_a_tampered_or_borrowed_token_is_not_found(sent_email, name: str) -> None:  # type: ignore[no-untyped-def]
    delivery = sent_email()
    purpose = name.split(":")[1]
    good = tokens.make(purpose, delivery.pk)
    tampered = good[:-2] + ("xy" if not good.endswith("xy") else "zz")
    borrowed = tokens.make("open", delivery.pk)  # a valid token for another purpose
    forged = good.replace(str(delivery.pk), str(delivery.pk + 1), 1)
    for token in (tampered, borrowed, forged):
        assert public_client().get(reverse(name, args=[token])).status_code == 404
        assert public_client().post(reverse(name, args=[token]), {"score": "3"}).status_code == 404
    assert delivery.contact.consents.filter(status="withdrawn").count() == 0
    assert not Event.objects.exists()


def test_the_survey_asks_for_0_to_10_and_records_a_detractor(sent_email) -> None:  # type: ignore[no-untyped-def]
    delivery = sent_email(language="en")
    url = reverse("cadences:survey", args=[tokens.make("survey", delivery.pk)])
    page = public_client().get(url).content.decode()
    assert re.findall(r'name="score" value="(\d+)"', page) == [str(n) for n in range(11)]
    assert "How likely are you to recommend" in text_of(page)
    response = public_client().post(url, {"score": "3", "comment": "Entrega atrasou."})
    assert response.status_code == 200
    assert "Thank you!" in text_of(response.content.decode())
    answer = Event.objects.get(name="nps_answered")
    assert answer.contact_id == delivery.contact_id
    assert answer.properties == {
        "regua": "boas-vindas",
        "step": "welcome",
        "score": 3,
        "category": "detractor",
        "comment": "Entrega atrasou.",
    }


def test_a_detractor_gets_a_call_from_the_owner_by_the_next_business_day(sent_email, alice) -> None:  # type: ignore[no-untyped-def]
    from regua.agenda.models import Task

    # given Thursday 19 November 2026: Friday the 20th is Black Awareness Day (national)
    with time_machine.travel(datetime(2026, 11, 19, 15, 0, tzinfo=UTC), tick=False):
        delivery = sent_email(language="en", owner=alice)
        url = reverse("cadences:survey", args=[tokens.make("survey", delivery.pk)])
        # when the customer answers 4, then posts the link again with 2
        public_client().post(url, {"score": "4", "comment": "Entrega atrasou."})
        public_client().post(url, {"score": "2"})
    # then one open call for Alice, due Monday the 23rd, about the one answer kept
    call = Task.objects.get(contact=delivery.contact)
    assert (call.owner, call.kind, call.source, call.priority) == (alice, "call", "nps", 3)
    assert call.due_on == date(2026, 11, 23)
    assert "4" in call.notes and "Entrega atrasou." in call.notes
    assert "2" not in call.notes
    assert Event.objects.filter(name="nps_answered").count() == 1


def test_a_promoter_gets_a_referral_invitation_event(sent_email) -> None:  # type: ignore[no-untyped-def]
    from regua.agenda.models import Task
    from regua.loyalty.models import ReferralCode

    delivery = sent_email(language="en")
    url = reverse("cadences:survey", args=[tokens.make("survey", delivery.pk)])
    public_client().post(url, {"score": "10"})
    invitation = Event.objects.get(name="referral_invited", contact=delivery.contact)
    code = ReferralCode.objects.get(contact=delivery.contact).code
    assert invitation.properties["referral_code"] == code
    assert invitation.properties["score"] == 10
    assert not Task.objects.exists()


@pytest.mark.parametrize("score", ["11", "-1", "", "sete"])
def test_a_score_out_of_range_is_refused(sent_email, score: str) -> None:  # type: ignore[no-untyped-def]
    delivery = sent_email(language="en")
    url = reverse("cadences:survey", args=[tokens.make("survey", delivery.pk)])
    response = public_client().post(url, {"score": score})
    assert response.status_code == 200
    assert "Choose a score from 0 to 10." in text_of(response.content.decode())
    assert not Event.objects.filter(name="nps_answered").exists()


def test_the_open_pixel_records_the_first_open_only(sent_email) -> None:  # type: ignore[no-untyped-def]
    delivery = sent_email()
    url = reverse("cadences:open", args=[tokens.make("open", delivery.pk)])
    first = public_client().get(url)
    assert first.status_code == 200
    assert first["Content-Type"] == "image/gif" and first.content.startswith(b"GIF8")
    opened_at = Delivery.objects.get(pk=delivery.pk).opened_at
    assert opened_at is not None
    public_client().get(url)
    assert Delivery.objects.get(pk=delivery.pk).opened_at == opened_at
    assert Event.objects.filter(name="email_opened").count() == 1
    # a bad token still gets the image (the mail client shows nothing broken), and no open
    other = sent_email()
    bad = public_client().get(reverse("cadences:open", args=["x" + tokens.make("open", other.pk)]))
    assert bad.status_code == 200 and bad["Content-Type"] == "image/gif"
    assert Delivery.objects.get(pk=other.pk).opened_at is None


def test_a_click_redirects_to_the_link_and_is_recorded(sent_email) -> None:  # type: ignore[no-untyped-def]
    delivery = sent_email()
    target = "https://loja.example/produtos/cafe?cor=azul&tam=m"
    link = tokens.click_url(delivery.pk, target, "")
    response = public_client().get(link)
    assert response.status_code == 302 and response["Location"] == target
    delivery.refresh_from_db()
    assert delivery.clicked_at is not None and delivery.opened_at is not None  # a click is an open
    assert Event.objects.get(name="email_clicked").properties["url"] == target
    # the same token pointed at another address is refused
    token = link.split("/t/c/")[1].split("/")[0]
    elsewhere = reverse("cadences:click", args=[token]) + "?u=https://phishing.example/"
    assert public_client().get(elsewhere).status_code == 404
    script = reverse("cadences:click", args=[token]) + "?u=javascript:alert(1)"
    assert public_client().get(script).status_code == 404
    assert Event.objects.filter(name="email_clicked").count() == 1

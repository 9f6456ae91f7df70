"""NPS that closes the loop: an answer amended within the edit window counts once, the
loop follows the category it lands in, and the NPS report by period, segment and régua."""

import html
import re
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.staticfiles import finders
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from regua.agenda.models import Task
from regua.analytics import kpis
from regua.analytics.nps import NpsCounts, nps_report
from regua.cadences import tokens
from regua.cadences.models import Cadence, Delivery, DeliveryStatus, Enrollment
from regua.cadences.surveys import Outcome, survey_answer
from regua.cadences.yaml_io import cadence_import
from regua.customers.models import Contact
from regua.events.ingest import fingerprint
from regua.events.models import Event
from regua.segments.models import Segment
from regua.users.models import User

pytestmark = pytest.mark.django_db

SP = ZoneInfo("America/Sao_Paulo")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SP)  # a Monday, 10:00 in São Paulo

POS_VENDA = """
key: pos-venda
name: Pós-venda
objective: loyalty
trigger: {kind: event, event: purchase}
steps:
  - key: nps
    name: Pesquisa NPS
    offset: 3mo
    channel: email
    message:
      pt-br: {subject: "Uma pergunta", body: "[Responder]({{ links.survey }})"}
"""
ONBOARDING = POS_VENDA.replace("key: pos-venda", "key: onboarding-saas").replace(
    "name: Pós-venda", "name: Onboarding SaaS"
)


# Helpers ---------------------------------------------------------------------------------


@pytest.fixture
def survey_link(make_contact) -> Callable[..., tuple[Delivery, str]]:  # type: ignore[no-untyped-def]
    """A survey e-mail sent to a new contact: the delivery and its public link."""

    def make(**contact_fields: Any) -> tuple[Delivery, str]:
        cadence = Cadence.objects.filter(key="pos-venda").first() or cadence_import(POS_VENDA)[0]
        contact = make_contact(**contact_fields)
        enrollment = Enrollment.objects.create(
            cadence=cadence, contact=contact, occurrence=f"t{contact.pk}", entered_at=T0
        )
        step = cadence.steps.get(key="nps")
        delivery = Delivery.objects.create(
            enrollment=enrollment,
            step=step,
            cadence=cadence,
            contact=contact,
            channel=step.channel,
            status=DeliveryStatus.SENT,
            due_at=T0,
            sent_at=T0,
        )
        return delivery, reverse("cadences:survey", args=[tokens.make("survey", delivery.pk)])

    return make


def public_client() -> Client:
    # As a browser following the e-mail's link: no session, CSRF checks on.
    return Client(enforce_csrf_checks=True)


def answer_at(at: datetime, url: str, score: int | str, comment: str = "") -> str:
    with time_machine.travel(at, tick=False):
        response = public_client().post(url, {"score": str(score), "comment": comment})
    assert response.status_code == 200
    return text_of(response.content.decode())


def open_at(at: datetime, url: str) -> str:
    with time_machine.travel(at, tick=False):
        response = public_client().get(url)
    assert response.status_code == 200
    return response.content.decode()


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def checked_score(page: str) -> str | None:
    found = re.search(r'name="score" value="(\d+)" required checked', page)
    return found.group(1) if found else None


def nps_kpi(day: date) -> dict[str, Any]:
    """The NPS parts the dashboard shows for one day."""
    figures = {k.key: k for k in kpis.kpis(start=day, end=day)}
    return figures["nps"].parts


def answers_of(contact: Contact) -> list[Event]:
    return list(Event.objects.filter(contact=contact, name="nps_answered"))


# Editing within the window -------------------------------------------------------------


def test_an_answer_changed_within_the_window_is_amended_and_counts_once(survey_link) -> None:  # type: ignore[no-untyped-def]
    # given a customer who answered 6 with a comment
    delivery, url = survey_link(language="en")
    assert "Thank you!" in answer_at(T0, url, 6, "A entrega atrasou.")
    assert nps_kpi(T0.date()) == {"answers": 1, "promoters": 0, "detractors": 1}
    # when they open the link again three hours later
    page = open_at(T0 + timedelta(hours=3), url)
    # then the form shows their answer and comment, and until when it may change
    assert checked_score(page) == "6"
    assert ">A entrega atrasou.</textarea>" in page
    assert "You answered 6. You can change your answer until" in text_of(page)
    # when they change it to 9 just before the window closes
    edited_at = T0 + timedelta(hours=23, minutes=59)
    assert "Your answer was updated." in answer_at(edited_at, url, 9, "Resolveram rápido.")
    # then the one answer changed: same event, same time, new score and comment
    (answer,) = answers_of(delivery.contact)
    assert answer.occurred_at == T0
    assert answer.properties == {
        "regua": "pos-venda",
        "step": "nps",
        "score": 9,
        "category": "promoter",
        "comment": "Resolveram rápido.",
        "edited_at": answer.properties["edited_at"],
    }
    assert datetime.fromisoformat(answer.properties["edited_at"]) == edited_at
    # and the NPS counts it once, as the promoter it now is
    assert nps_kpi(T0.date()) == {"answers": 1, "promoters": 1, "detractors": 0}
    assert nps_report(start=T0.date(), end=T0.date()).overall == NpsCounts(1, 1, 0)
    # and the promoter is invited to refer a friend, once, however often they edit
    answer_at(edited_at + timedelta(seconds=10), url, 10)
    assert Event.objects.filter(contact=delivery.contact, name="referral_invited").count() == 1
    assert len(answers_of(delivery.contact)) == 1


def test_after_the_window_the_answer_stands(survey_link) -> None:  # type: ignore[no-untyped-def]
    # given an answer of 8 a day and a minute ago
    delivery, url = survey_link(language="en")
    answer_at(T0, url, 8, "Bom.")
    later = T0 + timedelta(hours=24, minutes=1)
    # when the customer opens the link again
    page = text_of(open_at(later, url))
    # then the page says so, with no form to change it
    assert "Your answer was recorded and can no longer be changed." in page
    assert "Your score: 8." in page
    assert 'name="score"' not in open_at(later, url)
    # and a post (an old tab) changes nothing and calls nobody
    assert "can no longer be changed" in answer_at(later, url, 2, "Mudei de ideia.")
    (answer,) = answers_of(delivery.contact)
    assert (answer.properties["score"], answer.properties["comment"]) == (8, "Bom.")
    assert "edited_at" not in answer.properties
    assert not Task.objects.exists()


def test_the_window_follows_the_setting_and_speaks_portuguese(survey_link, settings) -> None:  # type: ignore[no-untyped-def]
    settings.REGUA_NPS_EDIT_HOURS = 2
    _delivery, url = survey_link(language="pt-br")
    answer_at(T0, url, 7)
    assert checked_score(open_at(T0 + timedelta(hours=1, minutes=59), url)) == "7"
    closed = open_at(T0 + timedelta(hours=2, minutes=1), url)
    assert '<html lang="pt-br">' in closed
    assert 'data-testid="closed"' in closed and 'name="score"' not in closed


def test_a_change_into_detractor_creates_the_call_once(survey_link, alice: User) -> None:  # type: ignore[no-untyped-def]
    # given a promoter's answer
    delivery, url = survey_link(language="en", owner=alice)
    answer_at(T0, url, 9)
    assert not Task.objects.exists()
    # when they change it to 3, then 2, then 8, then 4 within the window
    answer_at(T0 + timedelta(minutes=5), url, 3, "Pensando melhor, o suporte demorou.")
    call = Task.objects.get(contact=delivery.contact)
    assert (call.owner, call.source, call.status) == (alice, "nps", "open")
    assert "3" in call.notes and "o suporte demorou" in call.notes
    answer_at(T0 + timedelta(minutes=6), url, 2)
    answer_at(T0 + timedelta(minutes=7), url, 8)
    answer_at(T0 + timedelta(minutes=8), url, 4)
    # then one call, one answer, and the answer is the last one given
    assert Task.objects.filter(contact=delivery.contact).count() == 1
    (answer,) = answers_of(delivery.contact)
    assert (answer.properties["score"], answer.properties["category"]) == (4, "detractor")
    assert nps_kpi(T0.date()) == {"answers": 1, "promoters": 0, "detractors": 1}


def test_a_bad_score_on_an_edit_keeps_the_answer(survey_link) -> None:  # type: ignore[no-untyped-def]
    delivery, url = survey_link(language="en")
    answer_at(T0, url, 5, "Caro.")
    page = answer_at(T0 + timedelta(minutes=1), url, "onze")
    assert "Choose a score from 0 to 10." in page
    (answer,) = answers_of(delivery.contact)
    assert answer.properties["score"] == 5 and "edited_at" not in answer.properties


@pytest.mark.parametrize(
    ("language", "low", "high"),
    [
        ("pt-br", "Nada provável", "Extremamente provável"),
        ("en", "Not at all likely", "Extremely likely"),
    ],
)
def test_the_survey_page_is_made_for_a_phone_and_needs_no_javascript(  # type: ignore[no-untyped-def]
    survey_link, language: str, low: str, high: str
) -> None:
    _delivery, url = survey_link(language=language)
    page = open_at(T0, url)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert low in text_of(page) and high in text_of(page)
    assert "<script" not in page  # a plain form: radio buttons and a submit button
    assert re.findall(r'type="radio" name="score" value="(\d+)"', page) == [
        str(n) for n in range(11)
    ]
    # two rows of thumb-sized buttons on a narrow screen (the page's stylesheet: the
    # Content-Security-Policy allows no inline style)
    (sheet,) = re.findall(r'<link rel="stylesheet" href="/static/([^"]+)">', page)
    css = Path(finders.find(sheet)).read_text()
    assert "@media (max-width:560px)" in css and "repeat(6,minmax(0,1fr))" in css
    assert "min-height:2.75rem" in css


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite's IMMEDIATE transactions serialise writers; the race needs PostgreSQL",
)
def test_two_answers_posted_at_once_make_one_event_and_one_call(survey_link) -> None:  # type: ignore[no-untyped-def]
    # given a link answered by two requests at the same moment (a double tap), a
    # millisecond apart so that the event's identity alone would not make them one
    delivery, _url = survey_link(language="en")
    delivery = Delivery.objects.select_related("contact", "cadence", "step").get(pk=delivery.pk)
    start = threading.Barrier(2)
    outcomes: list[Outcome] = []

    def post(score: int, at: datetime) -> None:
        try:
            start.wait()
            outcomes.append(survey_answer(delivery=delivery, score=score, comment="", now=at))
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=post, args=(2, T0)),
        threading.Thread(target=post, args=(3, T0 + timedelta(milliseconds=1))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then one answer (the other one amends it) and one call
    assert sorted(outcomes) == [Outcome.EDITED, Outcome.RECORDED]
    assert len(answers_of(delivery.contact)) == 1
    assert Task.objects.filter(contact=delivery.contact).count() == 1


# The report ------------------------------------------------------------------------------

END = date(2026, 6, 30)
NOW = datetime(2026, 6, 30, 15, 0, tzinfo=SP)


def nps_event(
    contact: Contact, at: datetime, score: int, regua: str | None, comment: str = ""
) -> None:
    properties: dict[str, Any] = {"score": score, "category": kpis.nps_category(score)}
    if regua:
        properties |= {"regua": regua, "step": "nps"}
    if comment:
        properties["comment"] = comment
    Event.objects.create(
        contact=contact,
        name="nps_answered",
        occurred_at=at,
        properties=properties,
        fingerprint=fingerprint(f"{contact.pk}:{at.isoformat()}", {})[0],
        source="regua" if regua else "api",
    )


@pytest.fixture
def answered(make_contact, alice: User) -> dict[str, Contact]:
    """Eleven answers in May and June 2026, in two réguas and outside one, from Recife
    and Curitiba, plus one too old for the last 90 days.

    pós-venda   10 9 9 7 3   → 3 promoters, 1 passive, 1 detractor: NPS 40
    onboarding  10 6 5 0     → 1 promoter, 3 detractors: NPS −50
    no régua    9 8          → 1 promoter, 1 passive: NPS 50
    all         11 answers, 5 promoters, 2 passives, 4 detractors: NPS 9.1
    Recife (the odd rows): pós-venda 9 7, onboarding 10 5, no régua 9 → NPS 40
    """
    cadence_import(POS_VENDA)
    cadence_import(ONBOARDING)
    rows = [
        ("pos-venda", 10, datetime(2026, 5, 4, 9, 0, tzinfo=SP), ""),
        ("pos-venda", 9, datetime(2026, 5, 12, 9, 0, tzinfo=SP), "Atendimento ótimo!"),
        ("pos-venda", 9, datetime(2026, 6, 2, 9, 0, tzinfo=SP), ""),
        ("pos-venda", 7, datetime(2026, 6, 3, 9, 0, tzinfo=SP), ""),
        ("pos-venda", 3, datetime(2026, 6, 20, 9, 0, tzinfo=SP), "Produto chegou quebrado."),
        ("onboarding-saas", 10, datetime(2026, 5, 20, 9, 0, tzinfo=SP), ""),
        ("onboarding-saas", 6, datetime(2026, 5, 21, 9, 0, tzinfo=SP), ""),
        ("onboarding-saas", 5, datetime(2026, 6, 10, 9, 0, tzinfo=SP), ""),
        ("onboarding-saas", 0, datetime(2026, 6, 28, 9, 0, tzinfo=SP), "Não consegui usar."),
        (None, 9, datetime(2026, 6, 5, 9, 0, tzinfo=SP), ""),
        (None, 8, datetime(2026, 6, 6, 9, 0, tzinfo=SP), ""),
    ]
    contacts = {}
    for n, (regua, score, at, comment) in enumerate(rows):
        city = "Recife" if n % 2 else "Curitiba"
        contact = make_contact(
            first_name=f"Cliente {n}", city=city, owner=alice if n in (1, 4) else None
        )
        nps_event(contact, at, score, regua, comment)
        contacts[f"{regua}:{score}:{n}"] = contact
    old = make_contact(first_name="Antigo", city="Recife")
    nps_event(old, datetime(2026, 3, 1, 9, 0, tzinfo=SP), 0, "pos-venda", "Velho demais.")
    return contacts


def report_page(client: Client, **params: Any) -> Any:
    client.cookies["django_language"] = "en"
    with time_machine.travel(NOW, tick=False):
        response = client.get(reverse("analytics:nps"), params)
    assert response.status_code == 200
    return response


def month_rows(report: Any) -> list[tuple[date, int, int, int]]:
    return [
        (row.month, row.counts.answers, row.counts.promoters, row.counts.detractors)
        for row in report.months
    ]


def test_the_report_shows_nps_by_month_and_regua_for_the_last_90_days(  # type: ignore[no-untyped-def]
    client_for, manager: User, answered
) -> None:
    response = report_page(client_for(manager))
    report = response.context["report"]
    # the default period: the 90 days up to today, so March's answer is left out
    assert (report.start, report.end) == (END - timedelta(days=89), END)
    assert report.overall == NpsCounts(answers=11, promoters=5, detractors=4)
    assert report.overall.passives == 2
    assert round(report.overall.nps, 1) == 9.1
    assert month_rows(report) == [(date(2026, 5, 1), 4, 3, 1), (date(2026, 6, 1), 7, 2, 3)]
    assert [(r.key, r.name, r.counts.nps) for r in report.reguas] == [
        ("pos-venda", "Pós-venda", 40.0),
        ("onboarding-saas", "Onboarding SaaS", -50.0),
        (None, "", 50.0),
    ]
    # the page: the figures, the formula with the numbers, links to each régua
    page = response.content.decode()
    text = text_of(page)
    assert "% promoters (9–10) − % detractors (0–6)" in text
    assert "(5 − 4) ÷ 11 × 100 = 9.1" in text
    assert f'href="{reverse("cadences:detail", args=["pos-venda"])}">Pós-venda</a>' in page
    assert (
        f'href="{reverse("cadences:detail", args=["onboarding-saas"])}">Onboarding SaaS</a>' in page
    )
    assert "Outside a régua" in text
    # the latest comments first, each with its score and a link to the contact
    assert [(v.comment, v.score) for v in report.verbatims] == [
        ("Não consegui usar.", 0),
        ("Produto chegou quebrado.", 3),
        ("Atendimento ótimo!", 9),
    ]
    first = report.verbatims[0]
    assert f'href="{reverse("customers:contact_detail", args=[first.contact_id])}"' in page
    assert first.regua == "Onboarding SaaS"


def test_the_report_follows_the_period_and_the_segment(  # type: ignore[no-untyped-def]
    client_for, manager: User, answered
) -> None:
    recife = Segment.objects.create(
        name="Recife",
        rule={"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "Recife"}]},
    )
    client = client_for(manager)
    # Recife: pós-venda 9 and 7, onboarding 10 and 5, no régua 9 → (3 − 1) ÷ 5 = 40
    report = report_page(client, segment=recife.pk).context["report"]
    assert report.overall == NpsCounts(answers=5, promoters=3, detractors=1)
    assert [(r.key, r.counts.answers, r.counts.nps) for r in report.reguas] == [
        ("onboarding-saas", 2, 0.0),
        ("pos-venda", 2, 50.0),
        (None, 1, 100.0),
    ]
    assert "(3 − 1) ÷ 5 × 100 = 40.0" in text_of(
        report_page(client, segment=recife.pk).content.decode()
    )
    # a period that reaches back to March: the old answer counts
    march = report_page(client, start="2026-03-01", end="2026-05-31").context["report"]
    assert march.overall == NpsCounts(answers=5, promoters=3, detractors=2)
    assert [(r.key, r.counts.answers) for r in march.reguas] == [
        ("pos-venda", 3),
        ("onboarding-saas", 2),
    ]
    assert march.verbatims[-1].comment == "Velho demais."


def test_an_agent_sees_the_nps_of_their_own_portfolio(  # type: ignore[no-untyped-def]
    client_for, alice: User, answered, settings
) -> None:
    settings.PORTFOLIO_VISIBILITY = "own"
    report = report_page(client_for(alice)).context["report"]
    # Alice owns the answers 9 (with a comment) and 3 of the pós-venda
    assert report.overall == NpsCounts(answers=2, promoters=1, detractors=1)
    assert [v.comment for v in report.verbatims] == [
        "Produto chegou quebrado.",
        "Atendimento ótimo!",
    ]


def test_the_report_reads_in_a_few_queries_however_many_answers(  # type: ignore[no-untyped-def]
    client_for, manager: User, answered, make_contact
) -> None:
    client = client_for(manager)
    report_page(client)  # warm the session and the user
    with CaptureQueriesContext(connection) as few:
        report_page(client)
    for n in range(30):
        nps_event(make_contact(), NOW - timedelta(days=n), n % 11, "pos-venda", f"Comentário {n}")
    with CaptureQueriesContext(connection) as many:
        page = report_page(client)
    assert page.context["report"].overall.answers == 41
    assert len(many) == len(few) <= 12


def test_the_report_needs_a_login(answered) -> None:  # type: ignore[no-untyped-def]
    response = Client().get(reverse("analytics:nps"))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_nps_is_the_share_of_promoters_minus_the_share_of_detractors() -> None:
    assert NpsCounts(answers=11, promoters=5, detractors=4).nps == pytest.approx(100 / 11)
    assert NpsCounts(answers=4, promoters=4, detractors=0).nps == 100
    assert NpsCounts(answers=3, promoters=0, detractors=3).nps == -100
    assert NpsCounts(answers=10, promoters=3, detractors=3).nps == 0
    assert NpsCounts(answers=0, promoters=0, detractors=0).nps is None
    counts = NpsCounts(answers=20, promoters=9, detractors=4)
    assert counts.nps == pytest.approx(counts.promoter_share - counts.detractor_share) == 25
    assert counts.passives == 7
    assert [kpis.nps_category(s) for s in (0, 6, 7, 8, 9, 10)] == [
        "detractor",
        "detractor",
        "passive",
        "passive",
        "promoter",
        "promoter",
    ]


def test_the_dashboards_nps_card_links_to_the_report(  # type: ignore[no-untyped-def]
    client_for, manager: User, answered
) -> None:
    client = client_for(manager)
    client.cookies["django_language"] = "en"
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("analytics:dashboard"), {"start": "2026-05-01"}).content
    link = re.search(rb'href="([^"]+)" data-testid="nps-report-link"', page)
    assert link is not None
    assert html.unescape(link.group(1).decode()) == f"{reverse('analytics:nps')}?start=2026-05-01"

"""The service desk: tickets, SLA clocks in business time, warnings and breaches,
replies by e-mail, inbound threading, templates, ratings, the public form, the API,
the report and who sees what."""

import base64
import json
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from test_sending_smtp import smtp  # noqa: F401  (the loopback SMTP server)

from regua.agenda.models import Task, TaskSource
from regua.analytics import kpis
from regua.customers.models import Contact
from regua.desk import sla
from regua.desk.forms import ContactForm
from regua.desk.mail import rating_url, replies_send
from regua.desk.models import (
    BusinessCalendar,
    Message,
    MessageKind,
    ReplyTemplate,
    SendStatus,
    SlaPolicy,
    Ticket,
    TicketKind,
    TicketStatus,
)
from regua.desk.replies import reply_warnings, template_render
from regua.desk.reports import sla_report
from regua.desk.services import (
    DeskError,
    File,
    desk_tick,
    ticket_customer_message,
    ticket_open,
    ticket_rate,
    ticket_reply,
    ticket_update,
)
from regua.events.models import Event
from regua.lib.business_time import business_between
from regua.segments.models import Segment
from regua.users.models import User

SP = ZoneInfo("America/Sao_Paulo")


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"  # attachments land in the test's own folder


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SP)


@pytest.fixture
def policy(db: None) -> SlaPolicy:
    """The shipped rule: Mon–Fri 08–12 and 13–18, national holidays closed, a first
    response within 10 business hours, resolution within 40, a warning 1 hour before."""
    SlaPolicy.objects.all().delete()
    calendar = BusinessCalendar.objects.create(
        name="Loja",
        time_zone="America/Sao_Paulo",
        hours={
            **dict.fromkeys(["mon", "tue", "wed", "thu", "fri"], "08:00-12:00, 13:00-18:00"),
            "sat": "",
            "sun": "",
        },
    )
    return SlaPolicy.objects.create(
        name="Padrão",
        calendar=calendar,
        first_response_minutes=600,
        resolution_minutes=2400,
        warn_before_minutes=60,
    )


def _open(contact: Contact, at: datetime, **fields: Any) -> Ticket:
    fields.setdefault("subject", "Pedido atrasado")
    fields.setdefault("body", "Meu pedido ainda não chegou.")
    return ticket_open(contact=contact, now=at, **fields)


# -- SLA clocks -------------------------------------------------------------------------


def test_the_first_response_clock_skips_the_night_the_holiday_and_the_weekend(
    policy, make_contact
) -> None:
    # given: a ticket on Thursday 19/11/2026 at 16:00; Friday 20/11 is Black Awareness Day
    ticket = _open(make_contact(), local(2026, 11, 19, 16, 0))
    # then: Thu 16–18 (2 h), Mon 23/11 08–12 (4 h) and 13–17 (4 h): due Monday at 17:00
    assert ticket.first_response_due == local(2026, 11, 23, 17, 0)
    assert ticket.due_at == ticket.first_response_due
    assert ticket.warn_at == local(2026, 11, 23, 16, 0)
    # and resolution in 40 business hours: Thu 2 + Mon..Thu 4×9 = 38, Fri 27/11 10:00
    assert ticket.resolution_due == local(2026, 11, 27, 10, 0)


def test_a_ticket_opened_at_night_starts_counting_in_the_morning(policy, make_contact) -> None:
    ticket = _open(make_contact(), local(2026, 11, 24, 22, 30))
    # Wed 25/11: 08–12 and 13–18 is 9 h; the 10th hour ends Thursday at 09:00
    assert ticket.first_response_due == local(2026, 11, 26, 9, 0)


def test_waiting_on_the_customer_pauses_the_clock(policy, make_contact) -> None:
    agent = User.objects.create_user("beatriz@loja.com.br", "x")
    ticket = _open(make_contact(), local(2026, 11, 23, 9, 0))
    before = ticket.resolution_due
    # when: the agent answers at 10:00 and waits for the customer
    ticket_reply(
        ticket,
        by=agent,
        body="Pode enviar uma foto?",
        status=TicketStatus.WAITING,
        now=local(2026, 11, 23, 10, 0),
    )
    ticket.refresh_from_db()
    assert ticket.first_response_time == timedelta(hours=1)
    assert ticket.first_response_met is True
    assert ticket.status == TicketStatus.WAITING and ticket.due_at is None
    # and: the customer answers the next day at 10:00 (9 business hours later)
    ticket_customer_message(ticket, body="Segue a foto.", now=local(2026, 11, 24, 10, 0))
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.paused == timedelta(hours=9)
    calendar = sla.calendar_of(policy.calendar, ticket.created_at)
    assert business_between(calendar, before, ticket.resolution_due) == timedelta(hours=9)
    assert ticket.due_at == ticket.resolution_due


def test_a_custom_closed_day_stops_the_clock(policy, make_contact) -> None:
    policy.calendar.closed_days.create(day=datetime(2026, 11, 24).date(), name="Inventário")
    policy.calendar.save()  # a new version: the cached calendar is rebuilt
    ticket = _open(make_contact(), local(2026, 11, 23, 17, 0))
    # Mon 17–18 (1 h), Tue closed, Wed 08–12 + 13–18 (9 h): due Wednesday 18:00
    assert ticket.first_response_due == local(2026, 11, 25, 18, 0)


def test_the_policy_is_chosen_by_kind_priority_and_position(policy, make_contact) -> None:
    urgent = SlaPolicy.objects.create(
        name="Urgente",
        position=1,
        priority=4,
        calendar=policy.calendar,
        first_response_minutes=120,
        warn_before_minutes=30,
    )
    ticket = _open(make_contact(), local(2026, 11, 23, 9, 0), priority=4)
    normal = _open(make_contact(), local(2026, 11, 23, 9, 0), priority=2)
    assert ticket.policy == urgent
    assert ticket.first_response_due == local(2026, 11, 23, 11, 0)
    assert normal.policy == policy


def test_a_broken_calendar_is_refused_when_saved(db) -> None:
    calendar = BusinessCalendar(name="Errado", hours={"mon": "18:00-08:00"})
    with pytest.raises(Exception) as error:
        calendar.full_clean()
    assert "hours" in str(error.value)


# -- Warnings and breaches --------------------------------------------------------------


def test_the_worker_warns_once_before_the_breach_and_records_it(policy, make_contact) -> None:
    agent = User.objects.create_user("carlos@loja.com.br", "x", first_name="Carlos")
    ticket = _open(make_contact(), local(2026, 11, 19, 16, 0), assignee=agent)
    # before the warning instant: nothing
    assert desk_tick(now=local(2026, 11, 23, 15, 59)).warned == 0
    with time_machine.travel(local(2026, 11, 23, 16, 5), tick=False):
        summary = desk_tick(now=timezone.now())
        again = desk_tick(now=timezone.now())
    assert (summary.warned, again.warned) == (1, 0)
    task = Task.objects.get(source=TaskSource.SLA)
    assert task.owner == agent and task.contact == ticket.contact
    assert f"#{ticket.pk}" in task.title
    assert [m.to for m in mail.outbox] == [["carlos@loja.com.br"]]
    # when: the deadline passes without an answer
    with time_machine.travel(local(2026, 11, 23, 17, 1), tick=False):
        assert desk_tick(now=timezone.now()).breached == 1
        assert desk_tick(now=timezone.now()).breached == 0
    ticket.refresh_from_db()
    assert ticket.first_response_breached_at == local(2026, 11, 23, 17, 0)
    # then: a late answer is recorded as missed
    ticket_reply(ticket, by=agent, body="Desculpe a demora.", now=local(2026, 11, 23, 17, 30))
    ticket.refresh_from_db()
    assert ticket.first_response_met is False
    assert ticket.first_response_time == timedelta(hours=10, minutes=30)


def test_a_paused_ticket_is_never_warned_nor_breached(policy, make_contact) -> None:
    agent = User.objects.create_user("carlos@loja.com.br", "x")
    ticket = _open(make_contact(), local(2026, 11, 23, 9, 0))
    ticket_reply(
        ticket,
        by=agent,
        body="Aguardo sua foto.",
        status=TicketStatus.WAITING,
        now=local(2026, 11, 23, 9, 30),
    )
    summary = desk_tick(now=local(2026, 12, 31, 12, 0))
    assert (summary.warned, summary.breached) == (0, 0)


# -- Replies and e-mail -----------------------------------------------------------------


def test_a_reply_goes_out_by_e_mail_with_the_threading_headers(
    policy, make_contact, settings
) -> None:
    settings.REGUA_DESK_REPLY_ADDRESS = "suporte@loja.com.br"
    agent = User.objects.create_user("carlos@loja.com.br", "x")
    ticket = _open(
        make_contact(email="lia@exemplo.com.br"), timezone.now(), message_id="<abc@cliente>"
    )
    reply = ticket_reply(ticket, by=agent, body="Olá! Já verificamos.")
    assert reply.send_status == SendStatus.PENDING
    assert replies_send(now=timezone.now()) == (1, 0)
    assert replies_send(now=timezone.now()) == (0, 0)  # never twice
    sent = mail.outbox[-1]
    assert sent.to == ["lia@exemplo.com.br"]
    assert sent.subject == f"[#{ticket.pk}] Pedido atrasado"
    assert sent.extra_headers["Reply-To"] == f"suporte+t{ticket.pk}.{ticket.mail_key}@loja.com.br"
    assert sent.extra_headers["In-Reply-To"] == "<abc@cliente>"
    reply.refresh_from_db()
    assert reply.send_status == SendStatus.SENT and reply.message_id.startswith(
        f"<desk.{ticket.pk}."
    )


def test_a_reply_with_an_attachment_goes_through_a_real_smtp_conversation(
    policy,
    make_contact,
    smtp,  # noqa: F811  (the fixture imported above)
) -> None:
    agent = User.objects.create_user("carlos@loja.com.br", "x")
    ticket = _open(make_contact(email="rui@exemplo.com.br"), timezone.now())
    ticket_reply(
        ticket,
        by=agent,
        body="Segue a segunda via do boleto.",
        files=[File("boleto.pdf", b"%PDF-1.4 teste", "application/pdf")],
    )
    ticket_reply(
        ticket, by=agent, body="E o código de rastreio: BR123.", status=TicketStatus.RESOLVED
    )
    assert replies_send(now=timezone.now()) == (2, 0)
    first, second = smtp.sink.messages
    assert [a.get_filename() for a in first.iter_attachments()] == ["boleto.pdf"]
    assert f"[#{ticket.pk}]" in str(second["Subject"])
    text = second.get_body(("plain",)).get_content()
    assert "/support/rating/" in text  # the resolution e-mail asks for a rating


def test_a_customer_without_e_mail_gets_the_reply_recorded_not_queued(policy, make_contact) -> None:
    agent = User.objects.create_user("carlos@loja.com.br", "x")
    ticket = _open(
        make_contact(email=None, phone="+5511988887777"), timezone.now(), channel="phone"
    )
    reply = ticket_reply(ticket, by=agent, body="Liguei e resolvi.")
    assert reply.send_status == "" and reply.error
    ticket.refresh_from_db()
    assert ticket.first_responded_at is not None


def test_bad_input_is_refused_with_its_field(policy, make_contact) -> None:
    contact = make_contact()
    with pytest.raises(DeskError) as error:
        ticket_open(contact=contact, subject=" ", body="x")
    assert error.value.field == "subject"
    with pytest.raises(DeskError) as error:
        ticket_open(contact=contact, subject="x", body="y", files=[File("a", b"1")] * 6)
    assert error.value.field == "files"
    assert Ticket.objects.count() == 0


# -- Inbound e-mail ---------------------------------------------------------------------


def _postmark(client: Client, raw: EmailMessage, recipient: str = "suporte@loja.com.br") -> Any:
    payload = {"RawEmail": raw.as_string(), "OriginalRecipient": recipient, "MessageID": "pm-1"}
    auth = base64.b64encode(b"postmark:segredo").decode()
    return client.post(
        "/anymail/postmark/inbound/",
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {auth}",
    )


def _email(sender: str, subject: str, text: str, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = headers.pop("to", "suporte@loja.com.br")
    message["Subject"] = subject
    message["Message-ID"] = headers.pop("message_id", "<m1@cliente.com.br>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


@pytest.fixture
def inbound(settings: Any, policy: SlaPolicy) -> Client:
    settings.ANYMAIL = {"WEBHOOK_SECRET": "postmark:segredo"}
    settings.REGUA_DESK_REPLY_ADDRESS = "suporte@loja.com.br"
    return Client()


def test_an_inbound_e_mail_opens_a_ticket_for_a_new_customer(inbound) -> None:
    response = _postmark(
        inbound,
        _email("Joana Prado <joana@cliente.com.br>", "Troca de tamanho", "Quero trocar por M."),
    )
    assert response.status_code == 200
    ticket = Ticket.objects.get()
    assert ticket.channel == "email" and ticket.subject == "Troca de tamanho"
    assert (ticket.contact.email, ticket.contact.first_name) == ("joana@cliente.com.br", "Joana")
    assert ticket.messages.get().message_id == "<m1@cliente.com.br>"


def test_inbound_replies_thread_by_header_by_address_and_by_subject(inbound, make_contact) -> None:
    agent = User.objects.create_user("carlos@loja.com.br", "x")
    contact = make_contact(email="joana@cliente.com.br")
    ticket = _open(contact, timezone.now())
    ticket_reply(ticket, by=agent, body="Qual o tamanho?", status=TicketStatus.WAITING)
    replies_send(now=timezone.now())
    ours = Message.objects.get(kind=MessageKind.REPLY).message_id
    # by In-Reply-To, quoting our Message-ID; the quoted history is dropped
    _postmark(
        inbound,
        _email(
            "joana@cliente.com.br",
            "Re: algo",
            "M, por favor.\n\nEm 23/11 Loja escreveu:\n> Qual o tamanho?",
            message_id="<m2@c>",
            In_Reply_To=ours,
        ),
    )
    # by the reply address's tag, with another subject
    _postmark(
        inbound,
        _email(
            "joana@cliente.com.br",
            "outra coisa",
            "Obrigada!",
            message_id="<m3@c>",
            to=f"suporte+t{ticket.pk}.{ticket.mail_key}@loja.com.br",
        ),
    )
    # by the [#n] of the subject, from the customer's own address
    _postmark(
        inbound,
        _email(
            "Joana@Cliente.com.br", f"Re: [#{ticket.pk}] Pedido", "Mais uma.", message_id="<m4@c>"
        ),
    )
    # the same e-mail delivered twice is stored once
    _postmark(
        inbound,
        _email(
            "joana@cliente.com.br", f"Re: [#{ticket.pk}] Pedido", "Mais uma.", message_id="<m4@c>"
        ),
    )
    # a [#n] from a stranger, or a forged tag, opens a new ticket instead
    _postmark(inbound, _email("intruso@x.com", f"[#{ticket.pk}] oi", "Olá", message_id="<m5@c>"))
    _postmark(
        inbound,
        _email(
            "intruso@x.com",
            "oi",
            "Olá",
            message_id="<m6@c>",
            to=f"suporte+t{ticket.pk}.0000000000000000@loja.com.br",
        ),
    )
    customer = list(
        ticket.messages.filter(kind=MessageKind.CUSTOMER).values_list("body", flat=True)
    )
    assert customer == ["Meu pedido ainda não chegou.", "M, por favor.", "Obrigada!", "Mais uma."]
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN  # the customer's answer reopened it
    assert Ticket.objects.count() == 3


def test_inbound_attachments_are_kept(inbound) -> None:
    message = _email("ana@cliente.com.br", "Produto quebrado", "Veja a foto.")
    message.add_attachment(b"\x89PNG fake", maintype="image", subtype="png", filename="foto.png")
    _postmark(inbound, message)
    attachment = Ticket.objects.get().messages.get().attachments.get()
    assert (attachment.name, attachment.size) == ("foto.png", 9)


# -- Templates and guidance -------------------------------------------------------------


def test_a_broken_template_is_refused_when_saved(client_for, manager) -> None:
    client = client_for(manager)
    response = client.post(
        "/desk/templates/new/",
        {
            "name": "Quebrado",
            "kind": "",
            "body_pt": "Olá {{ contact.nome_errado }}",
            "body_en": "",
            "position": 1,
            "active": "on",
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "nome_errado" in response.content.decode()
    assert not ReplyTemplate.objects.filter(name="Quebrado").exists()
    response = client.post(
        "/desk/templates/new/",
        {
            "name": "Sem dono",
            "kind": "",
            "body_pt": "Fale com {{ owner.name }}",
            "body_en": "",
            "position": 1,
            "active": "on",
        },
    )
    assert not ReplyTemplate.objects.filter(name="Sem dono").exists()  # owner may be empty


def test_the_shipped_apology_renders_in_the_customer_language(policy, make_contact) -> None:
    agent = User.objects.create_user(
        "carlos@loja.com.br", "x", first_name="Carlos", last_name="Dias"
    )
    apology = ReplyTemplate.objects.get(is_apology=True)
    ticket = _open(
        make_contact(first_name="Lia"), timezone.now(), order_ref="10482", kind=TicketKind.COMPLAINT
    )
    text = template_render(apology, ticket, agent)
    assert text.startswith("Olá, Lia,") and "pedido 10482" in text and "Carlos Dias" in text
    ticket.contact.language = "en"
    assert template_render(apology, ticket, agent).startswith("Hello Lia,")
    # the agent is reminded to fill the bracketed parts
    assert any("bracketed" in w for w in reply_warnings(text))


def test_reply_warnings_point_at_what_not_to_write() -> None:
    assert reply_warnings("Pedimos desculpas; já enviamos o tamanho certo.") == []
    assert len(reply_warnings("Garantimos que isso nunca mais vai acontecer.")) == 1
    assert len(reply_warnings("A culpa foi da transportadora.")) == 1
    assert len(reply_warnings("Acalme-se, é só um atraso.")) == 1
    assert len(reply_warnings("Desculpe. Desculpe mesmo. Mil desculpas.")) == 1


def _path(url: str) -> str:
    return urlsplit(url).path


# -- Satisfaction -----------------------------------------------------------------------


def test_one_click_rates_the_service_and_a_later_click_changes_it(
    policy, make_contact, settings
) -> None:
    agent = User.objects.create_user("carlos@loja.com.br", "x")
    ticket = _open(make_contact(), timezone.now())
    client = Client()
    assert client.get(_path(rating_url(ticket, 5))).status_code == 200
    ticket.refresh_from_db()
    assert ticket.rating is None  # not resolved yet: nothing to rate
    ticket_update(ticket, by=agent, status=TicketStatus.RESOLVED)
    resolution = Message.objects.get(kind=MessageKind.REPLY)
    assert resolution.asks_rating
    path = _path(rating_url(ticket, 2))
    assert client.get(path).status_code == 200
    client.get(_path(rating_url(ticket, 4)))
    client.post(_path(rating_url(ticket, 4)), {"comment": "Resolveram rápido"})
    ticket.refresh_from_db()
    assert (ticket.rating, ticket.rating_comment) == (4, "Resolveram rápido")
    assert Event.objects.filter(contact=ticket.contact, name="ticket_rated").count() == 1
    assert client.get("/support/rating/forjado/4/").status_code == 404
    later = timezone.now() + timedelta(days=settings.REGUA_DESK_RATING_DAYS + 1)
    with time_machine.travel(later), pytest.raises(DeskError):
        ticket_rate(ticket, rating=1)


# -- Public contact form ----------------------------------------------------------------


def _form_data(**extra: str) -> dict[str, str]:
    return {
        "name": "Paulo Reis",
        "email": "paulo@cliente.com.br",
        "kind": "complaint",
        "order_ref": "",
        "subject": "Cobrança em dobro",
        "body": "Fui cobrado duas vezes.",
        "website": "",
        "stamp": ContactForm.new_stamp(),
        **extra,
    }


def test_the_public_form_opens_a_ticket_and_keeps_bots_out(policy) -> None:
    client = Client()
    page = client.get("/support/", HTTP_ACCEPT_LANGUAGE="pt-br")
    assert page.status_code == 200 and "Fale conosco" in page.content.decode()
    # too fast: a bot
    response = client.post("/support/", _form_data())
    assert Ticket.objects.count() == 0 and response.status_code == 200
    with time_machine.travel(timezone.now() - timedelta(seconds=10)):
        data = _form_data()
    # the honeypot filled: a bot
    client.post("/support/", {**data, "website": "http://spam"})
    assert Ticket.objects.count() == 0
    # a person
    response = client.post("/support/", data, HTTP_ACCEPT_LANGUAGE="en")
    ticket = Ticket.objects.get()
    assert f"#{ticket.pk}" in response.content.decode()
    assert (ticket.channel, ticket.kind) == ("form", "complaint")
    # the complaint counts in the complaint rate
    assert Event.objects.filter(contact=ticket.contact, name="complaint").count() == 1


def test_the_public_form_limits_tickets_per_e_mail_address(policy, settings) -> None:
    settings.REGUA_DESK_FORM_PER_HOUR = 2
    with time_machine.travel(timezone.now() - timedelta(seconds=10)):
        stamps = [ContactForm.new_stamp() for _ in range(4)]
    # from two "processes" (two clients): the count is the database's, not a process's
    for n, stamp in enumerate(stamps[:3]):
        Client().post("/support/", _form_data(stamp=stamp, subject=f"Assunto {n}"))
    assert Ticket.objects.count() == 2
    # another customer behind the same proxy address is not held back
    Client().post(
        "/support/", _form_data(stamp=stamps[3], email="outra@cliente.com.br", subject="Oi")
    )
    assert Ticket.objects.count() == 3
    # an hour later the first one can write again
    with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=1)):
        again = ContactForm.new_stamp()
    with time_machine.travel(timezone.now() + timedelta(hours=1, minutes=2)):
        Client().post("/support/", _form_data(stamp=again, subject="De novo"))
    assert Ticket.objects.count() == 4


# -- API --------------------------------------------------------------------------------


def test_the_api_opens_a_ticket_and_adds_messages(policy, api) -> None:
    response = api.post(
        "/api/desk/tickets",
        {
            "contact": "nova@cliente.com.br",
            "name": "Nova Cliente",
            "subject": "Cupom não funciona",
            "body": "O cupom BEMVINDA deu erro.",
            "kind": "question",
            "channel": "chat",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["first_response_due"] and body["messages"][0]["kind"] == "customer"
    ticket_id = body["id"]
    response = api.post(
        f"/api/desk/tickets/{ticket_id}/messages",
        {"body": "Era o cupom errado, obrigada", "kind": "customer"},
        content_type="application/json",
    )
    assert response.status_code == 201 and len(response.json()["messages"]) == 2
    bad = api.post(
        "/api/desk/tickets",
        {"contact": "nova@cliente.com.br", "subject": " ", "body": "x"},
        content_type="application/json",
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "subject"
    bad = api.post(
        "/api/desk/tickets",
        {"contact": "x", "subject": "a", "body": "x", "kind": "elogio"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert api.get("/api/desk/tickets/999999").status_code == 404


# -- Pages, visibility, report ----------------------------------------------------------


def test_the_queue_shows_the_most_urgent_first_and_agents_see_their_own(
    policy, make_contact, client_for, alice, bob, manager, settings
) -> None:
    settings.PORTFOLIO_VISIBILITY = "own"
    mine = _open(make_contact(owner=alice), local(2026, 11, 23, 9, 0), assignee=alice)
    theirs = _open(make_contact(owner=bob), local(2026, 11, 20, 9, 0), assignee=bob)
    nobody = _open(make_contact(), local(2026, 11, 19, 9, 0))
    page = client_for(manager).get("/desk/")
    rows = [int(r) for r in __import__("re").findall(r'data-ticket="(\d+)"', page.content.decode())]
    assert rows == [nobody.pk, theirs.pk, mine.pk]
    agent = client_for(alice)
    rows = [
        int(r)
        for r in __import__("re").findall(
            r'data-ticket="(\d+)"', agent.get("/desk/").content.decode()
        )
    ]
    assert rows == [nobody.pk, mine.pk]
    assert agent.get(f"/desk/{theirs.pk}/").status_code == 404
    assert (
        agent.post(f"/desk/{theirs.pk}/reply/", {"body": "oi", "status": "open"}).status_code == 404
    )


def test_an_agent_answers_from_the_ticket_page(policy, make_contact, client_for, alice) -> None:
    ticket = _open(make_contact(first_name="Lia"), timezone.now(), kind=TicketKind.COMPLAINT)
    client = client_for(alice)
    apology = ReplyTemplate.objects.get(is_apology=True)
    page = client.get(f"/desk/{ticket.pk}/?template={apology.pk}", HTTP_ACCEPT_LANGUAGE="en")
    assert "Olá, Lia," in page.content.decode() and "What not to write" in page.content.decode()
    # a draft that blames someone is shown back with a warning first
    response = client.post(
        f"/desk/{ticket.pk}/reply/",
        {"body": "A culpa foi da transportadora.", "status": "open"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200 and "blames" in response.content.decode()
    assert not Message.objects.filter(kind=MessageKind.REPLY).exists()
    response = client.post(
        f"/desk/{ticket.pk}/reply/",
        {"body": "Pedimos desculpas pelo atraso.", "status": "resolved"},
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED and ticket.first_responded_at
    # an internal note never goes to the customer
    client.post(
        f"/desk/{ticket.pk}/reply/", {"body": "Cliente VIP", "status": "open", "internal": "on"}
    )
    assert Message.objects.get(kind=MessageKind.NOTE).send_status == ""
    # the dossier lists the ticket
    assert f"/desk/{ticket.pk}/" in client.get(f"/contacts/{ticket.contact_id}/").content.decode()


def test_the_report_counts_sla_met_and_business_time_quantiles(
    policy, make_contact, client_for, manager
) -> None:
    agent = User.objects.create_user("carlos@loja.com.br", "x")
    # Four tickets on Monday 23/11 at 09:00, answered after 1, 2, 4 and 11 business hours
    for hours, answer in (
        (1, local(2026, 11, 23, 10)),
        (2, local(2026, 11, 23, 11)),
        (4, local(2026, 11, 23, 14)),
        (11, local(2026, 11, 24, 11)),
    ):
        ticket = _open(make_contact(), local(2026, 11, 23, 9, 0))
        ticket_reply(ticket, by=agent, body="Resposta", now=answer)
        ticket.refresh_from_db()
        assert ticket.first_response_time == timedelta(hours=hours)
    # and one still unanswered past its deadline
    late = _open(make_contact(), local(2026, 11, 23, 9, 0))
    desk_tick(now=local(2026, 11, 25, 9, 0))
    total, _rows = sla_report(Ticket.objects.all(), "assignee")
    assert (total.tickets, total.decided, total.met) == (5, 5, 3)
    assert total.met_rate == 60.0
    assert total.median_minutes == 180.0  # median of 60, 120, 240, 660
    assert total.p90_minutes == pytest.approx(534.0)  # linear: 240 + 0.7 × 420
    late.refresh_from_db()
    assert late.first_response_met is False
    page = client_for(manager).get(
        "/desk/reports/?from=2026-11-01&to=2026-11-30", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert page.status_code == 200 and "60.0%" in page.content.decode()


def test_complaint_tickets_feed_the_complaint_rate(policy, make_contact) -> None:
    contact = make_contact()
    _open(contact, timezone.now(), kind=TicketKind.COMPLAINT)
    question = _open(contact, timezone.now())
    ticket_update(question, by=User.objects.create_user("a@b.c", "x"), kind=TicketKind.COMPLAINT)
    assert Event.objects.filter(name="complaint").count() == 2
    today = timezone.localdate()
    rate = next(k for k in kpis.kpis(start=today, end=today) if k.key == "complaints")
    assert rate.parts["complaints"] == 2


def test_a_segment_gets_its_own_policy(policy, make_contact) -> None:
    vip = Segment.objects.create(
        name="Recife",
        rule={"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "Recife"}]},
    )
    SlaPolicy.objects.create(
        name="Recife: 2 horas",
        position=1,
        segment=vip,
        calendar=policy.calendar,
        first_response_minutes=120,
        warn_before_minutes=30,
    )
    regular = make_contact(city="Natal")
    special = make_contact(city="Recife")
    assert _open(regular, local(2026, 11, 23, 9, 0)).policy == policy
    ticket = _open(special, local(2026, 11, 23, 9, 0))
    assert ticket.policy.segment == vip
    assert ticket.first_response_due == local(2026, 11, 23, 11, 0)


def test_an_agent_logs_a_phone_ticket_with_an_attachment(client_for, alice, policy) -> None:
    upload = SimpleUploadedFile("nota.pdf", b"%PDF nota", content_type="application/pdf")
    response = client_for(alice).post(
        "/desk/new/",
        {
            "email": "marcos@cliente.com.br",
            "name": "Marcos Lima",
            "subject": "Nota fiscal",
            "body": "Ligou pedindo a nota.",
            "kind": "request",
            "channel": "phone",
            "priority": "2",
            "attachments": [upload],
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/desk/{ticket.pk}/"
    message = ticket.messages.get()
    assert message.author == alice and message.attachments.get().name == "nota.pdf"
    assert (
        client_for(alice).get(f"/desk/attachments/{message.attachments.get().pk}/").status_code
        == 200
    )


# -- Review: SLA bookkeeping across pauses, resolution and triage -------------------------


def test_a_customer_thanking_after_the_resolution_is_no_resolution_breach(
    policy, make_contact
) -> None:
    # given: a ticket resolved on Monday, well inside its 40 business hours
    agent = User.objects.create_user("carlos@loja.com.br", "x")
    ticket = _open(make_contact(), local(2026, 11, 23, 9, 0))
    ticket_reply(
        ticket,
        by=agent,
        body="Resolvido!",
        status=TicketStatus.RESOLVED,
        now=local(2026, 11, 23, 10),
    )
    # when: the customer answers "obrigado" two weeks later, and the worker runs
    ticket_customer_message(ticket, body="Obrigado!", now=local(2026, 12, 7, 10, 0))
    desk_tick(now=local(2026, 12, 7, 10, 1))
    # then: the time it lay resolved does not count: 39 business hours are still left
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN
    assert ticket.resolution_breached_at is None
    calendar = sla.calendar_of(policy.calendar, ticket.created_at)
    assert sla.remaining(ticket, calendar, local(2026, 12, 7, 10, 1)) == timedelta(
        hours=39, minutes=-1
    )


def test_resolving_after_a_long_wait_on_the_customer_is_in_time(policy, make_contact) -> None:
    agent = User.objects.create_user("carlos@loja.com.br", "x")
    ticket = _open(make_contact(), local(2026, 11, 23, 9, 0))
    ticket_reply(
        ticket, by=agent, body="Foto?", status=TicketStatus.WAITING, now=local(2026, 11, 23, 10)
    )
    # the customer never answers; the agent resolves it three weeks later
    ticket_update(ticket, by=agent, status=TicketStatus.RESOLVED, now=local(2026, 12, 14, 10))
    ticket.refresh_from_db()
    assert ticket.resolution_breached_at is None
    assert ticket.resolved_at <= ticket.resolution_due


def test_waiting_before_the_first_reply_is_not_counted_as_response_time(
    policy, make_contact
) -> None:
    # given: a ticket set to wait (no reply) one business hour after it opened
    agent = User.objects.create_user("carlos@loja.com.br", "x")
    ticket = _open(make_contact(), local(2026, 11, 23, 9, 0))
    ticket_update(ticket, by=agent, status=TicketStatus.WAITING, now=local(2026, 11, 23, 10, 0))
    # when: the agent replies two days later, while it still waits
    ticket_reply(
        ticket, by=agent, body="Oi", status=TicketStatus.WAITING, now=local(2026, 11, 25, 10)
    )
    # then: the first response took one business hour, in time; the clock still stands
    ticket.refresh_from_db()
    assert ticket.first_response_time == timedelta(hours=1)
    assert ticket.first_response_breached_at is None and ticket.first_response_met is True
    assert ticket.status == TicketStatus.WAITING and ticket.due_at is None
    assert ticket.paused == timedelta(hours=18)


def test_triaging_a_ticket_as_urgent_puts_it_under_the_urgent_policy(policy, make_contact) -> None:
    urgent = SlaPolicy.objects.create(
        name="Urgente",
        position=1,
        priority=4,
        calendar=policy.calendar,
        first_response_minutes=120,
        warn_before_minutes=30,
    )
    agent = User.objects.create_user("carlos@loja.com.br", "x")
    # an e-mail opens as a normal question; the agent marks it urgent at 09:30
    ticket = _open(make_contact(), local(2026, 11, 23, 9, 0))
    ticket_update(ticket, by=agent, priority=4, now=local(2026, 11, 23, 9, 30))
    ticket.refresh_from_db()
    assert ticket.policy == urgent
    assert ticket.first_response_due == ticket.due_at == local(2026, 11, 23, 11, 0)
    assert ticket.warn_at == local(2026, 11, 23, 10, 30)


def test_a_deadline_moved_by_a_pause_is_warned_again(policy, make_contact) -> None:
    agent = User.objects.create_user("carlos@loja.com.br", "x")
    ticket = _open(make_contact(), local(2026, 11, 23, 9, 0), assignee=agent)
    ticket_reply(ticket, by=agent, body="Vamos ver.", now=local(2026, 11, 23, 10, 0))
    # warned an hour before the resolution deadline (Friday 27/11 at 14:00)...
    assert desk_tick(now=local(2026, 11, 27, 13, 5)).warned == 1
    # ...then a week waiting on the customer, who answers: the deadline moves with it,
    # to Friday 04/12 at 12:00, and its warning is due again
    ticket_update(ticket, by=agent, status=TicketStatus.WAITING, now=local(2026, 11, 27, 13, 10))
    ticket_customer_message(ticket, body="Segue.", now=local(2026, 12, 4, 11, 10))
    ticket.refresh_from_db()
    assert ticket.due_at == local(2026, 12, 4, 12, 0)
    assert desk_tick(now=local(2026, 12, 4, 11, 15)).warned == 1
    assert Task.objects.filter(source=TaskSource.SLA).count() == 2


def test_a_warning_read_before_the_agent_answered_is_not_sent(
    policy, make_contact, monkeypatch
) -> None:
    from regua.desk import services

    agent = User.objects.create_user("carlos@loja.com.br", "x")
    first = _open(make_contact(), local(2026, 11, 23, 9, 0), assignee=agent)
    second = _open(make_contact(), local(2026, 11, 23, 9, 1), assignee=agent)
    notify = services._notify

    def answer_meanwhile(user: User, title: str, text: str) -> None:
        # while the worker mails the first warning, the agent answers the second ticket
        notify(user, title, text)
        ticket_reply(second, by=agent, body="Respondido.", now=local(2026, 11, 24, 9, 0))

    monkeypatch.setattr(services, "_notify", answer_meanwhile)
    assert desk_tick(now=local(2026, 11, 24, 9, 5)).warned == 1
    assert Task.objects.filter(source=TaskSource.SLA).count() == 1
    second.refresh_from_db()
    assert second.warned_at is None  # its resolution deadline will warn in its time
    first.refresh_from_db()
    assert first.warned_at is not None


# -- Review: double submits and duplicate deliveries --------------------------------------


def test_a_reply_sent_twice_by_a_double_click_goes_out_once(
    policy, make_contact, client_for, alice
) -> None:
    ticket = _open(make_contact(), timezone.now())
    client = client_for(alice)
    for _ in range(2):
        response = client.post(
            f"/desk/{ticket.pk}/reply/", {"body": "Já enviamos o código.", "status": "open"}
        )
        assert response.status_code == 302
    assert Message.objects.filter(kind=MessageKind.REPLY).count() == 1
    # a different text is a new reply
    client.post(f"/desk/{ticket.pk}/reply/", {"body": "E a nota fiscal.", "status": "open"})
    assert Message.objects.filter(kind=MessageKind.REPLY).count() == 2


def test_the_public_form_sent_twice_opens_one_ticket(policy) -> None:
    client = Client()
    with time_machine.travel(timezone.now() - timedelta(seconds=10)):
        data = _form_data()
    first = client.post("/support/", data)
    again = client.post("/support/", data)  # the browser's reload of the answer page
    ticket = Ticket.objects.get()
    assert f"#{ticket.pk}" in first.content.decode() and f"#{ticket.pk}" in again.content.decode()


def test_an_inbound_e_mail_delivered_twice_opens_one_ticket(inbound) -> None:
    message = _email("joana@cliente.com.br", "Troca", "Quero trocar.", message_id="<x1@c>")
    assert _postmark(inbound, message).status_code == 200
    assert _postmark(inbound, message).status_code == 200  # the provider's retry
    assert Ticket.objects.count() == 1


def test_the_public_form_answers_a_new_customer_in_the_language_they_wrote_in(policy) -> None:
    with time_machine.travel(timezone.now() - timedelta(seconds=10)):
        data = _form_data(email="john@example.com")
    Client().post("/support/", data, HTTP_ACCEPT_LANGUAGE="en")
    assert Contact.objects.get(email="john@example.com").language == "en"


# -- Review: bad input, bad names, bad addresses ------------------------------------------


def test_an_attachment_named_like_a_path_is_kept_under_its_file_name(inbound) -> None:
    message = _email("ana@cliente.com.br", "Nota", "Segue.")
    message.add_attachment(b"x", maintype="text", subtype="plain", filename="../../../nota.txt")
    assert _postmark(inbound, message).status_code == 200
    attachment = Ticket.objects.get().messages.get().attachments.get()
    assert attachment.name == "nota.txt"
    assert ".." not in attachment.file.name


def test_a_reply_that_cannot_be_written_fails_alone(policy, make_contact) -> None:
    agent = User.objects.create_user("carlos@loja.com.br", "x")
    broken = _open(make_contact(email="lia@x.com\nBcc: todos@x.com"), timezone.now())
    fine = _open(make_contact(), timezone.now())
    ticket_reply(broken, by=agent, body="Olá")
    ticket_reply(fine, by=agent, body="Olá")
    assert replies_send(now=timezone.now()) == (1, 1)
    statuses = dict(
        Message.objects.filter(kind=MessageKind.REPLY).values_list("ticket", "send_status")
    )
    assert statuses == {broken.pk: SendStatus.FAILED, fine.pk: SendStatus.SENT}
    assert [m.to for m in mail.outbox] == [[fine.contact.email]]


def test_the_api_refuses_a_customer_address_that_is_no_address(policy, api) -> None:
    for address in ("lia@x.com\nBcc: todos@x.com", "não é @ e-mail"):
        response = api.post(
            "/api/desk/tickets",
            {"contact": address, "subject": "Oi", "body": "Olá"},
            content_type="application/json",
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][-1] == "contact"
    assert not Contact.objects.exists()


def test_odd_query_strings_get_a_page_not_an_error(
    policy, make_contact, client_for, manager
) -> None:
    ticket = _open(make_contact(), timezone.now())
    client = client_for(manager)
    huge = "9" * 30
    for path in (
        "/desk/?page=²",
        f"/desk/?page={huge}",
        "/desk/?assignee=²",
        f"/desk/?assignee={huge}",
        "/desk/?category=³",
        f"/desk/?q=%23{huge}",
        f"/desk/{ticket.pk}/?template={huge}",
        f"/desk/reports/?segment={huge}",
    ):
        assert client.get(path).status_code == 200, path


def test_an_unknown_state_is_refused_when_the_calendar_is_saved(db) -> None:
    calendar = BusinessCalendar(name="Errado", subdivision="XX")
    with pytest.raises(Exception) as error:
        calendar.full_clean()
    assert "subdivision" in error.value.message_dict  # type: ignore[attr-defined]
    BusinessCalendar(name="Paulista", subdivision="SP").full_clean()


def test_a_form_attachment_over_the_limit_is_refused_before_it_is_read(policy, monkeypatch) -> None:
    from regua.desk import services

    monkeypatch.setattr(services, "MAX_ATTACHMENT_BYTES", 10)
    monkeypatch.setattr("regua.desk.forms.MAX_ATTACHMENT_BYTES", 10)
    monkeypatch.setattr(File, "from_upload", lambda upload: pytest.fail("read"))
    with time_machine.travel(timezone.now() - timedelta(seconds=10)):
        data = _form_data()
    upload = SimpleUploadedFile("grande.pdf", b"x" * 11, content_type="application/pdf")
    response = Client().post("/support/", {**data, "attachments": [upload]})
    assert response.status_code == 200 and "grande.pdf" in response.content.decode()
    assert not Ticket.objects.exists()


def test_a_reply_to_a_customer_without_e_mail_shows_no_english_on_a_portuguese_page(
    policy, make_contact, client_for, manager
) -> None:
    ticket = _open(make_contact(email=None, phone="+5511988887777"), timezone.now())
    ticket_reply(ticket, by=manager, body="Liguei e resolvi.")
    page = client_for(manager).get(f"/desk/{ticket.pk}/", HTTP_ACCEPT_LANGUAGE="pt-br")
    text = page.content.decode()
    assert "não enviado por e-mail" in text and "no e-mail address" not in text


def test_attachments_dropped_by_the_warnings_page_are_asked_for_again(
    policy, make_contact, client_for, alice
) -> None:
    ticket = _open(make_contact(), timezone.now())
    upload = SimpleUploadedFile("foto.png", b"\x89PNG\r\n", content_type="image/png")
    response = client_for(alice).post(
        f"/desk/{ticket.pk}/reply/",
        {"body": "A culpa foi da transportadora.", "status": "open", "attachments": [upload]},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert "Choose the attachments again" in response.content.decode()


# -- Review: who sees what ----------------------------------------------------------------


def test_agents_do_not_see_unassigned_tickets_of_another_portfolio(
    policy, make_contact, client_for, alice, bob, settings
) -> None:
    settings.PORTFOLIO_VISIBILITY = "own"
    bobs_customer = make_contact(owner=bob)
    unassigned = _open(bobs_customer, timezone.now())
    assigned = _open(bobs_customer, timezone.now(), subject="Troca", assignee=alice)
    nobodys = _open(make_contact(), timezone.now())
    client = client_for(alice)
    queue = client.get("/desk/").content.decode()
    assert f'data-ticket="{unassigned.pk}"' not in queue
    assert f'data-ticket="{nobodys.pk}"' in queue
    assert client.get(f"/desk/{unassigned.pk}/").status_code == 404
    # the ticket she was given shows the customer, not the tickets she may not see
    page = client.get(f"/desk/{assigned.pk}/").content.decode()
    assert f"/desk/{unassigned.pk}/" not in page
    # logging a ticket for that customer by e-mail lands her on the queue, not on a 404
    response = client.post(
        "/desk/new/",
        {
            "email": bobs_customer.email,
            "subject": "Ligou",
            "body": "Pediu a nota.",
            "kind": "request",
            "channel": "phone",
            "priority": "2",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/desk/"


def test_an_out_of_office_reply_does_not_reopen_the_ticket(inbound, make_contact) -> None:
    agent = User.objects.create_user("carlos@loja.com.br", "x")
    ticket = _open(make_contact(email="joana@cliente.com.br"), timezone.now())
    ticket_reply(ticket, by=agent, body="Resolvido.", status=TicketStatus.RESOLVED)
    replies_send(now=timezone.now())
    ours = Message.objects.get(kind=MessageKind.REPLY).message_id
    away = _email(
        "joana@cliente.com.br",
        "Ausente: Re: Pedido",
        "Estou de férias até dia 10.",
        message_id="<ooo@c>",
        In_Reply_To=ours,
        Auto_Submitted="auto-replied",
    )
    _postmark(inbound, away)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED  # kept on the ticket, opens nothing
    assert ticket.messages.filter(body__startswith="Estou de férias").exists()


def test_closing_an_open_ticket_past_its_resolution_target_records_the_breach(
    policy, make_contact
) -> None:
    agent = User.objects.create_user("carlos@loja.com.br", "x")
    ticket = _open(make_contact(), local(2026, 11, 23, 9, 0))
    ticket_reply(ticket, by=agent, body="Vamos ver.", now=local(2026, 11, 23, 10, 0))
    ticket_update(ticket, by=agent, status=TicketStatus.CLOSED, now=local(2026, 12, 7, 10, 0))
    ticket.refresh_from_db()
    assert ticket.resolution_breached_at == ticket.resolution_due == local(2026, 11, 27, 14, 0)


@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailInsecureWebhookWarning")
def test_inbound_e_mail_is_ignored_while_the_webhook_is_open_to_anyone(policy, settings) -> None:
    settings.ANYMAIL = {}  # no ANYMAIL_WEBHOOK_SECRET: anyone could post to the route
    raw = _email("intruso@x.com", "Promoção", "Clique aqui")
    payload = {"RawEmail": raw.as_string(), "OriginalRecipient": "suporte@loja.com.br"}
    Client().post(
        "/anymail/postmark/inbound/", data=json.dumps(payload), content_type="application/json"
    )
    assert not Ticket.objects.exists() and not Contact.objects.exists()


def test_a_late_first_response_stays_late_after_a_pause(policy, make_contact) -> None:
    agent = User.objects.create_user("carlos@loja.com.br", "x")
    ticket = _open(make_contact(), local(2026, 11, 23, 9, 0))
    # answered a day late, then three days waiting on the customer
    ticket_reply(
        ticket, by=agent, body="Foto?", status=TicketStatus.WAITING, now=local(2026, 11, 25, 9)
    )
    ticket_customer_message(ticket, body="Segue.", now=local(2026, 11, 30, 9, 0))
    ticket.refresh_from_db()
    assert ticket.first_response_due == local(2026, 11, 24, 10, 0)
    assert ticket.first_response_met is False
    total, _rows = sla_report(Ticket.objects.all(), "kind")
    assert (total.decided, total.met) == (1, 0)


def test_sending_a_batch_of_replies_reads_the_threads_in_one_query(policy, make_contact) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    agent = User.objects.create_user("carlos@loja.com.br", "x")

    def batch(size: int) -> int:
        for n in range(size):
            ticket = _open(make_contact(), timezone.now(), message_id=f"<c{n}.{size}@c>")
            ticket_reply(ticket, by=agent, body="Olá", files=[File("a.txt", b"x")])
        with CaptureQueriesContext(connection) as queries:
            assert replies_send(now=timezone.now()) == (size, 0)
        return len(queries.captured_queries)

    small = batch(2)
    large = batch(6)
    assert large - small == 4  # each reply costs only the UPDATE that records its outcome
    assert mail.outbox[-1].extra_headers["In-Reply-To"] == "<c5.6@c>"


def test_the_queue_stops_paging_where_reading_would_get_expensive(
    policy, make_contact, client_for, manager, monkeypatch
) -> None:
    from regua.desk import selectors, views

    pages = []

    def spy(tickets: Any, statuses: Any, *, page: int) -> Any:
        pages.append(page)
        return selectors.queue(tickets, statuses, page=page)

    monkeypatch.setattr(views, "queue", spy)
    response = client_for(manager).get(f"/desk/?page={10**15}")
    assert response.status_code == 200 and pages == [selectors.MAX_PAGE]


def test_the_queue_pages_keep_the_filters(policy, make_contact, client_for, manager) -> None:
    contact = make_contact()
    for n in range(51):
        _open(contact, local(2026, 11, 23, 9, 0), subject=f"Pedido {n}", kind=TicketKind.REQUEST)
    page = client_for(manager).get("/desk/?kind=request").content.decode()
    assert 'href="?kind=request&amp;page=2"' in page
    second = client_for(manager).get("/desk/?kind=request&page=2").content.decode()
    assert 'href="?kind=request&amp;page=1"' in second

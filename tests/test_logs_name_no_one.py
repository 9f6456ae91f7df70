"""No personal data in the logs (docs/security.md §Logs).

The demo's everyday flows run with every logger at DEBUG: a CSV import with a bad row,
contacts and events through the API, a régua's e-mails sent to an SMTP server (one
address refused by it, then the server down), a customer's survey answer, one-click
unsubscribe and contact form, failed sign-ins up to the lockout and a password reset.
Then every record captured — message, arguments, traceback — is searched for the
people's e-mail addresses, phone numbers and names. Log lines name things by id.
"""

import asyncio
import logging
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from support.smtp import _LoopbackController

from regua.cadences import tokens
from regua.cadences.models import Delivery
from regua.cadences.sending import send_due
from regua.cadences.tick import tick
from regua.cadences.yaml_io import cadence_import, cadence_set_status
from regua.customers.models import Contact
from regua.desk.forms import ContactForm
from regua.desk.inbound import on_inbound
from regua.users.models import ApiKey, Role, User

pytestmark = pytest.mark.django_db

SP = ZoneInfo("America/Sao_Paulo")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SP)  # a Monday morning: no quiet hours

# The people of the flows, and how their data could appear in a log line.
PEOPLE = {
    "Quitéria Bezerra": ["quiteria.bezerra@exemplo.com.br", "+5581988776655", "98877-6655"],
    "Teodora Siqueira": ["teodora.siqueira@exemplo.com.br", "+5511977665544", "97766-5544"],
    "Valdemar Rocha": [
        "valdemar.rocha@exemplo.com.br",
        "valdemar.rocha@exemplo",
        "+5521966554433",
        "96655-4433",
    ],
    "Xisto Amaral": ["xisto.amaral@exemplo.com.br", "+5531955443322", "95544-3322"],
    "Ubirajara Nogueira": ["ubirajara@@exemplo", "+5541944332211", "94433-2211"],
    "Yolanda Freitas": ["yolanda.freitas@exemplo.com.br"],
    "Wanderléia Prado": ["wanderleia.prado@loja.example"],  # a member of the team
}
NEEDLES = [needle for name, data in PEOPLE.items() for needle in [name, name.split()[1], *data]]
# Loggers that are not Régua's: the test's own SMTP server logs what it receives.
NOT_OURS = ("mail.log", "asyncio")

CSV = (
    "email;first_name;last_name;phone;state\n"
    "quiteria.bezerra@exemplo.com.br;Quitéria;Bezerra;+55 81 98877-6655;PE\n"
    "ubirajara@@exemplo;Ubirajara;Nogueira;+55 41 94433-2211;PR\n"
    "valdemar.rocha@exemplo.com.br;Valdemar;Rocha;+55 21 96655-4433;ZZ\n"
)

REGUA = """
key: boas-vindas
name: Boas-vindas
objective: conversion
marketing: false
trigger: {kind: event, event: signup}
steps:
  - key: welcome
    offset: 0
    channel: email
    message:
      pt-br:
        subject: "Bem-vinda, {{ contact.first_name }} {{ contact.last_name }}!"
        body: |
          Olá, {{ contact.first_name }}! Seu telefone: {{ contact.phone }}.
          [Pesquisa]({{ links.survey }})
"""


class Refusing:
    """An SMTP server's handler that refuses Valdemar's address and takes the rest."""

    def __init__(self) -> None:
        self.accepted: list[str] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("valdemar"):
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0)
        self.accepted.extend(envelope.rcpt_tos)
        return "250 OK: queued"


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, the ones that do not propagate included."""
    caplog.set_level(logging.DEBUG)
    saved = []
    for logger in [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]:
        saved.append((logger, logger.level, logger.propagate))
        logger.setLevel(logging.DEBUG)
        logger.propagate = True
    yield caplog
    for logger, level, propagate in saved:
        logger.setLevel(level)
        logger.propagate = propagate


def logged_text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), repr(record.args)]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return " ".join(parts)


def test_the_everyday_flows_log_no_personal_data(
    every_log: pytest.LogCaptureFixture,
    settings: Any,
    tmp_path: Any,
    manager: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    settings.REGUA_QUIET_HOURS = ""
    settings.AXES_FAILURE_LIMIT = 3
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_TIMEOUT = 5
    handler = Refusing()
    server = _LoopbackController(handler, hostname="127.0.0.1", port=0)
    server.start()
    settings.EMAIL_PORT = server.port
    try:
        with time_machine.travel(T0, tick=False):
            _flows(settings, manager, server, django_capture_on_commit_callbacks)
    finally:
        if server.server is not None:  # the flows stop it half-way
            server.stop()
    # the flows really ran: messages reached the server, one was refused
    assert any(a.startswith("quiteria") for a in handler.accepted)
    assert not any(a.startswith("valdemar") for a in handler.accepted)
    records = [r for r in every_log.records if not r.name.startswith(NOT_OURS)]
    assert records  # the flows do log (the tick, the lockout, the refused message...)
    leaks = [
        (record.name, needle, logged_text(record)[:300])
        for record in records
        for needle in NEEDLES
        if needle.lower() in logged_text(record).lower()
    ]
    assert leaks == []


def _flows(settings: Any, manager: User, server: Any, on_commit: Any) -> None:
    team = User.objects.create_user(
        "wanderleia.prado@loja.example",
        "senha-forte-1",
        first_name="Wanderléia",
        last_name="Prado",
        role=Role.MANAGER,
    )
    staff = Client()
    staff.force_login(team)
    cadence, _created = cadence_import(REGUA)
    cadence_set_status(cadence, "active")
    # a CSV import, with a bad row
    with on_commit(execute=True):
        staff.post(
            "/imports/",
            {
                "kind": "contacts",
                "file": SimpleUploadedFile("clientes.csv", CSV.encode(), content_type="text/csv"),
                "create_contacts": "on",
            },
        )
    assert Contact.objects.filter(email="quiteria.bezerra@exemplo.com.br").exists()
    # contacts and events through the API, one of them refused
    _key, token = ApiKey.generate(user=manager, name="Loja virtual")
    api = Client(headers={"Authorization": f"Bearer {token}"})
    api.post(
        "/api/contacts/batch",
        {
            "contacts": [
                {
                    "email": "teodora.siqueira@exemplo.com.br",
                    "first_name": "Teodora",
                    "last_name": "Siqueira",
                    "phone": "+55 11 97766-5544",
                },
                {
                    "email": "xisto.amaral@exemplo.com.br",
                    "first_name": "Xisto",
                    "last_name": "Amaral",
                    "phone": "+55 31 95544-3322",
                    "state": "XX",
                },
            ]
        },
        content_type="application/json",
    )
    signups = [
        {"customer_id": email, "name": "signup", "occurred_at": T0.isoformat()}
        for email in (
            "quiteria.bezerra@exemplo.com.br",
            "teodora.siqueira@exemplo.com.br",
            "valdemar.rocha@exemplo.com.br",
            "xisto.amaral@exemplo.com.br",
        )
    ]
    signups.append({"customer_id": "ubirajara@@exemplo", "name": "signup", "occurred_at": "ontem"})
    api.post("/api/events", {"events": signups}, content_type="application/json")
    # the tick and the sends: Valdemar's address refused by the server
    tick(now=T0 + timedelta(minutes=1))
    send_due(now=T0 + timedelta(minutes=1))
    # then the server goes down while another message waits
    xisto = Contact.objects.get(email="xisto.amaral@exemplo.com.br")
    Delivery.objects.filter(contact=xisto).update(status="scheduled", due_at=T0)
    server.stop()
    send_due(now=T0 + timedelta(minutes=2))
    # the customer's side: a survey answer, a one-click unsubscribe, the contact form
    quiteria = Delivery.objects.get(contact__email="quiteria.bezerra@exemplo.com.br")
    public = Client()
    public.post(
        reverse("cadences:survey", args=[tokens.make("survey", quiteria.pk)]),
        {"score": "4", "comment": "Quitéria aqui: me liguem no 98877-6655"},
    )
    public.post(
        reverse("cadences:unsubscribe", args=[tokens.make("unsubscribe", quiteria.pk)]),
        {"List-Unsubscribe": "One-Click"},
    )
    with time_machine.travel(T0 - timedelta(seconds=30), tick=False):
        stamp = ContactForm.new_stamp()
    public.post(
        reverse("desk_public:contact"),
        {
            "name": "Yolanda Freitas",
            "email": "yolanda.freitas@exemplo.com.br",
            "kind": "question",
            "order_ref": "",
            "subject": "Pedido",
            "body": "Onde está meu pedido?",
            "website": "",
            "stamp": stamp,
        },
    )
    # an e-mail to the service desk from an address that is no address
    settings.ANYMAIL = {"WEBHOOK_SECRET": "segredo"}
    message = AnymailInboundMessage.construct(
        from_email='"Valdemar Rocha" <valdemar.rocha@exemplo>',
        to="suporte@loja.example",
        subject="Ajuda",
        text="Meu telefone é 96655-4433.",
    )
    event = AnymailInboundEvent(event_type="inbound", message=message)
    on_inbound(sender=None, event=event, esp_name="test")
    # the team's side: failed sign-ins up to the lockout, then a password reset
    browser = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(4):
        browser.post(reverse("login"), {"username": team.email, "password": "errada"})
    browser.post(reverse("password_reset"), {"email": team.email})


def test_the_log_handler_masks_what_an_exception_says_about_someone() -> None:
    # given the handler settings.LOGGING gives the root logger, and a database error
    # that quotes a row, as PostgreSQL's unique violations do
    (handler,) = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    try:
        raise ValueError("Key (email)=(quiteria.bezerra@exemplo.com.br) already exists.")
    except ValueError:
        record = logging.LogRecord(
            "regua.worker",
            logging.ERROR,
            __file__,
            1,
            "worker (%s): %s",
            ("send", "<valdemar.rocha@exemplo.com.br>: 550; SMS to +55 21 96655-4433"),
            exc_info=sys.exc_info(),
        )
    # when it is written
    assert handler.filter(record)
    line = handler.format(record)
    # then no address or number is in it, and the rest is
    for needle in ("quiteria.bezerra", "valdemar.rocha", "96655-4433", "+55 21"):
        assert needle not in line
    assert "worker (send)" in line and "already exists" in line and "[redacted]" in line
    # while ids, dates and counts stay as they are
    plain = logging.LogRecord(
        "regua.worker",
        logging.INFO,
        __file__,
        1,
        "tick: %s",
        ('{"at": "2026-03-02T10:00", "sent": 12345678}',),
        None,
    )
    handler.filter(plain)
    assert plain.getMessage() == 'tick: {"at": "2026-03-02T10:00", "sent": 12345678}'

"""Sending for real: e-mail over an SMTP conversation, Twilio and webhooks over HTTP.

Every test talks to a server on loopback: an aiosmtpd server for e-mail, a stub
`http.server` for Twilio and webhook steps. The servers answer from a script (a reply
code per address, a dropped connection, a slow answer) and keep what they accepted, so
a test compares what left with what the database says left.

Time is a parameter: the régua is activated at T0 (frozen with time-machine) and the
sends happen at explicit instants (`tick(now=...)`, `send_due(now=...)`).
"""

import asyncio
import base64
import email
import email.policy
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
import time_machine
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from django.db import connection, transaction

from regua.cadences import tokens
from regua.cadences.channels.webhook import signature
from regua.cadences.models import Cadence, Delivery, DeliveryStatus
from regua.cadences.sending import (
    BACKOFF,
    MAX_ATTEMPTS,
    SmtpLine,
    delivery_claim_batch,
    send_due,
)
from regua.cadences.tick import tick
from regua.cadences.yaml_io import cadence_import, cadence_set_status
from regua.customers.models import Consent, Contact
from regua.events.ingest import fingerprint
from regua.events.models import Event

pytestmark = pytest.mark.django_db

SP = ZoneInfo("America/Sao_Paulo")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SP)  # a Monday, 10:00 in São Paulo
SIGNUP_AT = T0 + timedelta(minutes=5)
SEND_AT = T0 + timedelta(minutes=6)
FROM = "Loja Exemplo <contato@loja.example>"
FROM_ADDRESS = "contato@loja.example"

EMAIL_STEP: dict[str, Any] = {
    "channel": "email",
    "message": {
        "pt-br": {
            "subject": "Bem-vinda, {{ contact.first_name }}!",
            "body": "Olá, {{ contact.first_name }}!\n\n[Acessar minha conta]({{ links.site }})\n",
        },
    },
}
TEXT_MESSAGE = {"pt-br": {"body": "Oi, {{ contact.first_name }}! Seu cadastro está pronto."}}


# SMTP: an aiosmtpd server on loopback with a scripted handler --------------------------

DROP = "drop"  # close the connection instead of answering DATA


class Sink:
    """The SMTP server's handler: answers from a script and keeps what it accepted.

    `at_rcpt` and `at_data` map a recipient to the reply for that stage (an SMTP reply
    line, or DROP at DATA); everyone else is accepted. With `delay` the server keeps the
    message and then takes that long to say so.
    `stop_after` accepts that many messages, then drops the connection and calls
    `on_stop` (which stops the server) and drops every DATA after it. With `pipelining`
    the server offers PIPELINING (RFC 2920), and the sender writes each message's
    commands at once (aiosmtpd answers them in order; it does not offer it by itself).
    """

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.peers: set[tuple[str, int]] = set()
        self.at_rcpt: dict[str, str] = {}
        self.at_data: dict[str, str] = {}
        self.delay = 0.0
        self.stop_after: int | None = None
        self.on_stop: Callable[[], None] = lambda: None
        self.stopping = False
        self.pipelining = False
        self.lock = threading.Lock()

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.at_rcpt:
            return self.at_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.peers.add(session.peer)
        reply = self.at_data.get(envelope.rcpt_tos[0], "")
        if self.stopping or reply == DROP:
            server.transport.close()
            return "421 closing"
        if self.stop_after is not None and len(self.messages) >= self.stop_after:
            self.stopping = True
            server.transport.close()
            self.on_stop()
            return "421 closing"
        if reply:
            return reply
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        if self.delay:  # queued, but the "250" comes late
            await asyncio.sleep(self.delay)
        return "250 OK: queued"

    @property
    def message_ids(self) -> list[str]:
        return [str(message["Message-ID"]) for message in self.messages]


class _LoopbackController(Controller):
    """aiosmtpd's controller on an ephemeral port: learn the port before the first probe."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    def __init__(self) -> None:
        self.sink = Sink()
        self.port = 0
        self.options: dict[str, Any] = {}  # aiosmtpd.smtp.SMTP's, for the next start()
        self.controller: _LoopbackController | None = None

    def start(self) -> None:
        """Listen on loopback (on the same port again after a stop)."""
        self.controller = _LoopbackController(
            self.sink, hostname="127.0.0.1", port=self.port, **self.options
        )
        self.controller.start()
        self.port = self.controller.port

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture(params=["one command at a time", "pipelining"])
def smtp(settings: Any, request: pytest.FixtureRequest) -> Iterator[SmtpServer]:
    """Every SMTP test runs against a server without PIPELINING and one with it."""
    smtp_log = logging.getLogger("mail.log")  # aiosmtpd tells every command at INFO
    level = smtp_log.level
    smtp_log.setLevel(logging.WARNING)
    server = SmtpServer()
    server.sink.pipelining = request.param == "pipelining"
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_TIMEOUT = 5
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = FROM
    yield server
    server.stop()
    smtp_log.setLevel(level)


# HTTP: a stub server on loopback for Twilio and webhooks --------------------------------


@dataclass
class Request:
    path: str
    headers: Any  # email.message.Message: case-insensitive
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class HttpStub:
    """Records each POST and answers with `answer(request)`: (status, JSON body)."""

    requests: list[Request] = field(default_factory=list)
    answer: Callable[[Request], tuple[int, dict[str, Any]]] = lambda request: (201, {})
    url: str = ""


@pytest.fixture
def http_stub() -> Iterator[HttpStub]:
    stub = HttpStub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            request = Request(self.path, self.headers, body)
            stub.requests.append(request)
            status, payload = stub.answer(request)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield stub
    server.shutdown()
    server.server_close()
    thread.join()


# The régua and its contacts ----------------------------------------------------------


@pytest.fixture(autouse=True)
def _engine_settings(settings: Any) -> None:
    settings.REGUA_QUIET_HOURS = ""
    settings.REGUA_FREQUENCY_CAP = 3
    settings.REGUA_FREQUENCY_DAYS = 7
    settings.REGUA_SITE_URL = "https://crm.loja.example"
    import regua.analytics.recommendations as recommendations

    recommendations._popular_cache = None


def regua(step: dict[str, Any], *, marketing: bool = True, key: str = "boas-vindas") -> Cadence:
    """A régua on signup whose one step goes out at once, activated at T0."""
    document = {
        "key": key,
        "name": "Boas-vindas",
        "objective": "conversion",
        "marketing": marketing,
        "trigger": {"kind": "event", "event": "signup"},
        "steps": [{"key": "welcome", "offset": 0, **step}],
    }
    cadence, _created = cadence_import(yaml.safe_dump(document, allow_unicode=True))
    with time_machine.travel(T0, tick=False):
        cadence_set_status(cadence, "active")
    cadence.refresh_from_db()
    return cadence


@pytest.fixture
def customer(make_contact: Callable[..., Contact]) -> Callable[..., Contact]:
    """A contact who agreed to `channels` and signed up after the régua was activated."""

    def make(channels: tuple[str, ...] = ("email",), **fields: Any) -> Contact:
        contact = make_contact(**fields)
        for channel in channels:
            Consent.objects.create(
                contact=contact,
                channel=channel,
                status="granted",
                recorded_at=T0 - timedelta(days=90),
            )
        Event.objects.create(
            contact=contact,
            name="signup",
            occurred_at=SIGNUP_AT,
            fingerprint=fingerprint(f"signup:{contact.pk}", {})[0],
        )
        return contact

    return make


def delivery_of(contact: Contact) -> Delivery:
    return Delivery.objects.get(contact=contact)


def assert_accounted_for(received: list[EmailMessage]) -> None:
    """Nothing silently dropped: each delivery is sent (and was received), waiting for a
    retry with a reason, or failed with a reason."""
    received_ids = {str(message["Message-ID"]) for message in received}
    for delivery in Delivery.objects.all():
        if delivery.status == DeliveryStatus.SENT:
            assert delivery.sent_at is not None
            assert delivery.message_id in received_ids
        elif delivery.status == DeliveryStatus.SCHEDULED:
            assert delivery.attempts >= 1 and delivery.reason
            assert delivery.message_id not in received_ids
        else:
            assert delivery.status == DeliveryStatus.FAILED, delivery.status
            assert delivery.reason
    sent = Delivery.objects.filter(status=DeliveryStatus.SENT)
    assert received_ids == {delivery.message_id for delivery in sent}


# E-mail: the message on the wire ------------------------------------------------------


def test_a_welcome_email_goes_through_smtp_with_its_headers_parts_and_message_id(
    smtp: SmtpServer, customer: Callable[..., Contact]
) -> None:
    # given an active welcome régua and Clara, who signed up after it was activated
    regua(EMAIL_STEP)
    clara = customer(first_name="Clara")
    # when the tick runs
    summary = tick(now=SEND_AT)
    # then the SMTP server received exactly one message, for her
    assert summary.total.sent == 1
    [message] = smtp.sink.messages
    [(mail_from, rcpt_tos)] = smtp.sink.envelopes
    assert (mail_from, rcpt_tos) == ("contato@loja.example", [clara.email])
    assert message["From"] == FROM
    assert message["To"] == clara.email
    assert message["Subject"] == "Bem-vinda, Clara!"
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert "Olá, Clara!" in plain.get_content()
    assert "Olá, Clara!" in html.get_content()
    # and the delivery is recorded as sent, under the Message-ID the server saw
    delivery = delivery_of(clara)
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.sent_at == SEND_AT
    assert delivery.attempts == 1
    assert message["Message-ID"] == delivery.message_id
    # and it carries one-click unsubscribe for this very delivery
    # (a long header is folded: the value starts with the folding white space)
    header = str(message["List-Unsubscribe"]).strip()
    unsubscribe = re.fullmatch(r"<https?://[^/]+/u/([^/]+)/>", header)
    assert unsubscribe is not None
    assert tokens.read("unsubscribe", unsubscribe.group(1)) == delivery.pk
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def _pipelining_only_server(
    replies: list[bytes],
) -> tuple[int, threading.Thread, dict[str, bytes]]:
    """A bare SMTP server on loopback that offers PIPELINING and answers the envelope only
    once MAIL, RCPT and DATA have all arrived: a client that waits for each reply before
    its next command gets no answer and times out. `replies` answer MAIL, RCPT and DATA;
    what arrived is kept under "commands" and "data". Stops after one conversation."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    seen: dict[str, bytes] = {}

    def serve() -> None:
        conn, _ = listener.accept()
        conn.settimeout(10)
        with conn, listener:
            stream = conn.makefile("rb")
            conn.sendall(b"220 sink ready\r\n")
            stream.readline()  # EHLO
            conn.sendall(b"250-sink\r\n250-PIPELINING\r\n250 SIZE 10000000\r\n")
            seen["commands"] = b"".join(stream.readline() for _ in range(3))
            conn.sendall(b"".join(replies))
            if replies[-1].startswith(b"354"):
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    data += stream.readline()
                seen["data"] = data
                conn.sendall(b"250 2.0.0 queued\r\n")
            while line := stream.readline():  # RSET, QUIT
                conn.sendall(b"221 bye\r\n" if line.upper().startswith(b"QUIT") else b"250 ok\r\n")
                if line.upper().startswith(b"QUIT"):
                    break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread, seen


def test_with_pipelining_the_envelope_goes_in_one_write_and_the_body_is_dot_stuffed() -> None:
    import smtplib

    from regua.cadences.channels.email import sendmail_pipelined

    # given a server that answers nothing until it has MAIL, RCPT and DATA
    port, thread, seen = _pipelining_only_server([b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n"])
    raw = b"Subject: oi\r\n\r\n.primeira linha com ponto\r\nfim"
    # when one message is sent
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.ehlo()
        sendmail_pipelined(client, "loja@loja.example", "clara@example.com", raw)
    thread.join(5)
    # then the three commands came together, with the message's size
    assert seen["commands"] == (
        b"MAIL FROM:<loja@loja.example> SIZE=%d\r\nRCPT TO:<clara@example.com>\r\nDATA\r\n"
        % len(raw)
    )
    # and the body's leading period is doubled, as smtplib does, and the data ended
    assert seen["data"] == b"Subject: oi\r\n\r\n..primeira linha com ponto\r\nfim\r\n.\r\n"


@pytest.mark.parametrize(
    ("replies", "error"),
    [
        ([b"451 4.3.0 try later\r\n", b"503 no MAIL\r\n", b"503 no RCPT\r\n"], "SMTPSenderRefused"),
        (
            [b"250 ok\r\n", b"550 5.1.1 unknown\r\n", b"554 no recipients\r\n"],
            "SMTPRecipientsRefused",
        ),
        ([b"250 ok\r\n", b"250 ok\r\n", b"452 4.3.1 full\r\n"], "SMTPDataError"),
    ],
)
def test_with_pipelining_a_refusal_raises_what_smtplib_raises_and_sends_no_body(
    replies: list[bytes], error: str
) -> None:
    import smtplib

    from regua.cadences.channels.email import sendmail_pipelined

    port, thread, seen = _pipelining_only_server(replies)
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.ehlo()
        with pytest.raises(getattr(smtplib, error)):
            sendmail_pipelined(client, "loja@loja.example", "clara@example.com", b"oi")
    thread.join(5)
    assert "data" not in seen


def test_with_pipelining_turned_off_a_server_that_offers_it_gets_one_command_at_a_time(
    smtp: SmtpServer, customer: Callable[..., Contact], settings: Any, monkeypatch: Any
) -> None:
    from regua.cadences.channels import email as email_channel

    # given a server that offers PIPELINING, and Régua told not to use it
    smtp.sink.pipelining = True
    settings.REGUA_SMTP_PIPELINING = False
    pipelined: list[str] = []
    monkeypatch.setattr(
        email_channel, "sendmail_pipelined", lambda *args: pipelined.append(args[2])
    )
    regua(EMAIL_STEP)
    clara = customer()
    # when the welcome goes out
    tick(now=SEND_AT)
    # then it went through smtplib's sendmail, and arrived
    assert pipelined == []
    assert delivery_of(clara).status == DeliveryStatus.SENT
    assert [to for _sender, [to] in smtp.sink.envelopes] == [clara.email]
    # and with it on, the same server gets the pipelined path
    settings.REGUA_SMTP_PIPELINING = True
    bia = customer()
    tick(now=SEND_AT + timedelta(minutes=1))
    assert pipelined == [bia.email]


def test_a_batch_of_fifty_contacts_gets_fifty_messages_each_once(
    smtp: SmtpServer, customer: Callable[..., Contact]
) -> None:
    regua(EMAIL_STEP)
    contacts = [customer() for _ in range(50)]
    summary = tick(now=SEND_AT)
    assert summary.total.sent == 50
    ids = Counter(smtp.sink.message_ids)
    assert len(smtp.sink.messages) == 50
    assert set(ids.values()) == {1}
    assert set(ids) == {delivery_of(contact).message_id for contact in contacts}
    assert sorted(rcpt for _from, (rcpt,) in smtp.sink.envelopes) == sorted(
        str(contact.email) for contact in contacts
    )
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == 50


@pytest.mark.parametrize("connections", [1, 2, 4])
def test_a_run_of_batches_goes_through_a_fixed_number_of_smtp_connections(
    smtp: SmtpServer, customer: Callable[..., Contact], settings: Any, connections: int
) -> None:
    # sending.py and channels/email.py promise REGUA_SMTP_CONNECTIONS connections for a
    # run of batches, not one per message or per batch: with a real provider each extra
    # connection is another TCP (and TLS, and AUTH) handshake
    settings.REGUA_SMTP_CONNECTIONS = connections
    settings.REGUA_SEND_BATCH = 10  # three batches
    regua(EMAIL_STEP)
    for _ in range(30):
        customer()
    tick(now=SEND_AT)
    assert len(smtp.sink.messages) == 30
    assert len({m["Message-ID"] for m in smtp.sink.messages}) == 30
    assert 1 <= len(smtp.sink.peers) <= connections


def test_the_frequency_cap_counts_a_message_the_server_has_not_answered_yet(
    smtp: SmtpServer, customer: Callable[..., Contact], settings: Any
) -> None:
    # given two marketing réguas that welcome the same customer, a cap of one message a
    # week, and a server slow to answer
    settings.REGUA_FREQUENCY_CAP = 1
    first = regua(EMAIL_STEP)
    second = regua(EMAIL_STEP, key="boas-vindas-2")
    clara = customer()
    tick(now=SEND_AT, send=False)
    smtp.sink.delay = 1.0
    line = SmtpLine()
    # when the worker sends the first welcome, and prepares its next turn while the
    # server has not said "250" yet
    try:
        assert send_due(now=SEND_AT, batch_size=1, max_batches=1, line=line) == 1
        assert send_due(now=SEND_AT, batch_size=1, max_batches=1, line=line) == 1
    finally:
        line.close()
    # then the second welcome waits for the cap, and only the first went out
    assert Delivery.objects.get(cadence=first).status == DeliveryStatus.SENT
    waiting = Delivery.objects.get(cadence=second)
    assert (waiting.status, waiting.reason) == (DeliveryStatus.SCHEDULED, "frequency cap")
    assert waiting.due_at > SEND_AT + timedelta(days=6)
    assert smtp.sink.envelopes == [(FROM_ADDRESS, [clara.email])]


@pytest.mark.parametrize("plan", ["any", "nested loop"])
def test_a_claim_takes_no_more_than_its_batch_whatever_plan_the_database_picks(
    customer: Callable[..., Contact], plan: str
) -> None:
    # given four welcomes due at the same moment
    regua(EMAIL_STEP)
    for _ in range(4):
        customer()
    tick(now=SEND_AT, send=False)
    # when a worker claims batches of one, with PostgreSQL made to join the claimed ids to
    # the table by a nested loop (the plan that once re-ran the subquery for every row
    # and let one claim take them all)
    with transaction.atomic():
        if plan == "nested loop" and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for method in ("hashagg", "sort", "hashjoin", "mergejoin", "material"):
                    cursor.execute(f"SET LOCAL enable_{method} = off")
        claims = [delivery_claim_batch(now=SEND_AT, size=1) for _ in range(5)]
    # then each claim took one, the four different ones, and the fifth found nothing
    assert [len(ids) for ids in claims] == [1, 1, 1, 1, 0]
    assert len({ids[0] for ids in claims[:4]}) == 4
    assert Delivery.objects.filter(status=DeliveryStatus.SENDING).count() == 4


# E-mail: faults ------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_a_450_is_retried_with_backoff_and_fails_after_the_last_attempt(
    stage: str, smtp: SmtpServer, customer: Callable[..., Contact]
) -> None:
    # given a mailbox that answers "try again later" at RCPT or at DATA, every time
    regua(EMAIL_STEP)
    clara = customer()
    script = smtp.sink.at_rcpt if stage == "rcpt" else smtp.sink.at_data
    script[str(clara.email)] = "450 4.2.1 Mailbox busy, try again later"
    # when the welcome falls due, and each time its retry falls due
    tick(now=SEND_AT)
    moment = SEND_AT
    for attempt in range(1, MAX_ATTEMPTS):
        # then it waits, a little longer each time, with the reason and the attempts
        delivery = delivery_of(clara)
        assert delivery.status == DeliveryStatus.SCHEDULED
        assert delivery.attempts == attempt
        assert delivery.due_at == moment + BACKOFF[attempt - 1]
        assert "SMTP 450" in delivery.reason and "Mailbox busy" in delivery.reason
        assert send_due(now=delivery.due_at - timedelta(seconds=1)) == 0
        moment = delivery.due_at
        assert send_due(now=moment) == 1
    # and after the last attempt it is failed, with the reason
    delivery = delivery_of(clara)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == MAX_ATTEMPTS
    assert "SMTP 450" in delivery.reason
    assert delivery.sent_at is None
    assert send_due(now=moment + timedelta(days=1)) == 0
    assert smtp.sink.messages == []


@pytest.mark.parametrize(
    ("stage", "reply"),
    [
        ("rcpt", "550 5.1.1 User unknown"),
        ("data", "554 5.7.1 Message rejected as spam"),
    ],
)
def test_a_5xx_fails_at_once_with_the_reply_as_the_reason(
    stage: str, reply: str, smtp: SmtpServer, customer: Callable[..., Contact]
) -> None:
    regua(EMAIL_STEP)
    clara = customer()
    script = smtp.sink.at_rcpt if stage == "rcpt" else smtp.sink.at_data
    script[str(clara.email)] = reply
    tick(now=SEND_AT)
    delivery = delivery_of(clara)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 1
    code, text = reply.split(" ", 1)
    assert f"SMTP {code}" in delivery.reason and text in delivery.reason
    assert send_due(now=SEND_AT + timedelta(days=1)) == 0
    assert smtp.sink.messages == []


def test_a_batch_with_every_kind_of_fault_accounts_for_every_delivery(
    smtp: SmtpServer, customer: Callable[..., Contact]
) -> None:
    # given eight contacts, five of whose mailboxes misbehave in different ways
    regua(EMAIL_STEP)
    ana, busy, unknown, grey, spam, dropped, bia, caio = (customer() for _ in range(8))
    sink = smtp.sink
    sink.at_rcpt[str(busy.email)] = "450 4.2.1 Mailbox busy"
    sink.at_rcpt[str(unknown.email)] = "550 5.1.1 User unknown"
    sink.at_data[str(grey.email)] = "451 4.7.1 Greylisted"
    sink.at_data[str(spam.email)] = "554 5.7.1 Rejected"
    sink.at_data[str(dropped.email)] = DROP
    # when the batch goes out
    tick(now=SEND_AT)
    # then the good ones are sent (the connection is made again after the drop), ...
    for contact in (ana, bia, caio):
        assert delivery_of(contact).status == DeliveryStatus.SENT
    # ... the transient faults wait for a retry, the permanent ones failed ...
    for contact in (busy, grey, dropped):
        delivery = delivery_of(contact)
        assert delivery.status == DeliveryStatus.SCHEDULED
        assert delivery.due_at == SEND_AT + BACKOFF[0]
    assert "SMTP 450" in delivery_of(busy).reason
    assert "SMTP 451" in delivery_of(grey).reason
    assert "Disconnected" in delivery_of(dropped).reason
    assert "SMTP 550" in delivery_of(unknown).reason
    assert "SMTP 554" in delivery_of(spam).reason
    assert {delivery_of(c).status for c in (unknown, spam)} == {DeliveryStatus.FAILED}
    # ... and nothing is unaccounted for
    assert_accounted_for(sink.messages)
    # when the mailboxes recover and the retries fall due
    sink.at_rcpt.clear()
    sink.at_data.clear()
    assert send_due(now=SEND_AT + BACKOFF[0]) == 3
    # then everyone but the two refused got exactly one message
    assert_accounted_for(sink.messages)
    assert len(sink.messages) == 6
    assert set(Counter(sink.message_ids).values()) == {1}


def test_a_dropped_connection_is_retried_and_the_message_sent_later(
    smtp: SmtpServer, customer: Callable[..., Contact]
) -> None:
    regua(EMAIL_STEP)
    clara = customer()
    smtp.sink.at_data[str(clara.email)] = DROP
    tick(now=SEND_AT)
    delivery = delivery_of(clara)
    assert delivery.status == DeliveryStatus.SCHEDULED
    assert delivery.reason.startswith("SMTPServerDisconnected")
    assert smtp.sink.messages == []
    del smtp.sink.at_data[str(clara.email)]
    send_due(now=delivery.due_at)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
    assert smtp.sink.message_ids == [delivery.message_id]


def test_a_server_stopped_mid_batch_loses_nothing(
    smtp: SmtpServer, customer: Callable[..., Contact]
) -> None:
    # given twelve contacts and a server that goes away after accepting five messages
    regua(EMAIL_STEP)
    contacts = [customer() for _ in range(12)]
    stopper: list[threading.Thread] = []

    def stop_server() -> None:  # from inside the server's loop: stop it from elsewhere
        thread = threading.Thread(target=smtp.stop)
        thread.start()
        stopper.append(thread)

    smtp.sink.stop_after = 5
    smtp.sink.on_stop = stop_server
    # when the batch goes out
    tick(now=SEND_AT)
    stopper[0].join(timeout=10)
    # then five are sent and the other seven wait for a retry, with the reason
    statuses = Counter(delivery_of(contact).status for contact in contacts)
    assert statuses == {DeliveryStatus.SENT: 5, DeliveryStatus.SCHEDULED: 7}
    assert_accounted_for(smtp.sink.messages)
    # when the server is back and the retries fall due
    smtp.sink.stop_after, smtp.sink.stopping = None, False
    smtp.start()
    send_due(now=SEND_AT + BACKOFF[0])
    # then everyone got exactly one message
    assert Counter(delivery_of(contact).status for contact in contacts) == {DeliveryStatus.SENT: 12}
    assert sorted(smtp.sink.message_ids) == sorted(delivery_of(c).message_id for c in contacts)


def test_a_slow_server_is_retried_and_a_repeat_carries_the_same_message_id(
    settings: Any, smtp: SmtpServer, customer: Callable[..., Contact]
) -> None:
    # given a server that answers DATA after longer than the client waits
    regua(EMAIL_STEP)
    clara = customer()
    settings.EMAIL_TIMEOUT = 0.3
    smtp.sink.delay = 1.0
    # when the welcome goes out
    tick(now=SEND_AT)
    # then it waits for a retry, with the timeout as the reason
    delivery = delivery_of(clara)
    assert delivery.status == DeliveryStatus.SCHEDULED
    assert "timed out" in delivery.reason
    # when the server is quick again and the retry falls due
    assert len(smtp.sink.messages) == 1  # the slow server did keep the first
    smtp.sink.delay = 0
    send_due(now=delivery.due_at)
    # then it is sent; the receiver sees a repeat with the same Message-ID, so it can
    # tell it is the same message
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert smtp.sink.message_ids == [delivery.message_id, delivery.message_id]


def test_wrong_smtp_credentials_fail_no_delivery_for_good(
    settings: Any, smtp: SmtpServer, customer: Callable[..., Contact]
) -> None:
    # given a relay that refuses our login (a password changed, a key revoked)
    def refuse(*args: Any) -> AuthResult:
        return AuthResult(success=False, handled=False)

    smtp.stop()
    smtp.options = {"authenticator": refuse, "auth_require_tls": False}
    smtp.start()
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "regua", "old-password"
    regua(EMAIL_STEP)
    clara, bia = customer(), customer()
    # when the welcomes fall due
    tick(now=SEND_AT)
    # then they wait for the credentials to be fixed: nothing is wrong with the addresses
    for contact in (clara, bia):
        delivery = delivery_of(contact)
        assert delivery.status == DeliveryStatus.SCHEDULED
        assert "SMTP 535" in delivery.reason


# Twilio: SMS and WhatsApp -------------------------------------------------------------


@pytest.fixture
def twilio(settings: Any, http_stub: HttpStub) -> HttpStub:
    settings.REGUA_SMS_BACKEND = settings.REGUA_WHATSAPP_BACKEND = "twilio"
    settings.TWILIO_API_URL = http_stub.url
    settings.TWILIO_ACCOUNT_SID = "AC0123456789abcdef"
    settings.TWILIO_AUTH_TOKEN = "twilio-token"
    settings.TWILIO_FROM_NUMBER = "+5511400000000"
    settings.TWILIO_WHATSAPP_FROM = "+5511411111111"
    http_stub.answer = lambda request: (201, {"sid": "SM0001", "status": "queued"})
    return http_stub


@pytest.mark.parametrize(
    ("channel", "to", "sender"),
    [
        ("sms", "+5511987654321", "+5511400000000"),
        ("whatsapp", "whatsapp:+5511987654321", "whatsapp:+5511411111111"),
    ],
)
def test_a_text_message_is_posted_to_twilio_with_basic_auth(
    channel: str, to: str, sender: str, twilio: HttpStub, customer: Callable[..., Contact]
) -> None:
    # given a régua whose step is an SMS or a WhatsApp message, and Clara's consent to it
    regua({"channel": channel, "message": TEXT_MESSAGE})
    clara = customer(channels=(channel,), first_name="Clara", phone="+5511987654321")
    # when it goes out
    tick(now=SEND_AT)
    # then Twilio got one form-encoded POST, authenticated as the account
    [request] = twilio.requests
    assert request.path == "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json"
    credentials = base64.b64encode(b"AC0123456789abcdef:twilio-token").decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form == {
        "To": to,
        "From": sender,
        "Body": "Oi, Clara! Seu cadastro está pronto.",
    }
    # and the 201 means sent
    delivery = delivery_of(clara)
    assert request.headers["Idempotency-Key"] == delivery.message_id
    assert (delivery.status, delivery.sent_at) == (DeliveryStatus.SENT, SEND_AT)


def test_twilio_answers_decide_sent_failed_or_retried(
    twilio: HttpStub, customer: Callable[..., Contact]
) -> None:
    # given four numbers for which Twilio answers 201, 400, 429 and 503
    regua({"channel": "sms", "message": TEXT_MESSAGE})
    answers: dict[str, tuple[int, dict[str, Any]]] = {
        "+5511911110001": (201, {"sid": "SM1"}),
        "+5511911110002": (400, {"code": 21211, "message": "Invalid 'To' Phone Number"}),
        "+5511911110003": (429, {"code": 20429, "message": "Too Many Requests"}),
        "+5511911110004": (503, {"message": "Service Unavailable"}),
    }
    twilio.answer = lambda request: answers[request.form["To"]]
    ok, bad, limited, down = (customer(channels=("sms",), phone=phone) for phone in answers)
    # when they go out
    tick(now=SEND_AT)
    # then 201 is sent, 400 failed with Twilio's message, 429 and 503 wait for a retry
    assert delivery_of(ok).status == DeliveryStatus.SENT
    failed = delivery_of(bad)
    assert failed.status == DeliveryStatus.FAILED
    assert failed.reason == "HTTP 400: Invalid 'To' Phone Number"
    for contact, code in ((limited, 429), (down, 503)):
        delivery = delivery_of(contact)
        assert delivery.status == DeliveryStatus.SCHEDULED
        assert delivery.due_at == SEND_AT + BACKOFF[0]
        assert delivery.reason.startswith(f"HTTP {code}")
    # when Twilio recovers and the retries fall due
    twilio.answer = lambda request: (201, {"sid": "SM2"})
    assert send_due(now=SEND_AT + BACKOFF[0]) == 2
    # then both are sent; each number was posted to once per attempt
    assert {delivery_of(c).status for c in (limited, down)} == {DeliveryStatus.SENT}
    assert Counter(request.form["To"] for request in twilio.requests) == {
        "+5511911110001": 1,
        "+5511911110002": 1,
        "+5511911110003": 2,
        "+5511911110004": 2,
    }


def test_text_messages_to_an_unreachable_twilio_are_retried(
    settings: Any, twilio: HttpStub, customer: Callable[..., Contact]
) -> None:
    regua({"channel": "sms", "message": TEXT_MESSAGE})
    clara = customer(channels=("sms",), phone="+5511987654321")
    settings.TWILIO_API_URL = "http://127.0.0.1:9"  # discard: nothing listens there
    tick(now=SEND_AT)
    delivery = delivery_of(clara)
    assert delivery.status == DeliveryStatus.SCHEDULED
    assert "Connection refused" in delivery.reason


# Webhooks ------------------------------------------------------------------------------


def webhook_step(url: str, *, message: bool = True) -> dict[str, Any]:
    step: dict[str, Any] = {"channel": "webhook", "webhook": {"url": url}}
    if message:
        step["message"] = TEXT_MESSAGE
    return step


def test_a_webhook_step_posts_signed_json(
    http_stub: HttpStub, customer: Callable[..., Contact]
) -> None:
    # given a régua that notifies the ERP, and Clara, who signed up
    regua(webhook_step(f"{http_stub.url}/hooks/regua"), marketing=False)
    clara = customer(channels=(), first_name="Clara", external_id="cli-42")
    # when it goes out
    tick(now=SEND_AT)
    # then the ERP got one JSON POST about her, signed with the shared secret
    [request] = http_stub.requests
    delivery = delivery_of(clara)
    assert request.path == "/hooks/regua"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Regua-Signature"] == signature(request.body)
    assert request.headers["X-Regua-Delivery"] == str(delivery.pk)
    payload = json.loads(request.body)
    assert payload["delivery"] == delivery.pk
    assert (payload["regua"], payload["step"]) == ("boas-vindas", "welcome")
    assert payload["contact"] == {
        "id": clara.pk,
        "external_id": "cli-42",
        "email": clara.email,
        "phone": "",
        "name": clara.name,
    }
    assert payload["text"] == "Oi, Clara! Seu cadastro está pronto."
    assert datetime.fromisoformat(payload["sent_at"]) == SEND_AT
    assert delivery.status == DeliveryStatus.SENT


def test_a_webhook_that_fails_with_500_is_retried_and_404_fails(
    http_stub: HttpStub, customer: Callable[..., Contact]
) -> None:
    regua(webhook_step(f"{http_stub.url}/hooks/regua"), marketing=False)
    flaky, missing = customer(channels=()), customer(channels=())
    statuses = {flaky.pk: 500, missing.pk: 404}
    http_stub.answer = lambda request: (
        statuses[json.loads(request.body)["contact"]["id"]],
        {"message": "nope"},
    )
    tick(now=SEND_AT)
    retried, failed = delivery_of(flaky), delivery_of(missing)
    assert (retried.status, retried.reason) == (DeliveryStatus.SCHEDULED, "HTTP 500: nope")
    assert retried.due_at == SEND_AT + BACKOFF[0]
    assert (failed.status, failed.reason) == (DeliveryStatus.FAILED, "HTTP 404: nope")
    # the receiver is back: the retry goes out, the 404 is not tried again
    statuses[flaky.pk] = 200
    assert send_due(now=retried.due_at) == 1
    assert delivery_of(flaky).status == DeliveryStatus.SENT
    assert len(http_stub.requests) == 3


def test_a_webhook_step_without_a_message_is_posted(
    http_stub: HttpStub, customer: Callable[..., Contact]
) -> None:
    # docs/cadences.md's notify_erp step has no message, and the importer accepts it
    regua(webhook_step(f"{http_stub.url}/hooks/regua", message=False), marketing=False)
    clara = customer(channels=())
    tick(now=SEND_AT)
    delivery = delivery_of(clara)
    assert (delivery.status, delivery.reason) == (DeliveryStatus.SENT, "")
    [request] = http_stub.requests
    assert json.loads(request.body)["contact"]["id"] == clara.pk

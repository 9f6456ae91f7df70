"""The public links, proven: each token opens one door for one subject (docs/security.md).

The links customers and calendar apps follow without signing in carry signed tokens:
open pixel, click redirect, unsubscribe, survey (per delivery), loyalty page (per
contact), calendar feed (per user, renewable) and satisfaction rating (per ticket). Here
every kind of token is tried on every other kind's door, on another subject's door, and
tampered with; each attempt must be a 404 (the open pixel still answers its image) that
changes nothing, while the right token on the right door works — so each test can fail.
"""

import hmac
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from support.access_world import World, world_build

from regua.agenda import feed as agenda_feed
from regua.agenda.models import Task, TaskKind
from regua.cadences import tokens as delivery_tokens
from regua.cadences.models import Cadence, Delivery, DeliveryStatus, Enrollment, OutboxMessage
from regua.cadences.sending import send_due
from regua.cadences.surveys import survey_answer_of
from regua.cadences.yaml_io import cadence_import, cadence_set_status
from regua.customers.models import Consent, Contact
from regua.desk.mail import RATING_SALT
from regua.desk.models import Ticket
from regua.loyalty import tokens as loyalty_tokens

pytestmark = pytest.mark.django_db

TARGET = "https://loja.example/produtos/cafe?cor=azul"
KINDS = ["open", "click", "unsubscribe", "survey", "loyalty", "feed", "rating"]


class Doors:
    """The two subjects of each kind (Alice's side "a", Bob's side "b") and what a
    token of a kind looks like when made for a given subject id."""

    def __init__(self, world: World) -> None:
        self.world = world
        now = timezone.now()
        bobs_delivery = Delivery.objects.get(contact=world.bobs, step=world.step)
        bobs_task = Task.objects.create(
            kind=TaskKind.CALL, title="Ligar para Bento Visível", owner=world.bob, due_on=now
        )
        bobs_ticket = Ticket.objects.create(contact=world.bobs, subject="Troca do Bento")
        Ticket.objects.filter(pk__in=[world.ticket.pk, bobs_ticket.pk]).update(
            status="resolved", resolved_at=now
        )
        for contact in (world.secret, world.bobs):
            Consent.objects.create(
                contact=contact, channel="email", status="granted", recorded_at=now
            )
        self.subjects: dict[str, dict[str, int]] = {
            "delivery": {"a": world.delivery.pk, "b": bobs_delivery.pk},
            "contact": {"a": world.secret.pk, "b": world.bobs.pk},
            "user": {"a": world.alice.pk, "b": world.bob.pk},
            "ticket": {"a": world.ticket.pk, "b": bobs_ticket.pk},
        }
        self.task_titles = {"a": world.task.title, "b": bobs_task.title}

    @staticmethod
    def subject_of(kind: str) -> str:
        return {"loyalty": "contact", "feed": "user", "rating": "ticket"}.get(kind, "delivery")

    def ident(self, kind: str, side: str) -> int:
        return self.subjects[self.subject_of(kind)][side]

    def mint(self, kind: str, ident: int) -> str:
        """A genuine token of `kind` for the subject id `ident` (whatever it names)."""
        if kind in delivery_tokens.PURPOSES:
            return delivery_tokens.make(kind, ident, TARGET if kind == "click" else "")
        if kind == "loyalty":
            return loyalty_tokens.make(ident)
        if kind == "rating":
            return signing.dumps(ident, salt=RATING_SALT, compress=True)
        feed = agenda_feed.CalendarFeed.objects.filter(user_id=ident).first()
        nonce = feed.nonce if feed else agenda_feed.CalendarFeed().nonce
        return signing.Signer(salt=agenda_feed.SALT).sign(f"{ident}.{nonce}")

    def feed_token(self, side: str) -> str:
        user = self.world.alice if side == "a" else self.world.bob
        return agenda_feed.feed_url(agenda_feed.feed_for(user)).rsplit("/", 1)[1][: -len(".ics")]

    def knock(self, kind: str, token: str) -> Any:
        """Use the token at the door of `kind`, as a mail client or browser would."""
        client = Client(enforce_csrf_checks=True)
        if kind == "open":
            return client.get(reverse("cadences:open", args=[token]))
        if kind == "click":
            return client.get(reverse("cadences:click", args=[token]), {"u": TARGET})
        if kind == "unsubscribe":
            return client.post(
                reverse("cadences:unsubscribe", args=[token]), {"List-Unsubscribe": "One-Click"}
            )
        if kind == "survey":
            return client.post(reverse("cadences:survey", args=[token]), {"score": "3"})
        if kind == "loyalty":
            return client.get(reverse("loyalty:public_page", args=[token]))
        if kind == "feed":
            return client.get(reverse("agenda:feed", args=[token]))
        return client.get(reverse("desk_public:rating", args=[token, 5]))

    def effect(self, kind: str, side: str, response: Any) -> bool:
        """Whether the knock did what the door does, for that side's subject."""
        ident = self.ident(kind, side)
        if kind in ("open", "click", "unsubscribe"):
            delivery = Delivery.objects.get(pk=ident)
            stamp = {"open": "opened_at", "click": "clicked_at", "unsubscribe": "unsubscribed_at"}
            return getattr(delivery, stamp[kind]) is not None
        if kind == "survey":
            return survey_answer_of(Delivery.objects.get(pk=ident)) is not None
        if kind == "rating":
            return Ticket.objects.get(pk=ident).rating == 5
        if response.status_code != 200:
            return False
        if kind == "loyalty":
            return Contact.objects.get(pk=ident).first_name in response.content.decode()
        return self.task_titles[side] in response.content.decode()


@pytest.fixture
def doors(settings: Any) -> Doors:
    # The world's users need no strong hashing here, and it costs a second per test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return Doors(world_build())


def refused(kind: str, response: Any) -> bool:
    # The open pixel answers its image whatever the token (a mail client shows nothing
    # broken); every other door answers 404.
    if kind == "open":
        return response.status_code == 200 and response["Content-Type"] == "image/gif"
    return response.status_code == 404


# Purpose ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("door", "kind"), [(door, kind) for door in KINDS for kind in KINDS if kind != door]
)
def test_a_token_of_one_purpose_opens_no_other_door(doors: Doors, door: str, kind: str) -> None:
    # given a genuine token of `kind` made for the very subject id the door serves
    borrowed = doors.mint(kind, doors.ident(door, "a"))
    # when it is used at the door
    response = doors.knock(door, borrowed)
    # then the door refuses it and nothing happens
    assert refused(door, response)
    assert not doors.effect(door, "a", response)


@pytest.mark.parametrize("door", KINDS)
def test_the_right_token_opens_its_door_for_its_subject_only(doors: Doors, door: str) -> None:
    token = doors.feed_token("a") if door == "feed" else doors.mint(door, doors.ident(door, "a"))
    response = doors.knock(door, token)
    assert response.status_code in (200, 302)
    assert doors.effect(door, "a", response)
    assert not doors.effect(door, "b", response)


# Subject ---------------------------------------------------------------------------------


@pytest.mark.parametrize("door", KINDS)
def test_a_token_for_one_subject_never_touches_another(doors: Doors, door: str) -> None:
    # given Alice's side's genuine token, its subject id swapped for Bob's side's
    token = doors.feed_token("a") if door == "feed" else doors.mint(door, doors.ident(door, "a"))
    ours, theirs = str(doors.ident(door, "a")), str(doors.ident(door, "b"))
    if door == "rating":
        # the signed payload is encoded: sign another ticket's id with a wrong signature
        _payload, _, signature = token.rpartition(":")
        other = signing.dumps(int(theirs), salt=RATING_SALT, compress=True)
        swapped = other.rpartition(":")[0] + ":" + signature
    else:
        assert token.startswith(ours)
        swapped = theirs + token[len(ours) :]
    # when it is used
    response = doors.knock(door, swapped)
    # then nothing is opened for either side
    assert refused(door, response)
    assert not doors.effect(door, "b", response)
    assert not doors.effect(door, "a", response)


# Tampering -------------------------------------------------------------------------------


def _tamperings(token: str) -> list[str]:
    last = token[-1]
    return [
        token[:-1] + ("A" if last != "A" else "B"),  # one character of the MAC changed
        token[:-4],  # the MAC cut short
        token + "A",  # one character more
        token.rpartition(":")[0],  # the MAC dropped
        token.rpartition(":")[0] + ":",  # an empty MAC
        "x" + token,  # garbage before the id
        token.replace(token.split(":")[0], "٣", 1),  # an Arabic-Indic digit for the id
        token.upper() if token.upper() != token else token.lower(),
    ]


@pytest.mark.parametrize("door", KINDS)
def test_a_tampered_token_is_not_found(doors: Doors, door: str) -> None:
    token = doors.feed_token("a") if door == "feed" else doors.mint(door, doors.ident(door, "a"))
    for tampered in _tamperings(token):
        response = doors.knock(door, tampered)
        assert refused(door, response), tampered
        assert not doors.effect(door, "a", response), tampered


def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # A timing attack guesses a MAC byte by byte from how long a wrong one takes to fail:
    # the comparisons must go through hmac.compare_digest.
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert delivery_tokens.read("survey", delivery_tokens.make("survey", 7)) == 7
    assert loyalty_tokens.read(loyalty_tokens.make(7)) == 7
    assert len(calls) == 2


# Click redirects -------------------------------------------------------------------------


REGUA_WITH_LINKS = """
key: novidades
name: Novidades
objective: retention
trigger: {kind: manual}
steps:
  - key: news
    name: Novidades
    offset: 0
    channel: email
    message:
      pt-br:
        subject: "Novidades"
        body: "[Café](https://loja.example/cafe) e [chá](https://loja.example/cha?x=1&y=2)"
"""


def test_a_click_goes_only_to_the_addresses_the_message_contained(
    settings: Any, make_contact: Callable[..., Contact]
) -> None:
    settings.EMAIL_BACKEND = "regua.cadences.channels.outbox.EmailBackend"
    settings.REGUA_QUIET_HOURS = ""
    settings.REGUA_SITE_URL = "https://crm.loja.example"
    now = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))
    # given a message with two links, really sent
    with time_machine.travel(now, tick=False):
        cadence, _created = cadence_import(REGUA_WITH_LINKS)
        cadence_set_status(cadence, "active")
        contact = make_contact()
        Consent.objects.create(
            contact=contact, channel="email", status="granted", recorded_at=now - timedelta(1)
        )
        delivery = _queue(cadence, contact, now)
        send_due(now=now)
    html = OutboxMessage.objects.get(delivery=delivery).html
    links = re.findall(r'href="https://crm\.loja\.example(/t/c/[^"]+)"', html)
    tracked = {_unescape(link) for link in links}
    assert len(tracked) == 2
    client = Client()
    # then each tracked link goes to its own address, and no other
    targets = []
    for link in sorted(tracked):
        response = client.get(link)
        assert response.status_code == 302
        targets.append(response["Location"])
    assert sorted(targets) == ["https://loja.example/cafe", "https://loja.example/cha?x=1&y=2"]
    first, second = sorted(tracked)
    swapped = first.split("?")[0] + "?" + second.split("?")[1]
    for elsewhere in (
        swapped,  # the other link's address with this link's token
        first.split("?")[0] + "?u=https://phishing.example/",
        first.split("?")[0] + "?u=//phishing.example/",
        first.split("?")[0] + "?u=javascript:alert(1)",
        first.split("?")[0],  # no address at all
    ):
        assert client.get(elsewhere).status_code == 404, elsewhere


def _queue(cadence: Cadence, contact: Contact, now: datetime) -> Delivery:
    enrollment = Enrollment.objects.create(
        cadence=cadence, contact=contact, occurrence="manual", entered_at=now
    )
    step = cadence.steps.get(key="news")
    return Delivery.objects.create(
        enrollment=enrollment,
        step=step,
        cadence=cadence,
        contact=contact,
        channel="email",
        status=DeliveryStatus.SCHEDULED,
        due_at=now,
    )


def _unescape(link: str) -> str:
    return link.replace("&amp;", "&")


# The calendar feed -----------------------------------------------------------------------


def test_a_calendar_feed_shows_its_users_tasks_only_and_dies_when_renewed(doors: Doors) -> None:
    # given Alice's feed link
    old = doors.feed_token("a")
    page = doors.knock("feed", old).content.decode()
    # then it holds her task and not Bob's
    assert doors.task_titles["a"] in page
    assert doors.task_titles["b"] not in page
    # when she renews it
    agenda_feed.feed_renew(doors.world.alice)
    new = doors.feed_token("a")
    # then the old link is gone and the new one works
    assert new != old
    assert doors.knock("feed", old).status_code == 404
    assert doors.task_titles["a"] in doors.knock("feed", new).content.decode()
    # and Bob's link, never renewed, still shows Bob's tasks only
    bobs = doors.knock("feed", doors.feed_token("b")).content.decode()
    assert doors.task_titles["b"] in bobs and doors.task_titles["a"] not in bobs


def test_a_calendar_feed_of_a_deactivated_user_is_not_found(doors: Doors) -> None:
    token = doors.feed_token("a")
    doors.world.alice.is_active = False
    doors.world.alice.save(update_fields=["is_active"])
    assert doors.knock("feed", token).status_code == 404


# No open redirect elsewhere --------------------------------------------------------------


EXTERNAL = ["https://phishing.example/", "//phishing.example/", "https:phishing.example"]


@pytest.mark.parametrize("target", EXTERNAL)
def test_signing_in_never_sends_to_another_site(alice: Any, target: str) -> None:
    response = Client().post(
        reverse("login") + f"?next={target}",
        {"username": "alice@example.com", "password": "pw-alice-123", "next": target},
    )
    assert response.status_code == 302
    assert "phishing" not in response["Location"]


@pytest.mark.parametrize("target", EXTERNAL)
def test_the_language_switch_never_sends_to_another_site(target: str) -> None:
    response = Client().post(reverse("set_language"), {"language": "en", "next": target})
    assert "phishing" not in response.get("Location", "")


@pytest.mark.parametrize("target", EXTERNAL)
def test_agenda_and_account_plan_returns_stay_on_site(
    doors: Doors, client_for: Callable[..., Client], target: str
) -> None:
    world = doors.world
    alice = client_for(world.alice)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    done = alice.post(
        reverse("agenda:task_reschedule", args=[world.task.pk]),
        {"due_on": tomorrow, "next": target},
    )
    assert done.status_code == 302 and "phishing" not in done["Location"]
    status = alice.post(
        reverse("accounts:initiative_status", args=[world.initiative.pk]),
        {"status": "done", "next": target},
    )
    assert status.status_code == 302 and "phishing" not in status["Location"]

"""Two ticks and two workers at once on PostgreSQL: nothing enrolled or sent twice.

Two `regua tick --now T` processes start together (a cron tick that overran, or two
hosts given the same schedule), twice in a row, while two `regua worker --only
deliveries` processes send into an aiosmtpd server on loopback that keeps every message.
The unique keys of Enrollment and Delivery, the advisory lock per régua and the claim
with SKIP LOCKED must together make each passage and each message happen exactly once:
checked in the tables, in the ticks' own summaries and in what the SMTP server received.

The processes reach the test database and the SMTP server as in test_worker_crash.py,
whose helpers this reuses. SQLite serialises writers, so there is nothing to race there.
"""

import email
import email.policy
import json
import logging
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import time_machine
import yaml
from django.db import connection
from django.utils import timezone
from support.processes import ROOT, WorkerDatabase, worker_env
from support.reguas import WELCOME
from support.smtp import _LoopbackController
from test_worker_crash import Worker

from regua.cadences.models import Cadence, Delivery, DeliveryStatus, Enrollment
from regua.cadences.yaml_io import cadence_import, cadence_set_status
from regua.customers.models import Contact
from regua.events.ingest import fingerprint
from regua.events.models import Event

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"
    ),
]

CONTACTS = 200
TWICE_EVERY = 4  # every fourth contact signs up twice: two passages (each_occurrence)
BATCH = 5  # REGUA_SEND_BATCH: a claim every few messages, so the senders claim side by side
WELCOME_AND_REMINDER = {
    **WELCOME,
    "key": "boas-vindas-e-lembrete",
    "reentry": "each_occurrence",
    "steps": [
        *cast(list[dict[str, Any]], WELCOME["steps"]),
        {
            "key": "reminder",
            "offset": "5min",
            "channel": "email",
            "message": {"pt-br": {"subject": "Lembrete", "body": "Tudo certo?"}},
        },
    ],
}


# The SMTP server: every message with its envelope recipients ---------------------------


class Sink:
    """Keeps (Message-ID, X-Regua-Delivery, recipients) of every message accepted."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, tuple[str, ...]]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append(
                (
                    str(message["Message-ID"]),
                    str(message["X-Regua-Delivery"]),
                    tuple(envelope.rcpt_tos),
                )
            )
        return "250 OK: queued"


@pytest.fixture
def sink(caplog: pytest.LogCaptureFixture) -> Iterator[tuple[Sink, int]]:
    caplog.set_level(logging.WARNING, logger="mail.log")  # aiosmtpd tells every command
    handler = Sink()
    controller = _LoopbackController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def workers(tmp_path: Path, sink: tuple[Sink, int]) -> Iterator[list[Worker]]:
    """Two delivery workers that only send: the `regua tick` processes of the test are the
    only ticks, so their summaries account for every enrollment and delivery created."""
    _handler, port = sink
    database = WorkerDatabase(tmp_path)
    pair = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        worker = Worker(database, tmp_path / name, worker_env(port, BATCH))
        # The worker ticks when REGUA_TICK_SECONDS have passed on the monotonic clock
        # (uptime): a billion seconds is never.
        worker.env["REGUA_TICK_SECONDS"] = str(10**9)
        pair.append(worker)
    yield pair
    for worker in pair:
        worker.stop_if_running()


def signups() -> set[tuple[int, str]]:
    """A régua on signup, active for 20 minutes, and everybody's signups since: the
    (contact, occurrence) passages a tick is to enroll."""
    activated = timezone.now() - timedelta(minutes=20)
    cadence, _created = cadence_import(yaml.safe_dump(WELCOME_AND_REMINDER, allow_unicode=True))
    with time_machine.travel(activated, tick=False):
        cadence_set_status(cadence, "active")
    contacts = Contact.objects.bulk_create(
        Contact(email=f"cliente{n}@exemplo.com.br", first_name=f"Cliente{n}")
        for n in range(CONTACTS)
    )
    events = Event.objects.bulk_create(
        Event(
            contact=contact,
            name="signup",
            occurred_at=activated + timedelta(minutes=minute),
            fingerprint=fingerprint(f"signup:{contact.pk}:{minute}", {})[0],
        )
        for n, contact in enumerate(contacts)
        for minute in ((1, 2) if n % TWICE_EVERY == 0 else (1,))
    )
    return {(event.contact_id, f"e{event.pk}") for event in events}


def ticks_together(env: dict[str, str], now: datetime) -> list[dict[str, Any]]:
    """Two `regua tick --now` processes started before either is waited for; their
    summaries. They send what they scheduled too, as a cron tick does."""
    command = [sys.executable, "-m", "regua", "tick", "--now", now.isoformat()]
    processes = [
        subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    summaries = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode(errors="replace")
        summaries.append(json.loads(out.decode().strip().splitlines()[-1]))
    return summaries


def unsent() -> int:
    return Delivery.objects.exclude(status=DeliveryStatus.SENT).count()


# The test --------------------------------------------------------------------------------


def test_two_ticks_and_two_workers_at_once_enroll_and_send_each_message_exactly_once(
    workers: list[Worker], sink: tuple[Sink, int]
) -> None:
    handler, _port = sink
    # given a régua of two e-mails (a welcome, then a reminder five minutes later) on
    # signup, 250 signups by 200 contacts (a quarter of them twice), both e-mails now due
    passages = signups()
    steps = set(Cadence.objects.get().steps.values_list("pk", flat=True))
    # (The ticks run as of the present: a claim's lease is reckoned from the tick's `now`,
    # so a tick more than a lease in the past would hand its batches to the workers.)
    now = timezone.now()
    # and two delivery workers waiting for work
    for worker in workers:
        worker.start()
    # when two ticks as of one instant run at once, and then two more a second later
    first = ticks_together(workers[0].env, now - timedelta(seconds=1))
    second = ticks_together(workers[0].env, now)
    # and the workers are stopped (SIGTERM) once every delivery is sent
    for worker in workers:
        worker.wait_for(lambda: unsent() == 0, seconds=60)
    exit_codes = [worker.signal(signal.SIGTERM) for worker in workers]
    # then the first two ticks enrolled each passage and scheduled each e-mail once
    # between them, and the next two found nothing left to create
    assert sum(s["enrolled"] for s in first) == len(passages)
    assert sum(s["scheduled"] for s in first) == len(passages) * len(steps)
    assert [(s["enrolled"], s["scheduled"]) for s in second] == [(0, 0), (0, 0)]
    # and the tables hold each passage and each (passage, step) once: their unique keys
    enrollments = dict(Enrollment.objects.values_list("pk", "contact_id"))
    assert set(Enrollment.objects.values_list("contact_id", "occurrence")) == passages
    assert len(enrollments) == len(passages)
    deliveries = list(Delivery.objects.values_list("enrollment_id", "step_id", "status"))
    assert Counter((enrollment, step) for enrollment, step, _ in deliveries) == {
        (enrollment, step): 1 for enrollment in enrollments for step in steps
    }
    assert Counter(status for _, _, status in deliveries) == {DeliveryStatus.SENT: len(deliveries)}
    # and the SMTP server got one message per delivery, with its Message-ID, addressed
    # to its contact alone: no message twice, nobody more e-mails than passages × steps
    sent = Delivery.objects.select_related("contact")
    assert Counter(handler.received) == {
        (delivery.message_id, str(delivery.pk), (delivery.contact.email,)): 1 for delivery in sent
    }
    per_recipient = Counter(to for _, _, recipients in handler.received for to in recipients)
    per_contact = Counter(contact for contact, _occurrence in passages)
    address = dict(Contact.objects.values_list("pk", "email"))
    assert per_recipient == {
        address[contact]: count * len(steps) for contact, count in per_contact.items()
    }
    # and both workers stopped cleanly
    assert exit_codes == [0, 0], [worker.output() for worker in workers]
    # (for the curious, with -s: how the work was shared)
    sent_by_ticks = [s["sent"] for s in (*first, *second)]
    print(
        f"\nconcurrency test: {len(passages)} passages, {len(deliveries)} messages; "
        f"enrolled by the first ticks {[s['enrolled'] for s in first]}, sent by the ticks "
        f"{sent_by_ticks}, by the workers {len(deliveries) - sum(sent_by_ticks)}"
    )

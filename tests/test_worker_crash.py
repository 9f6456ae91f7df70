"""The delivery worker under SIGKILL and SIGTERM, as a real process against real SMTP.

`regua worker --only deliveries` runs as a subprocess against the test database and an
aiosmtpd server on loopback that keeps every message it accepts. It is killed at
random moments in the middle of its batches and started again; nothing may be lost,
and a message sent twice (the batch in hand when the worker died) must carry the same
Message-ID, so the receiving side can tell it is a repeat.

The worker must see the test's data: on PostgreSQL it opens the test database itself
(the test runs with `transaction=True`, so the data is committed). pytest-django's
SQLite test database lives in memory, which another process cannot open: it is copied
to a file under tmp_path before each run of the worker and copied back after it
(`WorkerDatabase`), so the test reads and writes through the ORM either way.
"""

import asyncio
import email
import email.policy
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
import yaml
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection
from django.utils import timezone

from regua.cadences.models import Delivery, DeliveryStatus
from regua.cadences.tick import tick
from regua.cadences.yaml_io import cadence_import, cadence_set_status
from regua.customers.models import Contact
from regua.events.ingest import fingerprint
from regua.events.models import Event

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[1]
BATCH = 25  # REGUA_SEND_BATCH for the worker: many batches, so kills land mid-way
KILLS = 10
MOST_PER_RUN = 45  # a killed run sends at most about this many messages ...
DELIVERIES = 500  # ... so ten of them leave work for the final run
WELCOME = {
    "key": "boas-vindas",
    "name": "Boas-vindas",
    "objective": "conversion",
    "marketing": False,  # transactional: no consent rows or frequency cap needed
    "trigger": {"kind": "event", "event": "signup"},
    "steps": [
        {
            "key": "welcome",
            "offset": 0,
            "channel": "email",
            "message": {
                "pt-br": {
                    "subject": "Bem-vindo, {{ contact.first_name }}!",
                    "body": "Olá, {{ contact.first_name }}!",
                }
            },
        }
    ],
}


# The SMTP server: counts what it accepts ----------------------------------------------


class Recorder:
    """Keeps (Message-ID, X-Regua-Delivery) of every message accepted, repeats included.

    Each message takes `delay` seconds, so a batch lasts long enough to be interrupted.
    """

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        await asyncio.sleep(self.delay)
        with self.lock:
            self.received.append((str(message["Message-ID"]), str(message["X-Regua-Delivery"])))
        return "250 OK: queued"

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def reached(self, count: int) -> Callable[[], bool]:
        return lambda: self.count() >= count


class _LoopbackController(Controller):
    """aiosmtpd's controller on an ephemeral port: learn the port before the first probe."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    smtp_log = logging.getLogger("mail.log")  # aiosmtpd tells every command at INFO
    level = smtp_log.level
    smtp_log.setLevel(logging.WARNING)
    recorder = Recorder(delay=0.01)
    controller = _LoopbackController(recorder, hostname="127.0.0.1", port=0)
    controller.start()
    yield recorder, controller.port
    controller.stop()
    smtp_log.setLevel(level)


# The database, as the worker process opens it -----------------------------------------


class WorkerDatabase:
    """The test database as a subprocess can open it: its URL, and for an in-memory
    SQLite database a file copy handed over before each run and taken back after it."""

    def __init__(self, tmp_path: Path) -> None:
        db = connection.settings_dict
        self.file: Path | None = None
        if connection.vendor == "sqlite":
            if connection.is_in_memory_db():  # type: ignore[attr-defined]
                self.file = tmp_path / "worker.sqlite3"
            self.url = f"sqlite:///{self.file or db['NAME']}"
        else:
            assert connection.vendor == "postgresql"
            user = quote(db["USER"] or "", safe="")
            password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
            self.url = (
                f"postgres://{user}{password}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
                f"/{db['NAME']}"
            )

    def hand_over(self) -> None:
        """Before the worker runs: give it the current data."""
        if self.file is None:
            return
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.file}{suffix}").unlink(missing_ok=True)
        connection.ensure_connection()
        with sqlite3.connect(self.file) as target:
            connection.connection.backup(target)
        target.close()

    def take_back(self) -> None:
        """After the worker stopped (or was killed): see what it did."""
        if self.file is None:
            return
        connection.ensure_connection()
        source = sqlite3.connect(self.file)  # recovers the WAL of a killed worker
        source.backup(connection.connection)
        source.close()

    def unsent(self) -> int:
        """While the worker runs: how many deliveries are not sent yet."""
        sql = f"SELECT COUNT(*) FROM {Delivery._meta.db_table} WHERE status <> 'sent'"
        if self.file is None:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return int(cursor.fetchone()[0])
        reader = sqlite3.connect(f"file:{self.file}?mode=ro", uri=True, timeout=5)
        try:
            return int(reader.execute(sql).fetchone()[0])
        finally:
            reader.close()


class Worker:
    """`regua worker --only deliveries` as a subprocess; its output goes to a log file."""

    def __init__(self, database: WorkerDatabase, smtp_port: int, tmp_path: Path) -> None:
        self.log = tmp_path / "worker.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
        self.env.update(
            DJANGO_SETTINGS_MODULE="regua.settings",
            DATABASE_URL=database.url,
            REGUA_VAR_DIR=str(tmp_path / "var"),
            # The same key and domain as here, so Delivery.message_id agrees.
            SECRET_KEY=settings.SECRET_KEY,
            REGUA_MESSAGE_ID_DOMAIN=settings.REGUA_MESSAGE_ID_DOMAIN,
            EMAIL_BACKEND="smtp",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(smtp_port),
            EMAIL_TIMEOUT="5",
            REGUA_QUIET_HOURS="",
            REGUA_SEND_BATCH=str(BATCH),
            LOG_LEVEL="WARNING",
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "regua", "worker", "--only", "deliveries"],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def signal(self, signum: int, *, timeout: float = 10) -> int:
        """Send `signum` and wait for the process to end; its exit code."""
        assert self.process is not None
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the worker did not stop:\n{self.output()}") from None
        finally:
            self.process = None

    def wait_for(self, condition: Callable[[], bool], seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited early:\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for the worker:\n{self.output()}")
            time.sleep(0.01)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]

    def stop_if_running(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def worker_setup(
    tmp_path: Path, smtp: tuple[Recorder, int]
) -> Iterator[tuple[WorkerDatabase, Worker, Recorder]]:
    recorder, port = smtp
    database = WorkerDatabase(tmp_path)
    worker = Worker(database, port, tmp_path)
    yield database, worker, recorder
    worker.stop_if_running()


def due_welcomes(count: int) -> list[Delivery]:
    """`count` welcome e-mails, due a few minutes ago (the worker sends as of its clock)."""
    activated = timezone.now() - timedelta(minutes=10)
    cadence, _created = cadence_import(yaml.safe_dump(WELCOME, allow_unicode=True))
    with time_machine.travel(activated, tick=False):
        cadence_set_status(cadence, "active")
    contacts = Contact.objects.bulk_create(
        Contact(email=f"cliente{n}@exemplo.com.br", first_name=f"Cliente{n}") for n in range(count)
    )
    Event.objects.bulk_create(
        Event(
            contact=contact,
            name="signup",
            occurred_at=activated + timedelta(minutes=1),
            fingerprint=fingerprint(f"signup:{contact.pk}", {})[0],
        )
        for contact in contacts
    )
    assert tick(now=activated + timedelta(minutes=2), send=False).total.scheduled == count
    return list(Delivery.objects.order_by("id"))


# The tests -------------------------------------------------------------------------------


def test_a_worker_killed_at_random_moments_loses_nothing_and_repeats_keep_their_message_id(
    worker_setup: tuple[WorkerDatabase, Worker, Recorder],
) -> None:
    database, worker, recorder = worker_setup
    # given five hundred welcome e-mails due now
    deliveries = due_welcomes(DELIVERIES)
    expected = {str(d.pk): d.message_id for d in deliveries}
    seed = random.randrange(1_000_000)
    chance = random.Random(seed)
    # when the worker is killed (SIGKILL) ten times while it sends: after a random number
    # of messages in each run (so anywhere in a batch, or between two) and a random pause
    per_run: list[int] = []
    for _ in range(KILLS):
        database.hand_over()
        before = recorder.count()
        target = before + chance.randint(1, MOST_PER_RUN)
        worker.start()
        worker.wait_for(recorder.reached(target))
        time.sleep(chance.uniform(0, 0.03))
        assert worker.signal(signal.SIGKILL) == -signal.SIGKILL, worker.output()
        per_run.append(recorder.count() - before)
        database.take_back()
        # The killed worker's batch comes back when its 5-minute lease ends; here the
        # lease is made to end now instead of waiting for it.
        Delivery.objects.filter(status=DeliveryStatus.SENDING).update(
            lease_until=timezone.now() - timedelta(seconds=1)
        )
    left_after_kills = Delivery.objects.exclude(status=DeliveryStatus.SENT).count()
    # and then runs until the queue is empty and is stopped with SIGTERM
    database.hand_over()
    worker.start()
    worker.wait_for(lambda: database.unsent() == 0)
    exit_code = worker.signal(signal.SIGTERM)
    database.take_back()
    # then it stopped cleanly, and every delivery is sent: none lost
    assert exit_code == 0, worker.output()
    assert Counter(Delivery.objects.values_list("status", flat=True)) == {
        DeliveryStatus.SENT: len(deliveries)
    }
    assert not Delivery.objects.filter(lease_until__isnull=False).exists()
    # and every message received belongs to a delivery and carries its Message-ID, so
    # a repeat is recognisable as the same message
    by_delivery: dict[str, set[str]] = defaultdict(set)
    for message_id, delivery_id in recorder.received:
        by_delivery[delivery_id].add(message_id)
    assert by_delivery == {pk: {message_id} for pk, message_id in expected.items()}
    received_ids = Counter(message_id for message_id, _ in recorder.received)
    assert set(received_ids) == set(expected.values())
    # (the figures, for docs: run with -s to see them)
    repeats = sum(received_ids.values()) - len(received_ids)
    print(
        f"\nworker crash test: seed {seed}; {len(per_run)} kills, after {per_run} messages; "
        f"{DELIVERIES} deliveries, {left_after_kills} left for the final run; "
        f"{len(recorder.received)} messages received, {len(received_ids)} distinct, "
        f"{repeats} repeats (most copies of one message: {max(received_ids.values())})"
    )


def test_sigterm_during_a_batch_finishes_and_records_it_then_exits_0(
    worker_setup: tuple[WorkerDatabase, Worker, Recorder],
) -> None:
    database, worker, recorder = worker_setup
    # given more welcome e-mails than one batch, and a server that takes its time
    deliveries = due_welcomes(BATCH * 4)
    recorder.delay = 0.03  # a batch lasts about 0.75 s
    database.hand_over()
    # when the worker is told to stop (SIGTERM) while it is sending its first batch
    worker.start()
    worker.wait_for(recorder.reached(1))
    exit_code = worker.signal(signal.SIGTERM, timeout=5)
    database.take_back()
    # then it exits 0 after finishing and recording the batch in hand, and nothing else
    assert exit_code == 0, worker.output()
    assert not Delivery.objects.filter(status=DeliveryStatus.SENDING).exists()
    statuses = Counter(Delivery.objects.values_list("status", flat=True))
    assert statuses == {
        DeliveryStatus.SENT: BATCH,
        DeliveryStatus.SCHEDULED: len(deliveries) - BATCH,
    }
    sent = Delivery.objects.filter(status=DeliveryStatus.SENT)
    assert sorted(message_id for message_id, _ in recorder.received) == sorted(
        delivery.message_id for delivery in sent
    )
    assert not Delivery.objects.filter(status=DeliveryStatus.SCHEDULED, attempts__gt=0).exists()

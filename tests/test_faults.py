"""Fault tests (issue 7): what a fault leaves behind, and that the next run finishes the work.

- the importer killed (SIGKILL) in the middle of a large file: whole chunks or nothing,
  the job's recorded progress equal to the rows in the tables, and the resumed job
  ends with exactly the file's rows;
- the mail server down for minutes: transient failures with backoff, then every
  message sent once when it is back;
- a full disk on SQLite (`PRAGMA max_page_count`, which fails the way a full disk
  does) during an import and during the worker's tick and sends: a readable error, no
  partial rows, an intact database, and the work done once there is room again;
- PostgreSQL stopped (fast shutdown) during a tick and started again: the tick fails,
  each régua done whole or not at all, `/healthz` answering 503 meanwhile, and the
  next tick ending as an uninterrupted one would have.

The full-size versions run in `regua bench --only faults` (regua/benchmarks/faults.py).
"""

import os
import random
import shlex
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone
from support.processes import ROOT, ReguaProcess, WorkerDatabase, worker_env
from support.reguas import contacts_with, due_welcomes, regua_on, reguas_activate
from support.smtp import SmtpServer

from regua.benchmarks.csvgen import contacts_csv
from regua.cadences.models import Cadence, Delivery, DeliveryStatus, Enrollment
from regua.cadences.sending import MAX_ATTEMPTS, send_due
from regua.customers.models import Contact
from regua.imports.models import ImportJob, ImportStatus
from regua.imports.runner import KINDS, PARALLEL_MIN_BYTES
from regua.imports.services import import_job_start, import_jobs_resume_stalled
from regua.users.models import User

pytestmark = pytest.mark.django_db(transaction=True)

sqlite_only = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "sqlite").startswith("postgres"),
    reason="PRAGMA max_page_count is SQLite's",
)
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
CHUNK = KINDS["contacts"].chunk_size


def pragma(sql: str) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def vacuum() -> None:
    """Give the free pages back (earlier tests' rows leave some): a capped database may
    then not grow at all, where it could otherwise fill them first."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM")


def external_ids(path: Path, rows: int) -> set[str]:
    """The external ids of the file's first `rows` rows (one row per line, id first)."""
    with path.open(encoding="utf-8") as handle:
        next(handle)
        return {next(handle).split(";", 1)[0] for _ in range(rows)}


def imported() -> Counter[str]:
    return Counter(Contact.objects.values_list("external_id", flat=True))


# 1. The importer, killed ----------------------------------------------------------------

IMPORT_ROWS = 4 * CHUNK + 2000  # 5 MB: read and cleaned in a forked child, as large files are
NOTE = "Prefere contato por WhatsApp à tarde, cliente desde a loja física de Campinas. " * 3


def wide_contacts_csv(path: Path, rows: int) -> Path:
    """Contacts with a long note each, so that a few chunks make a large file."""
    lines = [f"F{n:06d};Cliente {n};cliente{n}@exemplo.com.br;{NOTE}\n" for n in range(rows)]
    path.write_text("external_id;nome;email;observacoes\n" + "".join(lines), encoding="utf-8")
    return path


class JobsWorker(ReguaProcess):
    """`regua worker --only jobs`: django-tasks' database worker, which runs the imports."""

    def start(self, *args: str) -> None:
        super().start("worker", "--only", "jobs", *args)

    def reader_children(self) -> list[int]:
        """The processes it forked (the import's CSV reader), from /proc."""
        assert self.process is not None
        found = []
        for thread in Path(f"/proc/{self.process.pid}/task").iterdir():
            found += [int(pid) for pid in (thread / "children").read_text().split()]
        return found


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_an_import_killed_mid_way_keeps_whole_chunks_and_resumes_to_exactly_the_file(
    tmp_path: Path, settings: Any, alice: User
) -> None:
    settings.MEDIA_ROOT = tmp_path / "var" / "media"
    settings.TASKS = DATABASE_TASKS
    database = WorkerDatabase(tmp_path)
    worker = JobsWorker(database, tmp_path)
    chance = random.Random(seed := random.randrange(1_000_000))
    # given a large CSV of contacts uploaded: the job waits for a worker
    path = wide_contacts_csv(tmp_path / "contatos.csv", IMPORT_ROWS)
    assert path.stat().st_size > PARALLEL_MIN_BYTES
    upload = SimpleUploadedFile("contatos.csv", path.read_bytes(), content_type="text/csv")
    job = import_job_start(kind="contacts", upload=upload, create_contacts=True, user=alice)
    progress = f"SELECT rows FROM {ImportJob._meta.db_table} WHERE id = {job.pk}"
    try:
        # when the worker is killed (SIGKILL) a random moment after it wrote two chunks
        # (in the third, most likely: a chunk takes longer)
        database.hand_over()
        worker.start()
        worker.wait_for(lambda: database.scalar(progress) >= 2 * CHUNK, seconds=60)
        time.sleep(chance.uniform(0, 0.05))
        readers = worker.reader_children()
        assert worker.signal(signal.SIGKILL) == -signal.SIGKILL
        database.take_back()
        # then what it wrote is whole chunks of the file's first rows, exactly as many as
        # the job's recorded progress says, and nothing else
        job.refresh_from_db()
        assert job.status == ImportStatus.RUNNING, (seed, worker.output())
        assert job.rows == job.created and job.rows % CHUNK == 0, seed
        assert job.lines_done == job.rows + 1  # the header is line 1
        assert imported() == Counter(external_ids(path, job.rows)), seed
        killed_at = job.rows
        # and the forked CSV reader did not outlive the worker
        deadline = time.monotonic() + 5
        while any(map(running, readers)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(map(running, readers)), readers
        # when the job, stalled since (no progress for STALLED_AFTER), is queued again
        # and a worker runs until the queue is empty
        later = timezone.now() + ImportJob.STALLED_AFTER + timedelta(seconds=1)
        assert import_jobs_resume_stalled(now=later) == 1
        database.hand_over()
        worker.start("--batch")
        assert worker.wait(timeout=60) == 0, worker.output()
        database.take_back()
    finally:
        worker.stop_if_running()
    # then the job is done and the table holds each row of the file exactly once
    job.refresh_from_db()
    assert (job.status, job.rows, job.created, job.skipped) == ("done", IMPORT_ROWS, IMPORT_ROWS, 0)
    assert imported() == Counter(external_ids(path, IMPORT_ROWS))
    print(f"\nimport kill test: seed {seed}; killed with {killed_at:,} rows in, all there after")


# 2. The mail server, down for minutes ---------------------------------------------------


@pytest.fixture
def smtp_settings(settings: Any, smtp: SmtpServer) -> SmtpServer:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp.port
    settings.EMAIL_TIMEOUT = 5
    settings.REGUA_QUIET_HOURS = ""
    return smtp


def sends_every_30_s(start: datetime, minutes: float, until: float) -> None:
    """The worker's loop, in travelled time: send_due every 30 s from `minutes` to `until`."""
    while minutes < until:
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            send_due()
        minutes += 0.5


def test_a_mail_server_down_for_minutes_gets_every_message_once_when_it_is_back(
    smtp_settings: SmtpServer,
) -> None:
    smtp = smtp_settings
    # given sixty e-mails due, and the mail server down: its port refuses connections
    deliveries = due_welcomes(60)
    smtp.stop()
    start = timezone.now()
    # when the worker tries every 30 s for 8 minutes while it is down
    sends_every_30_s(start, 0, 8)
    # then nothing is lost or given up: each delivery waits for its next attempt, later
    # after each failure (the backoff), with the reason
    waiting = list(Delivery.objects.all())
    assert {d.status for d in waiting} == {DeliveryStatus.SCHEDULED}
    assert {d.attempts for d in waiting} == {3}  # at 0, 1 and 6 minutes: 1, 5, 15 min waits
    assert min(d.due_at for d in waiting) > start + timedelta(minutes=8)
    assert all("Connection refused" in d.reason for d in waiting), waiting[0].reason
    assert smtp.recorder.count() == 0
    # when the server is back and the worker goes on for half an hour
    smtp.start()
    sends_every_30_s(start, 8, 30)
    # then every delivery was sent, once, under its own Message-ID; none failed
    assert Counter(Delivery.objects.values_list("status", flat=True)) == {
        DeliveryStatus.SENT: len(deliveries)
    }
    assert max(Delivery.objects.values_list("attempts", flat=True)) < MAX_ATTEMPTS
    assert smtp.recorder.message_ids() == Counter(d.message_id for d in deliveries)


# 3. A full disk (SQLite) ------------------------------------------------------------------


class DiskFills:
    """A full disk from the next chunk of an import on: once the import has recorded its
    first chunk, the database may not grow by a page more (`PRAGMA max_page_count`)."""

    def __init__(self) -> None:
        self.full = False
        self.lift_to = pragma("PRAGMA max_page_count")
        vacuum()

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if not self.full and sql.startswith('UPDATE "imports_importjob"') and "lines_done" in sql:
            raw = context["connection"].connection
            pages = raw.execute("PRAGMA page_count").fetchone()[0]
            raw.execute(f"PRAGMA max_page_count = {pages + 1}")
            self.full = True
        return result

    def lift(self) -> None:
        pragma(f"PRAGMA max_page_count = {self.lift_to}")


@sqlite_only
def test_a_full_disk_fails_an_import_with_a_clear_message_and_the_retry_finishes_it(
    tmp_path: Path, settings: Any, alice: User, client_for: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    rows = 2 * CHUNK + 2000
    path = contacts_csv(tmp_path / "contatos.csv", rows)
    upload = SimpleUploadedFile("contatos.csv", path.read_bytes(), content_type="text/csv")
    disk = DiskFills()
    # when the disk fills up after the first chunk of an import (run inline here)
    with connection.execute_wrapper(disk):
        job = import_job_start(kind="contacts", upload=upload, create_contacts=True, user=alice)
    # then the import failed, and says why and what to do in words a user reads
    job.refresh_from_db()
    assert disk.full and job.status == ImportStatus.FAILED
    assert job.failure == (
        "the database's disk is full: free some space, then retry. The lines up to "
        f"{CHUNK + 1} are imported; a retry goes on from the next one."
    )
    # and the first chunk is there whole, the second not at all; the file is sound
    assert (job.rows, job.created, job.lines_done) == (CHUNK, CHUNK, CHUNK + 1)
    assert imported() == Counter(external_ids(path, CHUNK))
    assert pragma("PRAGMA integrity_check") == "ok"
    # when there is room again and the user retries from the import's page
    disk.lift()
    client = client_for(alice)
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "disk is full" in page and f'action="/imports/{job.pk}/retry/"' in page
    assert client.post(f"/imports/{job.pk}/retry/").status_code == 302
    # then the import is done with every row of the file, once
    job.refresh_from_db()
    assert (job.status, job.rows, job.created, job.failure) == ("done", rows, rows, "")
    assert imported() == Counter(external_ids(path, rows))


FULL = "worker (tick): database or disk is full"


def integrity(file: Path) -> str:
    with sqlite3.connect(file) as check:
        return str(check.execute("PRAGMA integrity_check").fetchone()[0])


@sqlite_only
def test_a_full_disk_under_the_worker_is_logged_leaves_each_regua_whole_and_loses_nothing(
    tmp_path: Path, smtp: SmtpServer
) -> None:
    smtp.recorder.delay = 0
    entered = timezone.now() - timedelta(minutes=5)
    # given three réguas with entries to enroll: a small one first (priority), two large
    reguas_activate(
        [
            regua_on("pequena", "convite", priority=9),
            regua_on("grande-1", "signup", steps=2),
            regua_on("grande-2", "signup", steps=2),
        ],
        entered - timedelta(minutes=5),
    )
    contacts_with({"convite": 10, "signup": 200}, 200, entered)
    expected = {"pequena": (10, 10), "grande-1": (200, 400), "grande-2": (200, 400)}
    vacuum()
    database = WorkerDatabase(tmp_path)
    database.hand_over()
    assert database.file is not None
    pages = sqlite3.connect(database.file).execute("PRAGMA page_count").fetchone()[0]
    # when the worker runs on a disk with room for the small régua only (64 KB more)
    capped = worker_env(smtp.port, batch=100) | {
        "DJANGO_SETTINGS_MODULE": "support.capped_settings",
        "PYTHONPATH": str(ROOT / "tests"),
        "REGUA_TEST_MAX_PAGES": str(pages + 16),
    }
    worker = ReguaProcess(database, tmp_path, capped)
    worker.start("worker", "--only", "deliveries")
    try:
        # then it says why, naming the phase, once (not at every tick), and goes on
        # sending meanwhile; it stops cleanly when told to
        worker.wait_for(smtp.recorder.reached(10))
        worker.wait_for(lambda: FULL in worker.output())
        assert worker.signal(signal.SIGTERM) == 0, worker.output()
    finally:
        worker.stop_if_running()
    database.take_back()
    # and each régua is whole or untouched: the small one enrolled, scheduled and sent,
    # the large ones not begun (their watermark unmoved, no row); the file is sound
    for cadence in Cadence.objects.all():
        found = (cadence.enrollments.count(), cadence.deliveries.count())
        if cadence.key == "pequena":
            assert found == expected["pequena"]
        else:
            assert found == (0, 0) and cadence.enrolled_through == cadence.activated_at
    assert integrity(database.file) == "ok"
    # when there is room again and the worker runs until nothing is due
    database.hand_over()
    worker = ReguaProcess(database, tmp_path, worker_env(smtp.port, batch=100))
    assert worker.run("worker", "--only", "deliveries", "--batch") == 0, worker.output()
    database.take_back()
    # then every régua has all its rows, every delivery went out under its own
    # Message-ID, and none twice
    assert {
        c.key: (c.enrollments.count(), c.deliveries.count()) for c in Cadence.objects.all()
    } == expected
    deliveries = list(Delivery.objects.all())
    assert {d.status for d in deliveries} == {DeliveryStatus.SENT}
    assert smtp.recorder.message_ids() == Counter(d.message_id for d in deliveries)
    assert integrity(database.file) == "ok"


# 4. PostgreSQL stopped during a tick -----------------------------------------------------

PG_CTL = os.environ.get("REGUA_TEST_PG_CTL", "")
TICK_REGUAS = 4
TICK_CONTACTS = 2000


def pg_ctl(*args: str) -> None:
    subprocess.run([*shlex.split(PG_CTL), "-w", *args], check=True, capture_output=True)


@pytest.fixture
def pg_stoppable() -> Iterator[None]:
    """The test cluster, which this test may stop: started again whatever happens."""
    if connection.vendor != "postgresql" or not PG_CTL:
        pytest.skip("needs the PostgreSQL cluster of scripts/with-postgres.sh")
    yield
    subprocess.run([*shlex.split(PG_CTL), "-w", "restart"], capture_output=True)
    connection.close()


def tick_backend_in_transaction() -> bool:
    """Whether the tick's session is inside a transaction (a régua's phases) now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM pg_stat_activity "
            "WHERE application_name = 'regua-fault-tick' AND xact_start IS NOT NULL"
        )
        return bool(cursor.fetchone()[0])


def test_postgresql_stopped_during_a_tick_leaves_each_regua_whole_and_the_next_tick_ends_it(
    pg_stoppable: None, tmp_path: Path
) -> None:
    entered = timezone.now() - timedelta(minutes=5)
    # given four réguas with two thousand entries each to enroll and schedule
    reguas_activate(
        [regua_on(f"regua-{n}", "signup", steps=2) for n in range(TICK_REGUAS)],
        entered - timedelta(minutes=5),
    )
    contacts_with({"signup": TICK_CONTACTS}, TICK_CONTACTS, entered)
    watermark = {c.key: c.enrolled_through for c in Cadence.objects.all()}
    now = timezone.now().isoformat()
    database = WorkerDatabase(tmp_path)
    database.url += "?application_name=regua-fault-tick"
    ticker = ReguaProcess(database, tmp_path)
    # when PostgreSQL stops (fast shutdown) while `regua tick` is in a régua's phases,
    # after at least one régua is done
    ticker.start("tick", "--now", now, "--no-send")
    ticker.wait_for(
        lambda: (
            Cadence.objects.exclude(enrolled_through__in=watermark.values()).exists()
            and tick_backend_in_transaction()
        ),
        seconds=60,
    )
    pg_ctl("stop", "-m", "fast")
    connection.close()
    exit_code = ticker.wait(timeout=30)
    # then the tick fails, saying that the database went away, and the health check
    # answers 503 meanwhile
    assert exit_code == 1, ticker.output()
    assert "OperationalError" in ticker.output(), ticker.output()
    assert Client().get("/healthz").status_code == 503
    # when PostgreSQL is back
    pg_ctl("restart")
    connection.close()
    assert Client().get("/healthz").status_code == 200
    # then each régua is whole or untouched: done with all its rows and its watermark
    # moved, or not begun at all
    done = 0
    for cadence in Cadence.objects.all():
        found = (cadence.enrollments.count(), cadence.deliveries.count())
        if cadence.enrolled_through == watermark[cadence.key]:
            assert found == (0, 0), cadence.key
        else:
            assert found == (TICK_CONTACTS, 2 * TICK_CONTACTS), cadence.key
            done += 1
    assert 1 <= done < TICK_REGUAS
    # when the tick runs again as of the same instant
    assert ticker.run("tick", "--now", now, "--no-send") == 0, ticker.output()
    # then the counts are those of an uninterrupted tick: every entry enrolled once and
    # both steps scheduled once for each
    assert Enrollment.objects.count() == TICK_REGUAS * TICK_CONTACTS
    assert Delivery.objects.count() == 2 * TICK_REGUAS * TICK_CONTACTS
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SCHEDULED}
    print(f"\npg stop test: {done} of {TICK_REGUAS} réguas done before the stop")

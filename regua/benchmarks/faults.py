"""Faults at full size (issue 7), for `regua bench --only faults`: reconciled counts.

The small versions are tests/test_faults.py and tests/test_worker_crash.py; these run
the same faults on the configured database at the scale of a real day, with real
processes, and count what came out:

1. the importer (`regua worker --only jobs`) killed (SIGKILL) several times during a
   large CSV import, resumed each time from the job's last chunk;
2. the delivery worker (`regua worker --only deliveries`) killed several times while
   it sends to an SMTP server on loopback that keeps every Message-ID it accepts;
3. that SMTP server down for minutes (connection refused) while the sends are
   retried with the real BACKOFF, in simulated time (`send_due(now=...)`);
4. PostgreSQL restarted (`pg_ctl restart -m fast`) during a `regua tick` with a lot of
   work, then the tick run again (needs REGUA_TEST_PG_CTL: scripts/with-postgres.sh);
5. SQLite's disk full (`PRAGMA max_page_count`) during an import and during a tick,
   then room again and a retry.

After each: expected against found, rows or messages twice, rows or messages lost.
It creates its own data (contacts, réguas, events), each run under its own names, so it
can run on an empty database: `REGUA_VAR_DIR=var/benchfaults regua bench --only faults`.
"""

import email.parser
import logging
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from django.core.files import File
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test.utils import override_settings
from django.utils import timezone

from regua.cadences.models import Cadence, Delivery, DeliveryStatus, Enrollment
from regua.cadences.sending import MAX_ATTEMPTS, send_due
from regua.cadences.tick import Tally, cadence_tick, tick
from regua.cadences.yaml_io import cadence_import, cadence_set_status
from regua.customers.models import Contact
from regua.events.ingest import fingerprint
from regua.events.models import Event
from regua.imports.models import ImportJob, ImportStatus
from regua.imports.runner import KINDS
from regua.imports.services import import_job_retry, import_jobs_resume_stalled
from regua.imports.tasks import import_job_run

from .measure import _free_port, _wait_for

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
# The output of the processes of the last run, for a look when a figure is odd.
LOGS = Path(tempfile.gettempdir()) / "regua-faults"


@dataclass
class Reconciled:
    """One fault's outcome: what should be there, what is, twice, missing."""

    fault: str
    expected: int
    found: int
    duplicates: int
    lost: int
    notes: str = ""


def faults(*, scale: float = 1.0, seed: int | None = None) -> dict[str, Any]:
    """Run every fault that fits this database; the reconciliation and its markdown."""
    call_command("migrate", verbosity=0)
    shutil.rmtree(LOGS, ignore_errors=True)
    LOGS.mkdir()
    seed = random.randrange(1_000_000) if seed is None else seed
    rng = random.Random(seed)
    run = f"{int(time.time()) % 10**8}"
    sizes = {
        # at least a few chunks of an import, so that there is a middle to fail in
        "import_rows": max(int(200_000 * scale), 20_000),
        "import_kills": 3,
        "deliveries": int(50_000 * scale),
        "worker_kills": 5,
        "smtp_deliveries": int(10_000 * scale),
        "smtp_down_minutes": 3,
        "tick_reguas": 4,
        "tick_contacts": int(20_000 * scale),
        "disk_rows": max(int(100_000 * scale), 15_000),
    }
    rows: list[Reconciled] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        rows.append(import_killed(Path(folder), run, sizes, rng))
    contacts = _contact_pool(run, sizes)
    rows.append(worker_killed(run, contacts[: sizes["deliveries"]], sizes["worker_kills"], rng))
    rows.append(smtp_down(run, contacts[: sizes["smtp_deliveries"]], sizes["smtp_down_minutes"]))
    rows.append(pg_restart_during_tick(run, contacts[: sizes["tick_contacts"]], sizes))
    if connection.vendor == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            rows.append(disk_full_import(Path(folder), run, sizes["disk_rows"], rng))
        rows.append(disk_full_tick(run, contacts[: sizes["tick_contacts"]], sizes))
    return {
        "seed": seed,
        "database": connection.vendor,
        "sizes": sizes,
        "seconds": round(time.perf_counter() - started, 1),
        "faults": [asdict(row) for row in rows],
        "markdown": markdown(rows),
    }


def markdown(rows: list[Reconciled]) -> str:
    lines = [
        "| fault | expected | found | twice | lost | notes |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.fault} | {row.expected:,} | {row.found:,} | {row.duplicates:,} "
            f"| {row.lost:,} | {row.notes} |"
        )
    return "\n".join(lines)


# Processes --------------------------------------------------------------------------------


class _Process:
    """`python -m regua ARGS` on this database (the same environment), output to a log."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        handle, name = tempfile.mkstemp(prefix=f"{args[0]}-", suffix=".log", dir=LOGS)
        os.close(handle)
        self.log = Path(name)
        with self.log.open("ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "regua", *args],
                env={**os.environ, "LOG_LEVEL": "WARNING", **(env or {})},
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until(self, condition: Callable[[], bool], seconds: float = 600) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if self.popen.poll() is not None:
                raise RuntimeError(f"the process ended early:\n{self.output()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"timed out:\n{self.output()}")
            time.sleep(0.02)

    def children(self) -> list[int]:
        """The processes it forked (Linux's /proc; none elsewhere)."""
        found: list[int] = []
        for thread in Path(f"/proc/{self.popen.pid}/task").glob("*"):
            found += [int(pid) for pid in (thread / "children").read_text().split()]
        return found

    def kill(self) -> int:
        self.popen.send_signal(signal.SIGKILL)
        return self.popen.wait()

    def stop(self) -> int:
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout=120)

    def wait(self, seconds: float = 600) -> int:
        return self.popen.wait(timeout=seconds)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _orphans(pids: list[int], seconds: float = 5) -> int:
    """How many of `pids` are still running after `seconds`."""
    deadline = time.monotonic() + seconds
    while any(map(_alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return sum(map(_alive, pids))


# 1. The importer, killed ------------------------------------------------------------------


def _contacts_csv(path: Path, run: str, rows: int) -> Path:
    cities = [("São Paulo", "SP"), ("Recife", "PE"), ("Curitiba", "PR"), ("Manaus", "AM")]
    with path.open("w", encoding="utf-8") as handle:
        handle.write("external_id;nome;email;telefone;cidade;uf\n")
        for n in range(rows):
            city, uf = cities[n % len(cities)]
            handle.write(
                f"F{run}-{n:07d};Cliente {n} da Silva;falha{run}.{n}@exemplo.com.br;"
                f"(11) 9{n % 9000 + 1000}-{n % 10000:04d};{city};{uf}\n"
            )
    return path


def _job_for(path: Path, kind: str = "contacts") -> ImportJob:
    with path.open("rb") as handle:
        return ImportJob.objects.create(
            kind=kind,
            file=File(handle, name=path.name),
            original_name=path.name,
            total_bytes=path.stat().st_size,
            language="en",
        )


def _in_table(run: str) -> tuple[int, int]:
    """(rows, distinct external ids) of this run's contacts."""
    mine = Contact.objects.filter(external_id__startswith=f"F{run}-")
    return mine.count(), mine.values("external_id").distinct().count()


def import_killed(folder: Path, run: str, sizes: dict[str, int], rng: random.Random) -> Reconciled:
    """A CSV import killed `import_kills` times, each time resumed by the stalled-job
    sweep, then run to its end. After each kill the job's recorded rows must equal the
    rows in the table (whole chunks only)."""
    rows, kills = sizes["import_rows"], sizes["import_kills"]
    chunk = KINDS["contacts"].chunk_size
    job = _job_for(_contacts_csv(folder / f"falhas-{run}.csv", run, rows))
    import_job_run.enqueue(job.pk)
    killed_at, mismatches, orphans = [], 0, 0
    for kill in range(kills):
        # spread over the file, and at least one more chunk each run
        target = max(
            rows * (kill + 1) // (kills + 1) + rng.randint(-chunk, chunk), job.rows + chunk
        )
        worker = _Process("worker", "--only", "jobs")
        worker.wait_until(lambda: _progress(job) >= target)  # noqa: B023
        time.sleep(rng.uniform(0, 0.3))  # a chunk takes longer: most kills land in one
        readers = worker.children()
        worker.kill()
        job.refresh_from_db()
        found, _distinct = _in_table(run)
        killed_at.append(f"{job.rows:,}" if job.status == ImportStatus.RUNNING else "all")
        mismatches += job.created != found or job.rows % chunk != 0
        orphans += _orphans(readers)
        later = timezone.now() + ImportJob.STALLED_AFTER + timedelta(seconds=1)
        import_jobs_resume_stalled(now=later)
    worker = _Process("worker", "--only", "jobs", "--batch")
    worker.wait()
    job.refresh_from_db()
    found, distinct = _in_table(run)
    return Reconciled(
        f"importer SIGKILLed {kills}× during a {rows:,}-row CSV",
        rows,
        found,
        found - distinct,
        rows - distinct,
        f"job {job.status}, report {job.created:,} created; killed with "
        f"{', '.join(killed_at)} rows in, each time whole chunks matching the "
        f"job's record: {'yes' if not mismatches else f'no ({mismatches})'}; "
        f"reader processes left behind: {orphans}",
    )


def _progress(job: ImportJob) -> float:
    """The rows the job has written; infinite once it is over (a small file may end
    before the moment chosen to kill it)."""
    rows, status = ImportJob.objects.filter(pk=job.pk).values_list("rows", "status")[0]
    return float("inf") if status in (ImportStatus.DONE, ImportStatus.FAILED) else rows


def _contact_pool(run: str, sizes: dict[str, int]) -> list[int]:
    """Ids of contacts with an e-mail for the sending faults: this run's imported ones,
    topped up with new ones when the scale asks for more."""
    wanted = max(sizes["deliveries"], sizes["smtp_deliveries"], sizes["tick_contacts"])
    mine = Contact.objects.filter(external_id__startswith=f"F{run}-").order_by("id")
    ids = list(mine.values_list("id", flat=True)[:wanted])
    if len(ids) < wanted:
        extra = Contact.objects.bulk_create(
            Contact(email=f"extra{run}.{n}@exemplo.com.br", first_name=f"Extra{n}")
            for n in range(wanted - len(ids))
        )
        ids += [contact.pk for contact in extra]
    return ids


# Réguas and their work ----------------------------------------------------------------------


def _regua(key: str, event: str, *, steps: int = 1) -> Cadence:
    """A transactional régua on `event` whose e-mail steps are all due at entry, active
    since an hour ago."""
    step = {
        "offset": 0,
        "channel": "email",
        "message": {
            "pt-br": {
                "subject": "Bem-vindo, {{ contact.first_name }}!",
                "body": "Olá, {{ contact.first_name }}! Sua conta está pronta.",
            }
        },
    }
    definition = {
        "key": key,
        "name": key,
        "objective": "conversion",
        "marketing": False,
        "trigger": {"kind": "event", "event": event},
        "steps": [{**step, "key": f"email-{n}"} for n in range(steps)],
    }
    cadence, _created = cadence_import(yaml.safe_dump(definition, allow_unicode=True))
    cadence_set_status(cadence, "active")
    since = timezone.now() - timedelta(hours=1)
    Cadence.objects.filter(pk=cadence.pk).update(activated_at=since, enrolled_through=since)
    cadence.steps.update(scheduled_through=since)
    cadence.refresh_from_db()
    return cadence


def _entries(event: str, contact_ids: list[int], at: datetime) -> None:
    batch = 10_000
    for start in range(0, len(contact_ids), batch):
        Event.objects.bulk_create(
            Event(
                contact_id=pk,
                name=event,
                occurred_at=at,
                fingerprint=fingerprint(f"{event}:{pk}", {})[0],
            )
            for pk in contact_ids[start : start + batch]
        )


def _due(key: str, event: str, contact_ids: list[int]) -> Cadence:
    """One e-mail due now for each contact, in a régua of its own."""
    cadence = _regua(key, event)
    now = timezone.now()
    _entries(event, contact_ids, now - timedelta(minutes=5))
    cadence_tick(cadence, now=now, tally=Tally())
    return cadence


def _pause(*cadences: Cadence) -> None:
    for cadence in cadences:
        cadence_set_status(cadence, "paused")


# The SMTP server that counts ----------------------------------------------------------------


class _Received:
    """Keeps the Message-ID and X-Regua-Delivery of every message accepted, repeats too."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.parser = email.parser.BytesHeaderParser()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        headers = self.parser.parsebytes(envelope.content)
        with self.lock:
            self.messages.append((str(headers["Message-ID"]), str(headers["X-Regua-Delivery"])))
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.messages)

    def reconcile(self, cadence: Cadence) -> tuple[int, int, int, int, int]:
        """(expected, found, twice, lost, not ours) for the régua's deliveries."""
        expected = Delivery.objects.filter(cadence=cadence).only("id")
        wanted = {delivery.message_id: str(delivery.pk) for delivery in expected}
        with self.lock:
            copies = Counter(
                message_id
                for message_id, delivery in self.messages
                if wanted.get(message_id) == delivery
            )
            others = len(self.messages) - sum(copies.values())
        found = len(copies)
        twice = sum(copies.values()) - found
        return len(expected), found, twice, len(expected) - found, others


@contextmanager
def _smtp(port: int = 0) -> Iterator[tuple[_Received, int]]:
    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    received = _Received()
    port = port or _free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield received, port
    finally:
        controller.stop()


def _worker_env(port: int) -> dict[str, str]:
    return {
        "EMAIL_BACKEND": "smtp",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_TIMEOUT": "10",
        "REGUA_QUIET_HOURS": "",
    }


# 2. The delivery worker, killed --------------------------------------------------------------


def worker_killed(run: str, contact_ids: list[int], kills: int, rng: random.Random) -> Reconciled:
    """Deliveries sent by a worker killed `kills` times at random moments; the batch it
    held comes back when its lease ends (made to end at once here, instead of 5 min)."""
    cadence = _due(f"falha-worker-{run}", f"bench_fault_worker_{run}", contact_ids)
    total = Delivery.objects.filter(cadence=cadence).count()
    started = time.perf_counter()
    with _smtp() as (received, port):
        for kill in range(kills):
            target = min(total * (kill + 1) // (kills + 2) + rng.randint(0, 500), total - 1)
            worker = _Process("worker", "--only", "deliveries", env=_worker_env(port))
            worker.wait_until(lambda: received.count() >= target)  # noqa: B023
            time.sleep(rng.uniform(0, 0.5))
            worker.kill()
            Delivery.objects.filter(cadence=cadence, status=DeliveryStatus.SENDING).update(
                lease_until=timezone.now() - timedelta(seconds=1)
            )
        worker = _Process("worker", "--only", "deliveries", env=_worker_env(port))
        unsent = Delivery.objects.filter(cadence=cadence).exclude(status=DeliveryStatus.SENT)
        worker.wait_until(lambda: not unsent.exists())
        worker.stop()
        expected, found, twice, lost, others = received.reconcile(cadence)
    seconds = time.perf_counter() - started
    _pause(cadence)
    return Reconciled(
        f"delivery worker SIGKILLed {kills}× during {total:,} e-mails",
        expected,
        found,
        twice,
        lost,
        f"every repeat under its first Message-ID; {total / seconds:,.0f} e-mails/s overall; "
        f"not ours: {others}",
    )


# 3. The mail server, down ----------------------------------------------------------------------


def smtp_down(run: str, contact_ids: list[int], minutes: int) -> Reconciled:
    """E-mails due while the mail server refuses connections for `minutes`; sends every
    30 s of simulated time for half an hour, with the real backoff."""
    cadence = _due(f"falha-smtp-{run}", f"bench_fault_smtp_{run}", contact_ids)
    start = timezone.now()
    port = _free_port()
    email_settings = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": port,
        "EMAIL_TIMEOUT": 10,
        "REGUA_QUIET_HOURS": "",
    }
    sent_at: list[float] = []
    attempts_while_down = 0
    with override_settings(**email_settings), ExitStack() as server:
        received = None
        for moment in (n / 2 for n in range(61)):  # every 30 s for half an hour
            if received is None and moment >= minutes:  # the server is back
                attempts_while_down = max(
                    Delivery.objects.filter(cadence=cadence).values_list("attempts", flat=True)
                )
                received, _port = server.enter_context(_smtp(port))
                _wait_for(port)
            handled = send_due(now=start + timedelta(minutes=moment), cadence=cadence)
            if handled and received is not None:
                sent_at.append(moment)
        assert received is not None
        expected, found, twice, lost, _others = received.reconcile(cadence)
    statuses = Counter(Delivery.objects.filter(cadence=cadence).values_list("status", flat=True))
    attempts = max(Delivery.objects.filter(cadence=cadence).values_list("attempts", flat=True))
    _pause(cadence)
    return Reconciled(
        f"SMTP down {minutes} min (connection refused), {expected:,} e-mails due",
        expected,
        found,
        twice,
        lost,
        f"{attempts_while_down} attempts while down, sent at +{min(sent_at, default=0):g} min "
        f"(backoff), at most {attempts}/{MAX_ATTEMPTS} attempts; failed: "
        f"{statuses.get(DeliveryStatus.FAILED, 0)}, left unsent: "
        f"{sum(n for s, n in statuses.items() if s != DeliveryStatus.SENT)}",
    )


# 4. PostgreSQL restarted during a tick ------------------------------------------------------


def _tick_reguas(run: str, prefix: str, contact_ids: list[int], count: int) -> list[Cadence]:
    event = f"bench_fault_{prefix}_{run}"
    cadences = [_regua(f"falha-{prefix}-{run}-{n}", event, steps=2) for n in range(count)]
    _entries(event, contact_ids, timezone.now() - timedelta(minutes=5))
    return cadences


def _whole_or_untouched(cadences: list[Cadence], contacts: int) -> tuple[int, int]:
    """(réguas done, réguas half-done): done = its watermark moved and all its rows are
    there; untouched = neither; anything else is half-done."""
    done = half = 0
    for cadence in cadences:
        moved = Cadence.objects.get(pk=cadence.pk).enrolled_through != cadence.enrolled_through
        rows = (
            Enrollment.objects.filter(cadence=cadence).count(),
            Delivery.objects.filter(cadence=cadence).count(),
        )
        if moved and rows == (contacts, 2 * contacts):
            done += 1
        elif moved or rows != (0, 0):
            half += 1
    return done, half


def _tick_counts(cadences: list[Cadence]) -> tuple[int, int]:
    enrollments = Enrollment.objects.filter(cadence__in=cadences)
    deliveries = Delivery.objects.filter(cadence__in=cadences)
    return (
        enrollments.count() + deliveries.count(),
        enrollments.values("cadence_id", "contact_id").distinct().count()
        + deliveries.values("enrollment_id", "step_id").distinct().count(),
    )


def pg_restart_during_tick(run: str, contact_ids: list[int], sizes: dict[str, int]) -> Reconciled:
    """`regua tick` with a lot of work, PostgreSQL restarted (fast shutdown) while it is
    in a régua's transaction, then the tick run again as of the same instant."""
    count = sizes["tick_reguas"]
    title = f"PostgreSQL restarted during a tick ({count} réguas × {len(contact_ids):,})"
    pg_ctl = os.environ.get("REGUA_TEST_PG_CTL", "")
    if connection.vendor != "postgresql" or not pg_ctl:
        return Reconciled(title, 0, 0, 0, 0, "not run: needs the cluster of with-postgres.sh")
    cadences = _tick_reguas(run, "pg", contact_ids, count)
    expected = count * len(contact_ids) * 3  # an enrollment and two deliveries each
    now = timezone.now().isoformat()
    ticker = _Process("tick", "--now", now, "--no-send")
    ticker.wait_until(lambda: _whole_or_untouched(cadences, len(contact_ids))[0] >= 1)
    subprocess.run([*shlex.split(pg_ctl), "-w", "-m", "fast", "restart"], check=True)
    connection.close()
    exit_code = ticker.wait()
    done, half = _whole_or_untouched(cadences, len(contact_ids))
    error = next((line for line in reversed(ticker.output().splitlines()) if line.strip()), "")
    again = _Process("tick", "--now", now, "--no-send").wait()
    found, distinct = _tick_counts(cadences)
    _pause(*cadences)
    return Reconciled(
        title + ": enrollments + deliveries",
        expected,
        found,
        found - distinct,
        expected - distinct,
        f"first tick exit {exit_code} ({' '.join(error.split())[:160]}); "
        f"réguas done before it: {done}, "
        f"half-done: {half}; second tick exit {again}",
    )


# 5. A full disk (SQLite) ---------------------------------------------------------------------


class _FillsUp:
    """From the moment `when(sql)` first holds, the database may not grow by a page."""

    def __init__(self, when: Callable[[str], bool]) -> None:
        self.when = when
        self.full = False
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA max_page_count")
            self.lift_to = cursor.fetchone()[0]
            cursor.execute("PRAGMA freelist_count")
            self.free_pages = cursor.fetchone()[0]

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if not self.full and self.when(sql):
            raw = context["connection"].connection
            pages = raw.execute("PRAGMA page_count").fetchone()[0]
            raw.execute(f"PRAGMA max_page_count = {pages + 1}")
            self.full = True
        return result

    def lift(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA max_page_count = {self.lift_to}")


def _integrity() -> str:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA quick_check")
        return str(cursor.fetchone()[0])


def disk_full_import(folder: Path, run: str, rows: int, rng: random.Random) -> Reconciled:
    """The disk fills up after a random number of chunks of an import; then room again,
    and the retry the import's page offers."""
    chunk = KINDS["contacts"].chunk_size
    drun = f"D{run}"
    job = _job_for(_contacts_csv(folder / f"disco-{run}.csv", drun, rows))
    chunks_before = rng.randint(1, max(1, rows // chunk - 1))
    progress = {"n": 0}

    def after_chunks(sql: str) -> bool:
        if sql.startswith('UPDATE "imports_importjob"') and "lines_done" in sql:
            progress["n"] += 1
        return progress["n"] >= chunks_before

    disk = _FillsUp(after_chunks)
    with connection.execute_wrapper(disk):
        import_job_run.call(job.pk)
    job.refresh_from_db()
    status, failure, saved = job.status, job.failure, job.created
    in_table, _distinct = _in_table(drun)
    check = _integrity()
    disk.lift()
    import_job_retry(job=job)
    import_job_run.call(job.pk)  # the queued task finds it done and does nothing
    job.refresh_from_db()
    found, distinct = _in_table(drun)
    return Reconciled(
        f"SQLite disk full during a {rows:,}-row import, then a retry",
        rows,
        found,
        found - distinct,
        rows - distinct,
        f"first run {status} after {saved:,} rows ({in_table:,} in the table): “{failure}”; "
        f"quick_check {check}; retry {job.status}; free pages before: {disk.free_pages}",
    )


def disk_full_tick(run: str, contact_ids: list[int], sizes: dict[str, int]) -> Reconciled:
    """The disk fills up once the tick has finished its first régua; then room again and
    the next tick."""
    count = sizes["tick_reguas"]
    cadences = _tick_reguas(run, "disco", contact_ids, count)
    expected = count * len(contact_ids) * 3
    now = timezone.now()
    disk = _FillsUp(lambda sql: 'UPDATE "cadences_cadence" SET "enrolled_through"' in sql)
    error = ""
    try:
        with connection.execute_wrapper(disk):
            tick(now=now, send=False)
    except OperationalError as exc:
        error = str(exc)
    done, half = _whole_or_untouched(cadences, len(contact_ids))
    check = _integrity()
    disk.lift()
    tick(now=now, send=False)
    found, distinct = _tick_counts(cadences)
    _pause(*cadences)
    return Reconciled(
        f"SQLite disk full during a tick ({count} réguas × {len(contact_ids):,}): "
        "enrollments + deliveries",
        expected,
        found,
        found - distinct,
        expected - distinct,
        f"first tick: “{error}”; réguas done: {done}, half-done: {half}; quick_check {check}; "
        f"free pages before: {disk.free_pages}",
    )

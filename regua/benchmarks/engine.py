"""Engine figures: the tick on the data there is, and sending against a bare smtplib loop.

Sending is measured into a local SMTP server on loopback that accepts and discards
(`sink_name`):
first a bare `smtplib` loop sending the same pre-rendered messages over one connection
(the floor), then the worker's path (claim → guards → render → send → record).
"""

import os
import shutil
import smtplib
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

from django.core import mail
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from regua.cadences.models import Cadence, Delivery, DeliveryStatus, Step
from regua.cadences.sending import send_due
from regua.cadences.tick import Tally, cadence_tick, tick
from regua.cadences.yaml_io import cadence_import, cadence_set_status
from regua.customers.models import Contact
from regua.events.ingest import fingerprint
from regua.events.models import Event
from regua.lib.bulk import statistics_refresh

from .measure import _free_port, _wait_for

BENCH_REGUA = """
key: bench-send
name: Benchmark de envio
objective: conversion
marketing: false
trigger: {kind: event, event: bench_signup}
steps:
  - key: welcome
    offset: 0
    channel: email
    message:
      pt-br:
        subject: "Boas-vindas, {{ contact.first_name }}!"
        body: |
          Olá, {{ contact.first_name }}!

          Sua conta está pronta. Preparamos um benefício para o seu primeiro mês.

          [Acessar minha conta]({{ links.site }})
"""


SINK = "aiosmtpd.handlers.Sink"


def sink_name() -> str:
    """Which discarding SMTP server the benchmarks send to.

    Postfix's `smtp-sink` (C, written to benchmark mail clients) when it is installed:
    it needs about 0.1 ms of CPU per message, against 0.6 ms for aiosmtpd's Python
    handler, and on a two-core machine every millisecond the server spends is taken from
    the processes being measured. `REGUA_BENCH_SINK=aiosmtpd` picks aiosmtpd anyway.
    """
    wanted = os.environ.get("REGUA_BENCH_SINK", "")
    if wanted not in ("", "aiosmtpd", "smtp-sink"):
        raise RuntimeError(f"REGUA_BENCH_SINK={wanted!r}: say 'smtp-sink' or 'aiosmtpd'")
    if wanted == "aiosmtpd":
        return "aiosmtpd"
    if _smtp_sink_path():
        return "smtp-sink"
    if wanted == "smtp-sink":
        raise RuntimeError(
            "smtp-sink is not installed (apt-get install --no-install-recommends postfix)"
        )
    return "aiosmtpd"


def _smtp_sink_path() -> str | None:
    return shutil.which("smtp-sink") or shutil.which("smtp-sink", path="/usr/sbin")


def _sink(port: int) -> subprocess.Popen[bytes]:
    """A discarding SMTP server (see `sink_name`) in a process of its own, as a real
    server would be: in ours it would take the GIL from the sender being measured."""
    if sink_name() == "smtp-sink":
        # As root, smtp-sink insists on dropping to another user once it listens.
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        command = [str(_smtp_sink_path()), *user, f"127.0.0.1:{port}", "1024"]
    else:
        command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", SINK]
    server = subprocess.Popen(command)
    _wait_for(port, 20)
    return server


def sending(messages: int = 5000, runs: int = 3) -> dict[str, Any]:
    """The worker's path (claim → guards → render → send → record) against a bare
    smtplib loop sending the very messages the worker renders, over one connection; each
    also without PIPELINING (smtplib's `sendmail`, REGUA_SMTP_PIPELINING off), when the
    server offers it, alternating in the same run."""
    port = _free_port()
    server = _sink(port)
    cadence = _bench_regua(messages)
    figures: dict[str, list[float]] = {
        "smtplib": [], "smtplib_pipelined": [], "worker": [], "worker_unpipelined": []
    }  # fmt: skip
    try:
        raw = _prerendered(cadence)
        for _ in range(runs):
            figures["smtplib"].append(_bare_smtplib(port, raw))
            figures["smtplib_pipelined"].append(_bare_smtplib(port, raw, pipelined=True))
            figures["worker"].append(_worker_path(port, cadence))
            figures["worker_unpipelined"].append(_worker_path(port, cadence, pipelining=False))
    finally:
        server.terminate()
        server.wait()
        bench_regua_remove(cadence)
    median = {name: statistics.median(values) for name, values in figures.items()}
    return {
        "messages": len(raw),
        "bytes_per_message": sum(len(message) for _f, _t, message in raw) // len(raw),
        "runs": runs,
        "smtplib_per_s": median["smtplib"],
        "smtplib_pipelined_per_s": median["smtplib_pipelined"],
        "worker_per_s": median["worker"],
        "worker_unpipelined_per_s": median["worker_unpipelined"],
        "ratio": median["worker"] / median["smtplib"],
        "pipelining_ratio": median["worker"] / median["worker_unpipelined"],
        "runs_per_s": figures,
        "smtp_server": sink_name(),
    }


def _bench_regua(n: int) -> Cadence:
    """n contacts enter a transactional régua; its welcome step is due for each."""
    now = timezone.now()
    Cadence.objects.filter(key="bench-send").delete()
    cadence, _ = cadence_import(BENCH_REGUA)
    cadence_set_status(cadence, "active")
    Cadence.objects.filter(pk=cadence.pk).update(
        activated_at=now - timedelta(hours=1), enrolled_through=now - timedelta(hours=1)
    )
    cadence.steps.update(scheduled_through=now - timedelta(hours=1))
    ids = list(
        Contact.objects.exclude(email=None)
        .exclude(consents__channel="email", consents__status="withdrawn")
        .values_list("pk", flat=True)[:n]
    )
    Event.objects.filter(name="bench_signup").delete()
    Event.objects.bulk_create(
        Event(
            contact_id=pk,
            name="bench_signup",
            occurred_at=now - timedelta(minutes=1),
            fingerprint=fingerprint(f"bench:{pk}:{now.timestamp()}", {})[0],
        )
        for pk in ids
    )
    # As an import of that many events does (imports/runner.py): without it, PostgreSQL
    # plans each tick for an event name it has no statistics of, and scans all n of
    # them (150-240 ms a tick in the load test).
    statistics_refresh(Event)
    cadence.refresh_from_db()
    cadence_tick(cadence, now=now, tally=Tally())
    return cadence


def bench_regua_remove(cadence: Cadence) -> None:
    """Take away what _bench_regua added: its events, the régua and its deliveries."""
    Event.objects.filter(name="bench_signup").delete()
    Cadence.objects.filter(pk=cadence.pk).delete()


def _reschedule(cadence: Cadence) -> None:
    Delivery.objects.filter(cadence=cadence).update(
        status=DeliveryStatus.SCHEDULED, sent_at=None, lease_until=None, attempts=0
    )


def _prerendered(cadence: Cadence) -> list[tuple[str, list[str], bytes]]:
    """The worker's own messages as bytes, rendered once through the locmem backend."""
    mail.outbox = []
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend", REGUA_QUIET_HOURS=""
    ):
        _reschedule(cadence)
        send_due(now=timezone.now(), cadence=cadence)
    raw = [
        (message.from_email, message.recipients(), message.message().as_bytes(linesep="\r\n"))
        for message in mail.outbox
    ]
    mail.outbox = []
    return raw


def _bare_smtplib(
    port: int, raw: list[tuple[str, list[str], bytes]], *, pipelined: bool = False
) -> float:
    from regua.cadences.channels.email import sendmail_pipelined

    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.ehlo()
        if pipelined and not smtp.has_extn("pipelining"):
            return 0.0  # aiosmtpd does not offer it
        for sender, recipients, message in raw:
            if pipelined:
                sendmail_pipelined(smtp, sender, recipients[0], message)
            else:
                smtp.sendmail(sender, recipients, message)
    return len(raw) / (time.perf_counter() - started)


def _worker_path(port: int, cadence: Cadence, *, pipelining: bool = True) -> float:
    _reschedule(cadence)
    settings = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": port,
        "REGUA_QUIET_HOURS": "",
        "REGUA_SMTP_PIPELINING": pipelining,
    }
    with override_settings(**settings):
        started = time.perf_counter()
        send_due(now=timezone.now(), cadence=cadence)
        seconds = time.perf_counter() - started
    return Delivery.objects.filter(cadence=cadence, status=DeliveryStatus.SENT).count() / seconds


def ticks(runs: int = 5, days: int = 1, warmup: int = 0) -> dict[str, Any]:
    """A tick over `days` of due work with the default réguas active (1: a day's tick;
    365: the catch-up of a year's backlog), and the floor: one bare SQL query selecting
    the same due set, the contacts who entered by the réguas' triggers in that time.

    The first `warmup` runs of both are reported apart (`cold_s`, `floor_cold_s`) and
    left out of the medians: the day tick runs every few seconds in a worker, so its
    pages are in memory, while the benchmark's first run follows the loading of other
    data (a cold run took 3.5 to 29 s against a warm 1.3 to 2.5 s)."""
    from regua.demo.reguas import ACTIVE, DEFAULTS

    for path in sorted(DEFAULTS.glob("*.yaml")):
        cadence_import(path.read_text("utf-8"))  # the current definitions, replaced
    now = timezone.now()
    start = now - timedelta(days=days)
    sql, params = _due_set(start, now)
    times, floor, rows = [], [], 0
    # The floor runs right after each tick, so that both see the machine in the same state
    # (on these 2 shared cores its speed drifts by a fifth within minutes).
    for _ in range(warmup + runs):
        Cadence.objects.filter(key__in=ACTIVE).update(
            status="active", activated_at=start, enrolled_through=start
        )
        Step.objects.filter(cadence__key__in=ACTIVE).update(scheduled_through=start)
        _vacuum()
        started = time.perf_counter()
        summary = tick(now=now, dry_run=True, send=False)
        times.append(time.perf_counter() - started)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = len(cursor.fetchall())
        floor.append(time.perf_counter() - started)
    # dry_run: the tick's own transaction is rolled back, so every run sees the same day;
    # the réguas go back to drafts, so that no worker picks up the backlog afterwards.
    Cadence.objects.filter(key__in=ACTIVE).update(status="draft")
    cold, times = times[:warmup], times[warmup:]
    floor_cold, floor = floor[:warmup], floor[warmup:]
    return {
        "days": days,
        "tick_s": statistics.median(times),
        "runs_s": [round(t, 2) for t in times],
        "cold_s": [round(t, 2) for t in cold],
        "floor_s": statistics.median(floor),
        "floor_runs_s": [round(t, 3) for t in floor],
        "floor_cold_s": [round(t, 3) for t in floor_cold],
        "floor_rows": rows,
        "ratio_to_floor": statistics.median(times) / max(statistics.median(floor), 1e-9),
        "enrolled": summary.total.enrolled,
        "scheduled": summary.total.scheduled,
        # past their lateness limit: counted, not written (docs/cadences.md)
        "expired": summary.total.expired,
        "contacts": Contact.objects.count(),
        "events": Event.objects.count(),
    }


def _vacuum() -> None:
    """PostgreSQL: clear what the previous dry run's rolled-back rows left in the indexes
    (autovacuum's work in a real database, which the repeated runs would outpace)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE cadences_enrollment, cadences_delivery")


def _due_set(start: Any, now: Any) -> tuple[str, list[Any]]:
    """UNION ALL of who entered the active default réguas in (start, now]: the events of
    the event triggers, the birthdays, the contacts who fell silent."""
    from django.db.models import Exists, OuterRef

    from regua.cadences.triggers import EVENT_LATENESS

    names = ["signup", "product_viewed", "upgrade"]
    events = Event.objects.filter(
        name__in=names, occurred_at__gt=start - EVENT_LATENESS, occurred_at__lte=now
    ).values("contact_id")
    local_days = {(start + timedelta(days=n)).date() for n in range((now - start).days + 2)}
    years = range(now.year - 110, now.year + 1)
    if len(local_days) > 31:
        birthdays = Contact.objects.filter(birth_date__isnull=False).values("pk")
    else:
        dates = [
            d.replace(year=y) for d in local_days for y in years if (d.month, d.day) != (2, 29)
        ]
        birthdays = Contact.objects.filter(birth_date__in=dates).values("pk")
    silence = timedelta(days=30)
    kinds = ["login", "purchase", "product_viewed"]
    later = Event.objects.filter(
        contact_id=OuterRef("contact_id"),
        name__in=kinds,
        occurred_at__gt=OuterRef("occurred_at"),
        occurred_at__lte=now,
    )
    silent = (
        Event.objects.filter(
            name__in=kinds, occurred_at__gt=start - silence, occurred_at__lte=now - silence
        )
        .filter(~Exists(later))
        .values("contact_id")
    )
    parts = [qs.order_by().query.sql_with_params() for qs in (events, birthdays, silent)]
    return (
        " UNION ALL ".join(f"SELECT * FROM ({sql}) AS part" for sql, _ in parts),
        [param for _, part_params in parts for param in part_params],
    )


# The tick shared by several processes (docs/cadences.md §Partitioned ticks) ------------

SCALE_OUT_TARGET = 1.7  # issue 7: two workers do at least 1.7× what one does


def partitioned_ticks(runs: int = 3, days: int = 1, processes: int = 2) -> dict[str, Any]:
    """The tick over `days` of due work (the default réguas, as in ticks()) run whole by
    one process, then by `processes` processes at once, each ticking one partition of as
    many: the scale-out of the tick. PostgreSQL only: SQLite runs one writer at a time.

    Each process is forked once the réguas are set up, opens its own connection and
    starts at a barrier; a run lasts as long as its slowest process. Unlike ticks(),
    the ticks commit, as the workers' do (a dry run would hold every lock, among them
    each ANALYZE's, to its end): before each run the rows the previous one wrote are
    deleted and the watermarks put back, so every run does the same work. The two
    layouts take turns, so that other load on the machine falls on both alike."""
    if connection.vendor != "postgresql":
        return {"skipped": "SQLite runs one writer at a time: partitions cannot overlap"}
    from regua.demo.reguas import ACTIVE, DEFAULTS

    for path in sorted(DEFAULTS.glob("*.yaml")):
        cadence_import(path.read_text("utf-8"))
    now = timezone.now()
    layouts = (1, processes)
    walls: dict[int, list[float]] = {count: [] for count in layouts}
    figures: dict[str, Any] = {"days": days, "processes": processes}
    try:
        for _ in range(runs):
            for count in layouts:
                _partitions_reset(ACTIVE, now - timedelta(days=days), written_after=now)
                results = _at_once(now, count)
                walls[count].append(max(seconds for seconds, _tally in results))
                figures[f"per_process_s_{count}"] = [round(seconds, 2) for seconds, _ in results]
                figures[f"enrolled_{count}"] = sum(tally["enrolled"] for _s, tally in results)
                figures[f"scheduled_{count}"] = sum(tally["scheduled"] for _s, tally in results)
    finally:
        _partitions_reset(ACTIVE, now, written_after=now)
        Cadence.objects.filter(key__in=ACTIVE).update(status="draft")
    for count in layouts:
        figures[f"runs_s_{count}"] = [round(wall, 2) for wall in walls[count]]
        figures[f"wall_s_{count}"] = statistics.median(walls[count])
    figures["speedup"] = figures["wall_s_1"] / figures[f"wall_s_{processes}"]
    figures["contacts"] = Contact.objects.count()
    figures["events"] = Event.objects.count()
    return figures


def partitioned_lines(figures: dict[str, Any]) -> list[tuple[str, str, float | None]]:
    """The report lines of partitioned_ticks(): (name, figure, ratio to target)."""
    if "skipped" in figures:
        return [("tick by partitions", f"skipped: {figures['skipped']}", None)]
    n = figures["processes"]
    return [
        (
            f"tick over {figures['days']} day(s), 1 process",
            f"{figures['wall_s_1']:.2f} s ({figures['enrolled_1']:,} enrolled, "
            f"{figures['scheduled_1']:,} scheduled)",
            None,
        ),
        (
            f"the same, {n} partitions in {n} processes",
            f"{figures[f'wall_s_{n}']:.2f} s (each {figures[f'per_process_s_{n}']} s; "
            f"{figures[f'enrolled_{n}']:,} enrolled, {figures[f'scheduled_{n}']:,} scheduled): "
            f"×{figures['speedup']:.2f} faster",
            figures["speedup"] / SCALE_OUT_TARGET if n == 2 else None,
        ),
    ]


def _partitions_reset(keys: Any, start: Any, *, written_after: Any) -> None:
    """The réguas active from `start`, without the rows a run wrote after `written_after`."""
    from regua.cadences.models import CadencePartition, Enrollment, StepPartition

    with connection.cursor() as cursor:
        for model in (Delivery, Enrollment):  # in SQL: the ORM would collect each row first
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"DELETE FROM {table} WHERE created_at >= %s", [written_after])
    Cadence.objects.filter(key__in=keys).update(
        status="active", activated_at=start, enrolled_through=start
    )
    Step.objects.filter(cadence__key__in=keys).update(scheduled_through=start)
    CadencePartition.objects.filter(cadence__key__in=keys).delete()
    StepPartition.objects.filter(step__cadence__key__in=keys).delete()
    _vacuum()


def _at_once(now: Any, count: int) -> list[tuple[float, dict[str, int]]]:
    """`count` forked processes tick partitions 0..count-1 of `count` (the whole tick
    when 1), started together; (seconds, totals) of each."""
    import multiprocessing
    from dataclasses import asdict

    from django.db import connections

    from regua.cadences.partitions import Partition

    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(count)
    results = context.Queue()

    def run(index: int) -> None:
        barrier.wait()
        started = time.perf_counter()
        partition = Partition(index, count) if count > 1 else None
        summary = tick(now=now, send=False, partition=partition)
        results.put((time.perf_counter() - started, asdict(summary.total)))
        connections.close_all()

    connections.close_all()  # each child opens its own
    children = [context.Process(target=run, args=(index,)) for index in range(count)]
    for child in children:
        child.start()
    out = [results.get(timeout=1800) for _ in children]
    for child in children:
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"a tick process failed (exit code {child.exitcode})")
    return out

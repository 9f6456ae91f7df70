"""Engine figures: the tick on the data there is, and sending against a bare smtplib loop.

Sending is measured into a local aiosmtpd server on loopback that accepts and discards:
first a bare `smtplib` loop sending the same pre-rendered messages over one connection
(the floor), then the worker's path (claim → guards → render → send → record).
"""

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


def _sink(port: int) -> subprocess.Popen[bytes]:
    """aiosmtpd's discarding handler in a process of its own, as a real server would be:
    in ours it would take the GIL from the sender being measured."""
    server = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", SINK]
    )
    _wait_for(port, 20)
    return server


def sending(messages: int = 5000, runs: int = 3) -> dict[str, Any]:
    """The worker's path (claim → guards → render → send → record) against a bare
    smtplib loop sending the very messages the worker renders, over one connection."""
    port = _free_port()
    server = _sink(port)
    cadence = _bench_regua(messages)
    try:
        raw = _prerendered(cadence)
        floors, rates = [], []
        for _ in range(runs):
            floors.append(_bare_smtplib(port, raw))
            rates.append(_worker_path(port, cadence))
    finally:
        server.terminate()
        server.wait()
        Event.objects.filter(name="bench_signup").delete()
        Cadence.objects.filter(pk=cadence.pk).delete()
    floor, rate = statistics.median(floors), statistics.median(rates)
    return {
        "messages": len(raw),
        "bytes_per_message": sum(len(message) for _f, _t, message in raw) // len(raw),
        "runs": runs,
        "smtplib_per_s": floor,
        "worker_per_s": rate,
        "ratio": rate / floor,
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
    cadence.refresh_from_db()
    cadence_tick(cadence, now=now, tally=Tally())
    return cadence


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


def _bare_smtplib(port: int, raw: list[tuple[str, list[str], bytes]]) -> float:
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for sender, recipients, message in raw:
            smtp.sendmail(sender, recipients, message)
    return len(raw) / (time.perf_counter() - started)


def _worker_path(port: int, cadence: Cadence) -> float:
    _reschedule(cadence)
    settings = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": port,
        "REGUA_QUIET_HOURS": "",
    }
    with override_settings(**settings):
        started = time.perf_counter()
        send_due(now=timezone.now(), cadence=cadence)
        seconds = time.perf_counter() - started
    return Delivery.objects.filter(cadence=cadence, status=DeliveryStatus.SENT).count() / seconds


def ticks(runs: int = 5, days: int = 1) -> dict[str, Any]:
    """A tick over `days` of due work with the default réguas active (1: a day's tick;
    365: the catch-up of a year's backlog), and the floor: one bare SQL query selecting
    the same due set, the contacts who entered by the réguas' triggers in that time."""
    from regua.demo.reguas import ACTIVE, DEFAULTS

    for path in sorted(DEFAULTS.glob("*.yaml")):
        cadence_import(path.read_text("utf-8"))  # the current definitions, replaced
    now = timezone.now()
    start = now - timedelta(days=days)
    times = []
    for _ in range(runs):
        Cadence.objects.filter(key__in=ACTIVE).update(
            status="active", activated_at=start, enrolled_through=start
        )
        Step.objects.filter(cadence__key__in=ACTIVE).update(scheduled_through=start)
        _vacuum()
        started = time.perf_counter()
        summary = tick(now=now, dry_run=True, send=False)
        times.append(time.perf_counter() - started)
    # dry_run: the tick's own transaction is rolled back, so every run sees the same day;
    # the réguas go back to drafts, so that no worker picks up the backlog afterwards.
    Cadence.objects.filter(key__in=ACTIVE).update(status="draft")
    floor, rows = [], 0
    sql, params = _due_set(start, now)
    for _ in range(runs):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = len(cursor.fetchall())
        floor.append(time.perf_counter() - started)
    return {
        "days": days,
        "tick_s": statistics.median(times),
        "runs_s": [round(t, 2) for t in times],
        "floor_s": statistics.median(floor),
        "floor_rows": rows,
        "ratio_to_floor": statistics.median(times) / max(statistics.median(floor), 1e-9),
        "enrolled": summary.total.enrolled,
        "scheduled": summary.total.scheduled,
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

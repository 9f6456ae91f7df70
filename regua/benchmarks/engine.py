"""Engine figures: the tick on the data there is, and sending against a bare smtplib loop.

Sending is measured into a local aiosmtpd server on loopback that accepts and discards:
first a bare `smtplib` loop sending the same pre-rendered messages over one connection
(the floor), then the worker's path (claim → guards → render → send → record).
"""

import logging
import smtplib
import socket
import statistics
import time
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from regua.cadences.models import Cadence, Delivery, DeliveryStatus, Step
from regua.cadences.sending import send_due
from regua.cadences.tick import tick
from regua.cadences.yaml_io import cadence_import, cadence_set_status
from regua.customers.models import Consent, Contact
from regua.events.ingest import fingerprint
from regua.events.models import Event

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


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def _server() -> Any:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(_Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def _port(controller: Any) -> int:
    return int(controller.port)


def sending(messages: int = 5000, runs: int = 3) -> dict[str, Any]:
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    controller = _server()
    try:
        port = _port(controller)
        floors, rates = [], []
        for _ in range(runs):
            floors.append(_bare_smtplib(port, messages))
            rates.append(_worker_path(port, messages))
    finally:
        controller.stop()
    floor, rate = statistics.median(floors), statistics.median(rates)
    return {
        "messages": messages,
        "runs": runs,
        "smtplib_per_s": floor,
        "worker_per_s": rate,
        "ratio": rate / floor,
    }


def _bare_smtplib(port: int, n: int) -> float:
    message = EmailMessage()
    message["From"] = "regua@localhost"
    message["To"] = "cliente@exemplo.com.br"
    message["Subject"] = "Boas-vindas, Clara!"
    message.set_content("Olá, Clara!\n\nSua conta está pronta.")
    message.add_alternative("<p>Olá, Clara!</p><p>Sua conta está pronta.</p>", subtype="html")
    raw = message.as_bytes()
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for _ in range(n):
            smtp.sendmail("regua@localhost", ["cliente@exemplo.com.br"], raw)
    return n / (time.perf_counter() - started)


def _worker_path(port: int, n: int) -> float:
    """n contacts enter a transactional régua; one process sends their welcome."""
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
    Event.objects.bulk_create(
        Event(
            contact_id=pk,
            name="bench_signup",
            occurred_at=now - timedelta(minutes=1),
            fingerprint=fingerprint(f"bench:{pk}:{now.timestamp()}", {})[0],
        )
        for pk in ids
    )
    with override_settings(REGUA_QUIET_HOURS=""):
        tick(now=now, send=False)
        settings = {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": port,
        }
        with override_settings(**settings):
            started = time.perf_counter()
            send_due(now=now)
            seconds = time.perf_counter() - started
    sent = Delivery.objects.filter(cadence=cadence, status=DeliveryStatus.SENT).count()
    Event.objects.filter(name="bench_signup").delete()
    Cadence.objects.filter(pk=cadence.pk).delete()
    return sent / seconds


def ticks(runs: int = 5) -> dict[str, Any]:
    """A tick over one day of due work with the default réguas active, and the floor."""
    from regua.demo.reguas import ACTIVE, DEFAULTS

    for path in sorted(DEFAULTS.glob("*.yaml")):
        if not Cadence.objects.filter(key=path.stem).exists():
            cadence_import(path.read_text("utf-8"))
    now = timezone.now()
    day_ago = now - timedelta(days=1)
    times = []
    for _ in range(runs):
        Cadence.objects.filter(key__in=ACTIVE).update(
            status="active", activated_at=day_ago, enrolled_through=day_ago
        )
        Step.objects.filter(cadence__key__in=ACTIVE).update(scheduled_through=day_ago)
        started = time.perf_counter()
        summary = tick(now=now, dry_run=True, send=False)
        times.append(time.perf_counter() - started)
    floor = []
    for _ in range(runs):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM events_event WHERE name IN "
                "('signup', 'product_viewed', 'upgrade') "
                "AND occurred_at > %s AND occurred_at <= %s",
                [day_ago, now],
            )
            cursor.fetchone()
        floor.append(time.perf_counter() - started)
    # dry_run: the tick's own transaction is rolled back, so every run sees the same day.
    return {
        "tick_day_s": statistics.median(times),
        "floor_s": statistics.median(floor),
        "ratio_to_floor": statistics.median(times) / max(statistics.median(floor), 1e-9),
        "enrolled": summary.total.enrolled,
        "scheduled": summary.total.scheduled,
        "contacts": Contact.objects.count(),
        "consents": Consent.objects.count(),
    }

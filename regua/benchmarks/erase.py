"""Issue 8's erasure figure: a contact with 10,000 events and 1,000 deliveries, erased.

On the configured database (the bench base: many other contacts around, whose rows the
erasure must not scan), each run:
1. writes a fresh contact with `events` events (a third carry personal properties: an
   e-mail, a name, a comment), `deliveries` deliveries of a draft bench régua, each with
   its rendered message in the outbox, 20 notes, 50 orders, 10 tasks, 5 tickets with 3
   messages each, consents with their history and a few ledger entries;
2. times `contact_erase` on it (one transaction, as the page and the command run it);
3. deletes the erased contact and its rows, so runs do not pile up.
The figure is the median of `runs` (the target: under 2 s).
"""

import statistics
import time
from datetime import timedelta
from typing import Any

import yaml
from django.db import connection
from django.utils import timezone

from regua.agenda.models import Task
from regua.cadences.models import (
    Cadence,
    Delivery,
    DeliveryStatus,
    Enrollment,
    OutboxMessage,
)
from regua.cadences.yaml_io import cadence_import
from regua.commerce.models import Order
from regua.customers.models import Consent, ConsentChange, Contact, Interaction
from regua.desk.models import Message, Ticket
from regua.events.models import Event
from regua.loyalty.models import PointEntry
from regua.privacy.erase import contact_erase

TARGET_S = 2.0
REGUA_KEY = "bench-erase"
REGUA = {
    "key": REGUA_KEY,
    "name": "Bench erase",
    "objective": "retention",
    "trigger": {"kind": "manual"},
    "steps": [
        {
            "key": "oi",
            "offset": 0,
            "channel": "email",
            "message": {"pt-br": {"subject": "Oi", "body": "Olá {{ contact.first_name }}"}},
        }
    ],
}


def _cadence() -> Cadence:
    cadence = Cadence.objects.filter(key=REGUA_KEY).first()
    if cadence is None:  # a draft: no worker ever sends it
        cadence, _created = cadence_import(yaml.safe_dump(REGUA, allow_unicode=True))
    return cadence


def _person(run: int, events: int, deliveries: int) -> Contact:
    now = timezone.now()
    tag = f"{int(time.time() * 1000)}-{run}"
    email = f"apagar.{tag}@exemplo.com.br"
    contact = Contact.objects.create(
        first_name="Apagada",
        last_name=f"Bench{run}",
        email=email,
        phone=f"+55819{run:08d}"[:14],
        external_id=f"erase-{tag}",
        city="Recife",
        attributes={"cpf": "000.000.000-00"},
    )
    pk = contact.pk
    Event.objects.bulk_create(
        (
            Event(
                contact_id=pk,
                name=("page_viewed", "product_viewed", "login", "nps_answered")[n % 4],
                occurred_at=now - timedelta(minutes=n),
                properties=(
                    {"email": email, "name": "Apagada", "comment": "ok", "score": n % 11}
                    if n % 3 == 0
                    else {"sku": f"SKU-{n % 50}", "value": n % 300}
                ),
                fingerprint=hash((tag, n)) & 0x7FFFFFFFFFFFFFFF,
                source="bench",
            )
            for n in range(events)
        ),
        batch_size=2000,
    )
    cadence = _cadence()
    step = cadence.steps.get()
    enrollments = Enrollment.objects.bulk_create(
        (
            Enrollment(cadence=cadence, contact_id=pk, occurrence=f"{n}", entered_at=now)
            for n in range(deliveries)
        ),
        batch_size=2000,
    )
    if enrollments[0].pk is None:  # no RETURNING: read the ids back
        enrollments = list(Enrollment.objects.filter(contact_id=pk).order_by("id"))
    sent = Delivery.objects.bulk_create(
        (
            Delivery(
                enrollment=enrollment,
                step=step,
                cadence=cadence,
                contact_id=pk,
                channel="email",
                status=DeliveryStatus.SENT if n % 10 else DeliveryStatus.SCHEDULED,
                due_at=now,
                sent_at=now if n % 10 else None,
            )
            for n, enrollment in enumerate(enrollments)
        ),
        batch_size=2000,
    )
    if sent[0].pk is None:
        sent = list(Delivery.objects.filter(contact_id=pk).order_by("id"))
    OutboxMessage.objects.bulk_create(
        (
            OutboxMessage(
                delivery=delivery, channel="email", to=email, subject="Oi", text="Olá Apagada"
            )
            for delivery in sent
            if delivery.status == DeliveryStatus.SENT
        ),
        batch_size=2000,
    )
    Interaction.objects.bulk_create(
        Interaction(contact_id=pk, kind="note", body=f"Nota {n} sobre Apagada", occurred_at=now)
        for n in range(20)
    )
    Order.objects.bulk_create(
        Order(contact_id=pk, external_id=f"{tag}-{n}", ordered_at=now, total=10, status="paid")
        for n in range(50)
    )
    Task.objects.bulk_create(
        Task(kind="call", title="Ligar para Apagada", notes="x", contact_id=pk, due_on=now.date())
        for _n in range(10)
    )
    for n in range(5):
        ticket = Ticket.objects.create(subject=f"Pedido {n} da Apagada", contact_id=pk)
        Message.objects.bulk_create(
            Message(ticket=ticket, kind="customer", body="Sou a Apagada", created_at=now)
            for _m in range(3)
        )
    for channel in ("email", "whatsapp", "sms"):
        Consent.objects.create(
            contact_id=pk, channel=channel, status="granted", source="site", recorded_at=now
        )
        ConsentChange.objects.create(
            contact_id=pk, channel=channel, status="granted", source="site", recorded_at=now
        )
    PointEntry.objects.bulk_create(
        PointEntry(contact_id=pk, kind="adjust", points=10, reason="bench", occurred_at=now)
        for _n in range(5)
    )
    return contact


def erase(*, runs: int = 5, events: int = 10_000, deliveries: int = 1_000) -> dict[str, Any]:
    """Median and max seconds of `contact_erase` over `runs` fresh contacts."""
    seconds = []
    for run in range(runs):
        contact = _person(run, events, deliveries)
        started = time.perf_counter()
        result = contact_erase(contact=contact)
        seconds.append(time.perf_counter() - started)
        Contact.objects.filter(pk=contact.pk).delete()
    return {
        "database": connection.vendor,
        "contacts_in_database": Contact.objects.count(),
        "events_in_database": Event.objects.count(),
        "events": events,
        "deliveries": deliveries,
        "runs": runs,
        "median_s": statistics.median(seconds),
        "max_s": max(seconds),
        "rows": result.counts,
        "target_s": TARGET_S,
    }

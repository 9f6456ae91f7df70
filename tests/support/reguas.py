"""Réguas with work due, for the tests of the engine under faults."""

from datetime import datetime, timedelta
from typing import Any

import time_machine
import yaml
from django.utils import timezone

from regua.cadences.models import Cadence, Delivery
from regua.cadences.tick import tick
from regua.cadences.yaml_io import cadence_import, cadence_set_status
from regua.customers.models import Contact
from regua.events.ingest import fingerprint
from regua.events.models import Event

WELCOME: dict[str, Any] = {
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


def regua_on(key: str, event: str, *, steps: int = 1, priority: int = 0) -> dict[str, Any]:
    """A transactional régua entered on `event`, with `steps` e-mails due at once."""
    step = WELCOME["steps"][0]
    return {
        **WELCOME,
        "key": key,
        "name": key,
        "priority": priority,
        "trigger": {"kind": "event", "event": event},
        "steps": [{**step, "key": f"{step['key']}-{n}"} for n in range(steps)],
    }


def reguas_activate(definitions: list[dict[str, Any]], at: datetime) -> list[Cadence]:
    cadences = []
    for definition in definitions:
        cadence, _created = cadence_import(yaml.safe_dump(definition, allow_unicode=True))
        with time_machine.travel(at, tick=False):
            cadence_set_status(cadence, "active")
        cadences.append(cadence)
    return cadences


def contacts_with(events: dict[str, int], count: int, at: datetime) -> list[Contact]:
    """`count` contacts; the first n of them did each event of `events` ({name: n}) `at`."""
    contacts = Contact.objects.bulk_create(
        Contact(email=f"cliente{n}@exemplo.com.br", first_name=f"Cliente{n}") for n in range(count)
    )
    Event.objects.bulk_create(
        Event(
            contact=contact,
            name=name,
            occurred_at=at,
            fingerprint=fingerprint(f"{name}:{contact.pk}", {})[0],
        )
        for name, n in events.items()
        for contact in contacts[:n]
    )
    return contacts


def due_welcomes(count: int) -> list[Delivery]:
    """`count` welcome e-mails, due a few minutes ago (the worker sends as of its clock)."""
    activated = timezone.now() - timedelta(minutes=10)
    reguas_activate([WELCOME], activated)
    contacts_with({"signup": count}, count, activated + timedelta(minutes=1))
    assert tick(now=activated + timedelta(minutes=2), send=False).total.scheduled == count
    return list(Delivery.objects.order_by("id"))

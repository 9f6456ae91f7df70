"""Everything Régua holds about one person, for their right of access (LGPD art. 18, II).

`subject_sections(contact)` lists the sections: one per table that holds rows about the
contact, each a queryset read with every stored column, so that a column added later is
exported without anyone remembering to. Two writers turn them into files:

- JSON: one object, a key per section, each a list of rows (nested values stay nested);
- CSV: one file in long form, `section, record, field, value`, one line per stored
  value. One file rather than a zip of one CSV per table: a person or an agent opens it
  in any spreadsheet without unpacking anything, filters it by section, and the 20-odd
  tables with different columns need no ragged header. JSON values (event properties,
  custom attributes) go into one cell as JSON. Every cell is made safe for spreadsheets
  (regua.lib.csv_safe).

Both stream: a contact with 100,000 events is written as it is read.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from regua.agenda.models import Task
from regua.analytics.models import CustomerScore
from regua.cadences.models import Delivery, Enrollment, OutboxMessage, Suppression
from regua.commerce.models import Order, OrderItem
from regua.customers.models import (
    Consent,
    ConsentChange,
    Contact,
    ContactRole,
    ContactTag,
    Interaction,
    StageChange,
)
from regua.desk.models import Attachment, Message, Ticket
from regua.events.models import Event, EventSummary
from regua.loyalty.models import Account, PointEntry, Redemption, Referral, ReferralCode
from regua.privacy.models import Erasure

CHUNK = 2000


@dataclass(frozen=True)
class Section:
    name: str
    rows: Callable[[Contact], models.QuerySet[Any]]
    # Columns left out: secrets that are not the person's data (a ticket's mail key).
    omit: tuple[str, ...] = ()


def _own(model: type[models.Model], field: str = "contact") -> Callable[[Contact], Any]:
    return lambda contact: model._default_manager.filter(**{field: contact})


def _addresses(contact: Contact) -> list[str]:
    return [a for a in (contact.email or "", (contact.email or "").lower(), contact.phone) if a]


SECTIONS: list[Section] = [
    Section("contact", lambda c: Contact.objects.filter(pk=c.pk)),
    Section(
        "tags",
        lambda c: ContactTag.objects.filter(contact=c).annotate(name=models.F("tag__name")),
    ),
    Section("consents", _own(Consent)),
    Section("consent_history", _own(ConsentChange)),
    Section("stage_changes", _own(StageChange)),
    Section(
        "company_roles",
        lambda c: ContactRole.objects.filter(contact=c).annotate(
            company_name=models.F("company__name")
        ),
    ),
    Section("interactions", _own(Interaction)),
    Section("orders", _own(Order)),
    Section("order_items", _own(OrderItem, "order__contact")),
    Section("events", _own(Event)),
    Section("event_monthly_totals", _own(EventSummary)),
    Section(
        "regua_enrollments",
        lambda c: Enrollment.objects.filter(contact=c).annotate(regua=models.F("cadence__key")),
    ),
    Section(
        "messages_sent",
        lambda c: Delivery.objects.filter(contact=c).annotate(
            regua=models.F("cadence__key"), step_key=models.F("step__key")
        ),
    ),
    Section(
        "message_texts",
        lambda c: OutboxMessage.objects.filter(
            models.Q(delivery__contact=c) | models.Q(delivery__isnull=True, to__in=_addresses(c))
        ),
    ),
    Section(
        "suppressed_addresses", lambda c: Suppression.objects.filter(address__in=_addresses(c))
    ),
    Section("tasks", _own(Task)),
    Section("tickets", _own(Ticket), omit=("mail_key",)),
    Section("ticket_messages", _own(Message, "ticket__contact")),
    Section("ticket_attachments", _own(Attachment, "message__ticket__contact")),
    Section(
        "survey_answers",
        lambda c: Event.objects.filter(contact=c, name="nps_answered"),
    ),
    Section("loyalty_account", _own(Account)),
    Section("loyalty_points", _own(PointEntry)),
    Section("loyalty_redemptions", _own(Redemption)),
    Section("referral_code", _own(ReferralCode)),
    Section(
        "referrals",
        lambda c: Referral.objects.filter(models.Q(referrer=c) | models.Q(referred=c)),
    ),
    Section("scores", _own(CustomerScore)),
    Section("erasure", _own(Erasure)),
]


def _columns(queryset: models.QuerySet[Any], omit: tuple[str, ...]) -> list[str]:
    stored = [f.attname for f in queryset.model._meta.concrete_fields]
    extra = list(queryset.query.annotations)
    return [name for name in [*stored, *extra] if name not in omit]


def section_rows(section: Section, contact: Contact) -> Iterator[dict[str, Any]]:
    """The section's rows as dicts of stored values, by id, read in chunks."""
    queryset = section.rows(contact)
    columns = _columns(queryset, section.omit)
    key = queryset.model._meta.pk.attname
    page = queryset.order_by("pk").values(*columns)
    last = None
    while True:
        batch = list((page if last is None else page.filter(pk__gt=last))[:CHUNK])
        yield from batch
        if len(batch) < CHUNK:
            return
        last = batch[-1][key]


def subject_counts(contact: Contact) -> dict[str, int]:
    """How many rows each section holds: the data-subject page's summary."""
    return {section.name: section.rows(contact).count() for section in SECTIONS}


def export_json(contact: Contact) -> Iterator[str]:
    """The JSON document, piece by piece."""
    encoder = DjangoJSONEncoder(ensure_ascii=False)
    yield "{"
    for n, section in enumerate(SECTIONS):
        yield ("," if n else "") + json.dumps(section.name) + ": ["
        for m, row in enumerate(section_rows(section, contact)):
            yield ("," if m else "") + encoder.encode(row)
        yield "]"
    yield "}\n"


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, cls=DjangoJSONEncoder)
    if value is None:
        return ""
    return value if isinstance(value, str | int | float) else str(value)


CSV_HEADER = ["section", "record", "field", "value"]


def export_csv_rows(contact: Contact) -> Iterator[list[Any]]:
    """The CSV's rows in long form (the header is CSV_HEADER); csv_safe makes the cells
    safe when they are written."""
    for section in SECTIONS:
        for n, row in enumerate(section_rows(section, contact), start=1):
            record = row.get("id", n)
            for field, value in row.items():
                yield [section.name, record, field, _cell(value)]

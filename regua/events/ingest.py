"""Appending events in batches (CSV import and REST API).

Events are append-only and idempotent: each carries a fingerprint (a 64-bit hash of the
sender's event id, or of its properties), and the unique identity (contact, name, time,
fingerprint) makes a repeated event a no-op. A batch is one INSERT ... ON CONFLICT DO
NOTHING statement run over all its rows.
"""

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta, tzinfo
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from regua.core.ingest import BatchResult, column_key
from regua.customers.ingest import contacts_resolve
from regua.lib.bulk import insert_many
from regua.lib.parsing import is_blank, parse_datetime, parse_json_object

from .models import Event

ALIASES = {
    "cliente": "customer_id",
    "customer": "customer_id",
    "email": "customer_id",
    "e_mail": "customer_id",
    "external_id": "customer_id",
    "evento": "name",
    "event": "name",
    "nome": "name",
    "data": "occurred_at",
    "timestamp": "occurred_at",
    "time": "occurred_at",
    "date": "occurred_at",
    "propriedades": "properties",
    "event_id": "id",
}
STANDARD = {"customer_id", "name", "occurred_at", "properties", "id"}
_NAME = re.compile(r"[a-z0-9][a-z0-9_.:\-]{0,63}")
MAX_PROPERTIES_BYTES = 16_384
MAX_FUTURE = timedelta(days=1)


def field_name(header: str) -> str:
    key = column_key(header)
    return ALIASES.get(key, key)


def fingerprint(event_id: str | None, properties: dict[str, Any]) -> tuple[int, str]:
    """The event's fingerprint and its properties as canonical JSON."""
    encoded = json.dumps(
        properties, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    basis = f"id:{event_id}" if event_id else encoded
    digest = hashlib.blake2b(basis.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True), encoded


def clean_event(
    data: Mapping[str, Any], tz: tzinfo
) -> tuple[tuple[str, str, Any, dict[str, Any], int] | None, list[tuple[str, str]]]:
    """One event → (customer key, name, occurred_at, properties, fingerprint), or errors."""
    errors: list[tuple[str, str]] = []
    raw = {key: value for key, value in data.items() if not is_blank(value)}
    for required in ("customer_id", "name", "occurred_at"):
        if required not in raw:
            errors.append((required, _("this field is required")))
    if errors:
        return None, errors
    name = re.sub(r"[\s\-]+", "_", str(raw["name"]).strip().lower())
    if not _NAME.fullmatch(name):
        errors.append(
            (
                "name",
                _("%(value)s is not an event name (letters, digits, _ . : -)")
                % {"value": raw["name"]},
            )
        )
    try:
        occurred_at = parse_datetime(raw["occurred_at"], tz)
        if occurred_at > timezone.now() + MAX_FUTURE:
            errors.append(("occurred_at", _("this date is in the future")))
    except ValueError as exc:
        errors.append(("occurred_at", str(exc)))
    properties: dict[str, Any] = {}
    if "properties" in raw:
        try:
            properties = parse_json_object(raw["properties"])
        except ValueError as exc:
            errors.append(("properties", str(exc)))
    # Any other column of a CSV row is a property ('sku' → properties.sku).
    properties.update({k: v for k, v in raw.items() if k not in STANDARD})
    event_id = str(raw["id"]).strip()[:200] if "id" in raw else None
    print_, encoded = fingerprint(event_id, properties)
    if len(encoded) > MAX_PROPERTIES_BYTES:
        errors.append(
            ("properties", _("larger than %(limit)d bytes") % {"limit": MAX_PROPERTIES_BYTES})
        )
    if errors:
        return None, errors
    return (str(raw["customer_id"]).strip(), name, occurred_at, properties, print_), []


def events_append(
    rows: Sequence[tuple[int, Mapping[str, Any]]],
    *,
    source: str,
    create_contacts: bool = True,
    tz: tzinfo | None = None,
) -> BatchResult:
    """Append the events in `rows`; events already stored count as unchanged."""
    tz = tz or timezone.get_default_timezone()
    result = BatchResult()
    events = []
    for line, data in rows:
        event, errors = clean_event(data, tz)
        if event is None:
            result.fail(line, errors)
        else:
            events.append((line, event))
    if not events:
        return result
    now = timezone.now()
    with transaction.atomic():
        contact_ids, created = contacts_resolve(
            {event[0] for _line, event in events}, create=create_contacts, source=source
        )
        result.contacts_created += created
        known = []
        for line, event in events:
            if event[0] in contact_ids:
                known.append(event)
            else:
                result.fail(line, [("customer_id", _("no contact has this external id or e-mail"))])
        inserted = insert_many(
            Event,
            [
                "contact_id",
                "name",
                "occurred_at",
                "properties",
                "fingerprint",
                "source",
                "created_at",
            ],
            (
                (contact_ids[key], name, at, props, print_, source, now)
                for key, name, at, props, print_ in known
            ),
            ignore_conflicts=True,
        )
    result.created += inserted
    result.unchanged += len(known) - inserted
    return result

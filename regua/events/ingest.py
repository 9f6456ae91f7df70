"""Appending events in batches (CSV import and REST API).

Events are append-only and idempotent: each carries a fingerprint (a 64-bit hash of the
sender's event id, or of its properties), and the unique identity (contact, name, time,
fingerprint) makes a repeated event a no-op. A batch is one INSERT ... ON CONFLICT DO
NOTHING statement run over all its rows.
"""

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from regua.core.ingest import BatchResult, CleanBatch, column_key, given_values
from regua.customers.ingest import contacts_resolve
from regua.lib.bulk import db_datetime_adapter, insert_many
from regua.lib.parsing import parse_datetime, parse_json_object

from .models import Event

# fmt: off
ALIASES = {
    "cliente": "customer_id", "customer": "customer_id", "email": "customer_id",
    "e_mail": "customer_id", "external_id": "customer_id",
    "evento": "name", "event": "name", "nome": "name",
    "data": "occurred_at", "timestamp": "occurred_at", "time": "occurred_at",
    "date": "occurred_at", "propriedades": "properties", "event_id": "id",
}
# fmt: on
STANDARD = {"customer_id", "name", "occurred_at", "properties", "id"}
REQUIRED = ("customer_id", "name", "occurred_at")
_NAME = re.compile(r"[a-z0-9][a-z0-9_.:\-]{0,63}")
MAX_PROPERTIES_BYTES = 16_384
MAX_FUTURE = timedelta(days=1)
# (customer key, name, occurred_at in the database's form, properties as JSON, fingerprint)
CleanEvent = tuple[str, str, Any, str, int]
FIELDS = ["contact_id", "name", "occurred_at", "properties", "fingerprint", "source", "created_at"]


def field_name(header: str) -> str:
    key = column_key(header)
    return ALIASES.get(key, key)


_EMPTY = int.from_bytes(hashlib.blake2b(b"{}", digest_size=8).digest(), "big", signed=True)


def fingerprint(event_id: str | None, properties: dict[str, Any]) -> tuple[int, str]:
    """The properties as canonical JSON, and a 64-bit hash of the sender's event id or,
    when there is none, of that JSON."""
    if not properties:
        encoded = "{}"
    else:
        encoded = json.dumps(
            properties, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
        if len(encoded) > MAX_PROPERTIES_BYTES:
            raise ValueError(_("larger than %(limit)d bytes") % {"limit": MAX_PROPERTIES_BYTES})
        if "\\u0000" in encoded or "\x00" in encoded:
            raise ValueError(_("a value holds a NUL character"))
    if not event_id and not properties:
        return _EMPTY, encoded
    basis = f"id:{event_id}" if event_id else encoded
    digest = hashlib.blake2b(basis.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True), encoded


@lru_cache(maxsize=4096)
def event_name(value: str) -> str:
    """'Product Viewed' → 'product_viewed'; raises ValueError for what cannot be a name."""
    name = re.sub(r"[\s\-]+", "_", value.strip().lower())
    if not _NAME.fullmatch(name):
        raise ValueError(
            _("%(value)s is not an event name (letters, digits, _ . : -)") % {"value": value}
        )
    return name


def clean_event(
    data: Mapping[str, Any],
    tz: tzinfo,
    latest: datetime,
    db_datetime: Callable[[datetime], Any],
) -> tuple[CleanEvent | None, list[tuple[str, str]]]:
    """One event → a CleanEvent, ready to insert but for the contact id; or its errors.

    `latest` is the latest acceptable time: a little after now, for clock skew.
    """
    raw = given_values(data)
    errors = [(name, _("this field is required")) for name in REQUIRED if name not in raw]
    if errors:
        return None, errors
    try:
        name = event_name(str(raw["name"]))
    except ValueError as exc:
        errors.append(("name", str(exc)))
    try:
        occurred_at = parse_datetime(raw["occurred_at"], tz)
        if occurred_at > latest:
            errors.append(("occurred_at", _("this date is in the future")))
    except ValueError as exc:
        errors.append(("occurred_at", str(exc)))
    properties: dict[str, Any] = {}
    if "properties" in raw:
        try:
            properties = parse_json_object(raw["properties"])
        except ValueError as exc:
            errors.append(("properties", str(exc)))
    if len(raw) > len(STANDARD & raw.keys()):
        # Any other column of a CSV row is a property ('sku' → properties.sku).
        properties.update({k: v for k, v in raw.items() if k not in STANDARD})
    try:
        event_id = str(raw["id"]).strip()[:200] if "id" in raw else None
        print_, encoded = fingerprint(event_id, properties)
    except ValueError as exc:
        errors.append(("properties", str(exc)))
    if errors:
        return None, errors
    customer = str(raw["customer_id"]).strip()
    return (customer, name, db_datetime(occurred_at), encoded, print_), []


def events_clean(
    rows: Sequence[tuple[int, Mapping[str, Any]]], *, tz: tzinfo | None = None
) -> CleanBatch:
    tz = tz or timezone.get_default_timezone()
    latest = timezone.now() + MAX_FUTURE
    to_db = db_datetime_adapter()
    batch = CleanBatch()
    for line, data in rows:
        event, errors = clean_event(data, tz, latest, to_db)
        if event is None:
            batch.result.fail(line, errors)
        else:
            batch.items.append((line, event))
    return batch


def events_write(batch: CleanBatch, *, source: str, create_contacts: bool = True) -> BatchResult:
    """Append cleaned events; events already stored count as unchanged."""
    result = batch.result
    if not batch.items:
        return result
    now = timezone.now()
    with transaction.atomic():
        keys = {event[0] for _line, event in batch.items}
        contact_ids, created = contacts_resolve(keys, create=create_contacts, source=source)
        result.contacts_created += created
        known = []
        for line, event in batch.items:
            if event[0] in contact_ids:
                known.append((contact_ids[event[0]], *event[1:]))
            else:
                message = _("no contact has this external id or e-mail")
                result.fail(line, [("customer_id", message)])
        # In the order of the unique (contact, name, time) index: neighbouring inserts land
        # on neighbouring pages, which matters once the table outgrows the cache.
        known.sort()
        inserted = insert_many(
            Event,
            FIELDS,
            ((*event, source, now) for event in known),
            ignore_conflicts=True,
            prepared=("occurred_at", "properties"),
        )
    result.created += inserted
    result.unchanged += len(known) - inserted
    return result


def events_append(
    rows: Sequence[tuple[int, Mapping[str, Any]]],
    *,
    source: str,
    create_contacts: bool = True,
    tz: tzinfo | None = None,
) -> BatchResult:
    """Clean and append the events in `rows` ((line or index, data) pairs)."""
    return events_write(events_clean(rows, tz=tz), source=source, create_contacts=create_contacts)


def event_record_once(
    *,
    contact_id: int,
    name: str,
    at: datetime,
    key: str,
    properties: dict[str, Any],
    source: str,
) -> bool:
    """One event written by Régua itself (an e-mail opened, a ticket opened), stored once
    for `key`: the same moment reported again adds nothing. Whether it was written."""
    value, _encoded = fingerprint(key, {})
    try:
        with transaction.atomic():
            Event.objects.create(
                contact_id=contact_id,
                name=name,
                occurred_at=at,
                properties=properties,
                fingerprint=value,
                source=source,
            )
    except IntegrityError:
        return False
    return True

"""Importing a CSV file of contacts, companies, orders or events, chunk by chunk.

Each chunk of rows is cleaned and written by the same batch functions the REST API uses,
in its own transaction: an interrupted import keeps the chunks it finished, and running
it again adds nothing twice (every kind upserts by a unique key).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from regua.commerce import ingest as orders
from regua.core.ingest import BatchResult
from regua.customers import ingest as contacts
from regua.customers.ingest import companies_upsert
from regua.customers.ingest import company_field_name as company_field
from regua.events import ingest as events

from .csvfile import CsvFile, CsvRecordError, ImportFileError

Rows = Sequence[tuple[int, Mapping[str, Any]]]


@dataclass(frozen=True)
class Kind:
    field_name: Callable[[str], str]
    required: tuple[tuple[str, ...], ...]  # each inner tuple: at least one of these columns
    write: Callable[..., BatchResult]


KINDS: dict[str, Kind] = {
    "contacts": Kind(
        contacts.field_name,
        (("external_id", "email"),),
        lambda rows, *, source, create_contacts, tz: contacts.contacts_upsert(rows, source=source),
    ),
    "companies": Kind(
        company_field,
        (("external_id", "name", "cnpj"),),
        lambda rows, *, source, create_contacts, tz: companies_upsert(rows, source=source),
    ),
    "orders": Kind(
        orders.field_name,
        (("customer_id",), ("ordered_at",), ("total",)),
        lambda rows, **options: orders.orders_upsert(rows, **options),
    ),
    "events": Kind(
        events.field_name,
        (("customer_id",), ("name",), ("occurred_at",)),
        lambda rows, **options: events.events_append(rows, **options),
    ),
}
Progress = Callable[[int, int, BatchResult], None]


def _fields(kind: Kind, csv_file: CsvFile) -> list[str]:
    fields = [kind.field_name(header) if header else "" for header in csv_file.headers]
    for alternatives in kind.required:
        if not set(alternatives) & set(fields):
            raise ImportFileError(
                _("the file needs a column %(names)s; its columns are: %(columns)s")
                % {"names": _(" or ").join(alternatives), "columns": ", ".join(csv_file.headers)}
            )
    duplicated = {name for name in fields if name and fields.count(name) > 1}
    if duplicated:
        raise ImportFileError(
            _("several columns mean %(names)s") % {"names": ", ".join(sorted(duplicated))}
        )
    return fields


def import_file(
    kind_name: str,
    path: str | Path,
    *,
    create_contacts: bool = True,
    tz: tzinfo | None = None,
    source: str = "import",
    chunk_size: int = 2000,
    on_progress: Progress | None = None,
) -> BatchResult:
    """Import a CSV file; raises ImportFileError when it cannot be read at all."""
    kind = KINDS[kind_name]
    csv_file = CsvFile.open(path)
    fields = _fields(kind, csv_file)
    width = len(fields)
    total = BatchResult()
    options = {
        "source": source,
        "create_contacts": create_contacts,
        "tz": tz or timezone.get_default_timezone(),
    }

    def flush(chunk: list[tuple[int, dict[str, str]]]) -> None:
        result = kind.write(chunk, **options)
        result.outcomes.clear()  # per-row outcomes are for API replies; a file may be huge
        total.merge(result)
        if on_progress:
            on_progress(csv_file.position, csv_file.size, total)

    chunk: list[tuple[int, dict[str, str]]] = []
    try:
        for line, values in csv_file.records():
            if len(values) > width:
                total.fail(
                    line,
                    [
                        (
                            "",
                            _("this line has %(found)d values but the header has %(expected)d")
                            % {"found": len(values), "expected": width},
                        )
                    ],
                )
                continue
            chunk.append((line, {f: v for f, v in zip(fields, values, strict=False) if f}))
            if len(chunk) >= chunk_size:
                flush(chunk)
                chunk = []
    except CsvRecordError as exc:
        total.fail(
            exc.line,
            [("", _("the file cannot be read from this line on: %(error)s") % {"error": exc})],
        )
    if chunk:
        flush(chunk)
    if on_progress:
        on_progress(csv_file.size, csv_file.size, total)
    return total

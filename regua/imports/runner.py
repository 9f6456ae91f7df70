"""Importing a CSV file of contacts, companies, orders or events, chunk by chunk.

Each chunk of rows is cleaned and written by the same batch functions the REST API uses,
in its own transaction, together with the caller's record of the progress (on_progress):
an interrupted import keeps the chunks it finished and says exactly which, so it can go
on after the last one (`after_line`); running it again from the start adds nothing twice
either (every kind upserts by a unique key).

On a large file the reading and cleaning run in a forked child process while this one
writes (regua.lib.pipeline): cleaning needs no database.
"""

import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _

from regua.commerce import ingest as orders
from regua.commerce.models import Order, OrderItem
from regua.core.ingest import BatchResult, CleanBatch
from regua.customers import ingest as contacts
from regua.customers.models import Company, Contact
from regua.events import ingest as events
from regua.events.models import Event
from regua.lib.bulk import bulk_load, statistics_refresh
from regua.lib.pipeline import can_fork, in_child

from .csvfile import CsvFile, CsvRecordError, ImportFileError

Rows = Sequence[tuple[int, Mapping[str, Any]]]
PARALLEL_MIN_BYTES = 4 << 20  # below this, forking costs more than it saves
STATISTICS_EVERY = 200_000  # rows written between refreshes of the planner's statistics


@dataclass(frozen=True)
class Kind:
    field_name: Callable[[str], str]
    required: tuple[tuple[str, ...], ...]  # each inner tuple: at least one of these columns
    clean: Callable[[Rows, tzinfo], CleanBatch]
    write: Callable[[CleanBatch, str, bool], BatchResult]  # batch, source, create contacts
    tables: tuple[type[Model], ...] = ()  # the tables it writes, besides contacts
    # Rows per transaction. Events are many and small: big chunks write each index page
    # once per chunk rather than once per few rows.
    chunk_size: int = 5000


KINDS: dict[str, Kind] = {
    "contacts": Kind(
        contacts.field_name,
        (("external_id", "email"),),
        lambda rows, tz: contacts.contacts_clean(rows),
        lambda batch, source, create: contacts.contacts_write(batch, source=source),
    ),
    "companies": Kind(
        contacts.company_field_name,
        (("external_id", "name", "cnpj"),),
        lambda rows, tz: contacts.companies_clean(rows),
        lambda batch, source, create: contacts.companies_write(batch),
        tables=(Company,),
    ),
    "orders": Kind(
        orders.field_name,
        (("customer_id",), ("ordered_at",), ("total",)),
        lambda rows, tz: orders.orders_clean(rows, tz=tz),
        lambda batch, source, create: orders.orders_write(
            batch, source=source, create_contacts=create
        ),
        tables=(Order, OrderItem),
    ),
    "events": Kind(
        events.field_name,
        (("customer_id",), ("name",), ("occurred_at",)),
        lambda rows, tz: events.events_clean(rows, tz=tz),
        lambda batch, source, create: events.events_write(
            batch, source=source, create_contacts=create
        ),
        tables=(Event,),
        chunk_size=25000,
    ),
}


@dataclass(frozen=True)
class Checkpoint:
    """Where an import stands after a chunk."""

    position: int  # bytes of the file read
    size: int  # bytes in the file
    line: int  # the file's last line written
    result: BatchResult  # the totals so far


Progress = Callable[[Checkpoint], None]


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
    chunk_size: int | None = None,
    on_progress: Progress | None = None,
    parallel: bool | None = None,
    after_line: int = 0,
    so_far: BatchResult | None = None,
) -> BatchResult:
    """Import a CSV file; raises ImportFileError when it cannot be read at all.

    `on_progress` is called after each chunk inside the chunk's transaction: what it
    records commits with the rows, or not at all. To go on with an interrupted import,
    pass the last line it wrote (`after_line`) and its totals (`so_far`).
    """
    kind = KINDS[kind_name]
    csv_file = CsvFile.open(path)
    fields = _fields(kind, csv_file)
    chunk_size = chunk_size or kind.chunk_size
    zone = tz or timezone.get_default_timezone()
    plan = _Reading(kind_name, csv_file, fields, zone, chunk_size, after_line)
    if parallel is None:
        parallel = csv_file.size >= PARALLEL_MIN_BYTES
    parallel = parallel and can_fork()
    total = so_far or BatchResult()
    line, unanalysed = after_line, 0
    with relaxed_gc(), bulk_load():
        for batch in plan.in_child() if parallel else plan.batches():
            with transaction.atomic():
                result = kind.write(batch, source, create_contacts)
                result.outcomes.clear()  # per-row outcomes are for API replies
                total.merge(result)
                line = max(line, batch.last_line)
                if on_progress:
                    on_progress(Checkpoint(batch.position, csv_file.size, line, total))
            unanalysed += len(batch.items)
            if unanalysed >= STATISTICS_EVERY:
                statistics_refresh(Contact, *kind.tables)
                unanalysed = 0
    if on_progress:
        on_progress(Checkpoint(csv_file.size, csv_file.size, line, total))
    return total


@dataclass
class _Reading:
    kind_name: str
    csv_file: CsvFile
    fields: list[str]
    tz: tzinfo
    chunk_size: int
    after_line: int = 0  # the lines up to this one were written by an earlier run

    def batches(self) -> Iterator[CleanBatch]:
        """The file's rows in cleaned chunks; rows that cannot be read go in the results."""
        kind = KINDS[self.kind_name]
        width = len(self.fields)
        refused = BatchResult()
        chunk: list[tuple[int, dict[str, str]]] = []
        last = 0

        def cut() -> CleanBatch:
            batch = kind.clean(chunk, self.tz)
            batch.result.merge(refused)
            batch.position = self.csv_file.position or self.csv_file.size  # 0: all read
            batch.last_line = last
            return batch

        try:
            for line, values in self.csv_file.records():
                if line <= self.after_line:
                    continue  # the records are parsed again, but neither cleaned nor written
                last = line
                if len(values) > width:
                    message = _("this line has %(found)d values but the header has %(expected)d")
                    refused.fail(line, [("", message % {"found": len(values), "expected": width})])
                    continue
                chunk.append((line, dict(zip(self.fields, values, strict=False))))
                if len(chunk) >= self.chunk_size:
                    yield cut()
                    chunk, refused = [], BatchResult()
        except CsvRecordError as exc:
            if exc.line > self.after_line:  # else an earlier run reported it already
                last = exc.line
                message = _("the file cannot be read from this line on: %(error)s")
                refused.fail(exc.line, [("", message % {"error": exc})])
        if chunk or refused.skipped:
            yield cut()

    def in_child(self) -> Iterator[CleanBatch]:
        """batches(), produced by a forked child process while the caller writes."""
        return in_child(self.batches)


@contextmanager
def relaxed_gc() -> Iterator[None]:
    """Collect cyclic garbage rarely while a batch job allocates millions of small objects.

    Rows, dicts and tuples hold no cycles; with the default thresholds the collector
    would walk every live object again and again, a third of an import's time.
    """
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(200_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()

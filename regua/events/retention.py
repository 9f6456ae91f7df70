"""Event retention: raw events past the horizon become monthly totals per contact and name.

With REGUA_EVENT_RETENTION_MONTHS set, events older than the current business month and
that many months before it are archived: each (contact, name, month) becomes one
EventSummary row (count, first and last time) and the raw rows are deleted in the same
transaction. Not archived, ever: the names in KEPT (the product reads them whole, over
all time) and those in REGUA_EVENT_RETENTION_KEEP.

What each feature sees afterwards (docs/deploy.md §Event retention and archival):
- segment rules on events (event.<name> within_days / count_gte / count_lte) add the
  monthly totals when retention is on (summaries_in_use), see segments.rules._event;
- the dossier's event totals and the timeline add them (events.selectors);
- the analytics read only kept names (complaint, cancellation, nps_answered);
- the réguas read recent events only, and the horizon never reaches back as far as a
  régua still looks (regua_look_back): an inactivity trigger's silence, an event
  trigger's longest step (its messages may read the trigger event's properties).

The archive runs once a day from the worker (events_archive_due queues a background
job) or by hand: `regua events-archive [--dry-run] [--now ISO]`.
"""

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from regua.analytics.frames import business_zone, day_start
from regua.lib.bulk import bulk_load, db_datetime_adapter

from .models import ArchiveRun, Event, EventSummary

# The names the product reads whole, with the reason; never archived, whatever the
# settings say (REGUA_EVENT_RETENTION_KEEP adds to these, it cannot remove them).
KEPT: dict[str, str] = {
    "nps_answered": "NPS (KPIs, dashboard, segment nps.category, dossier) reads each "
    "answer's score and category; the survey page reads the answer back",
    "complaint": "the complaint rate of any past period counts them",
    "cancellation": "churn, revenue churn and retention decide who was active from "
    "the whole history of cancellations",
    "unsubscribed": "LGPD: when and from which régua and step a contact opted out",
    "referral_invited": "the promoter's invitation carries the referral code; the "
    "survey reads it to invite once",
    "loyalty_tier_changed": "a member's tier history: the benefits they were entitled to",
}
# Rows moved per transaction at most: a write lock held for a second or so, however
# large the table (SQLite's writers wait on it; PostgreSQL's autovacuum follows).
SLICE_ROWS = 50_000


@dataclass
class ArchiveSummary:
    """What an archive did (or, dry, would do); printed as JSON by the command."""

    now: str
    retention_months: int | None
    dry_run: bool = False
    horizon: str | None = None
    held_back_by: str | None = None  # the régua whose look-back moved the horizon
    kept: list[str] = field(default_factory=list)
    months: list[str] = field(default_factory=list)
    rows_summarised: int = 0
    rows_deleted: int = 0
    summary_rows: int = 0  # summary rows written (inserted or added to)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["months_processed"] = len(self.months)
        moved = self.rows_deleted if not self.dry_run else 0
        data["rows_per_second"] = round(moved / self.seconds) if self.seconds else 0
        return data


@dataclass(frozen=True)
class Horizon:
    at: datetime  # raw events before this instant are archived
    held_back_by: str | None = None


def summaries_in_use() -> bool:
    """Whether readers add the monthly totals: while retention is configured.

    Turning retention off after archiving hides the totals from segment rules; to stop
    archiving but keep counting them, set a retention longer than the history instead.
    """
    return settings.REGUA_EVENT_RETENTION_MONTHS is not None


def kept_names() -> set[str]:
    # Names as ingest stores them ("Purchase" in the environment means "purchase").
    return set(KEPT) | {name.strip().lower() for name in settings.REGUA_EVENT_RETENTION_KEEP}


def month_of(moment: datetime) -> date:
    """The business month of an instant, as its first day."""
    return timezone.localtime(moment, business_zone()).date().replace(day=1)


def _next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


def _months_before(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def regua_look_back(now: datetime) -> tuple[datetime | None, str | None]:
    """The earliest instant a régua that is not archived still reads events at, and its key.

    An inactivity trigger reads the events `days` back; an event trigger's steps may
    render the trigger event's properties up to the longest step's offset after it (a
    tick catching up reads that far back too). Plus the lateness a due message is still
    sent after, and the trigger's allowance for late events.
    """
    from regua.cadences.models import WINDOW_SLACK, Cadence, CadenceStatus, Step, max_lateness
    from regua.cadences.triggers import EVENT_LATENESS

    earliest: datetime | None = None
    key: str | None = None
    live_steps = Prefetch("steps", queryset=Step.objects.filter(archived_at__isnull=True))
    cadences = Cadence.objects.exclude(status=CadenceStatus.ARCHIVED).prefetch_related(live_steps)
    for cadence in cadences:
        reach = []
        steps = list(cadence.steps.all())
        late = max([step.lateness() for step in steps], default=max_lateness("email"))
        margin = late + WINDOW_SLACK + EVENT_LATENESS
        if cadence.trigger_kind == "event":
            reach = [step.parsed_offset.before(now) for step in steps]
        elif cadence.trigger_kind == "inactivity":
            reach = [now - timedelta(days=int(cadence.trigger.get("days") or 0))]
        if reach and (earliest is None or min(reach) - margin < earliest):
            earliest, key = min(reach) - margin, cadence.key
    return earliest, key


def archive_horizon(*, now: datetime, months: int) -> Horizon:
    """Where the archive stops.

    1. The start of the business month `months` before the current one.
    2. Earlier when a régua still reads events before it (regua_look_back): the start of
       the month of the earliest instant one does.
    """
    policy = day_start(_months_before(month_of(now), months))
    needed, key = regua_look_back(now)
    if needed is not None and needed < policy:
        return Horizon(day_start(month_of(needed)), key)
    return Horizon(policy)


def events_archive(
    *, now: datetime, dry_run: bool = False, months: int | None = None
) -> ArchiveSummary:
    """Summarise and delete the raw events before the horizon; idempotent.

    1. The horizon (archive_horizon) and the names to archive: every name in the table
       (a skip scan of the (name, time) index) but the kept ones.
    2. From the oldest such event, slices of time within one business month holding at
       most about SLICE_ROWS of them: each is added to its month's totals and deleted, in
       one transaction. Slicing by time rather than by name touches each page of a table
       that grew in time order once.
    3. The next slice starts at the next such event, so empty months cost nothing.

    A second run finds nothing before the horizon and does nothing. Events that arrive
    later for an archived month (a late import) are added to its totals by the next run.
    `months` overrides REGUA_EVENT_RETENTION_MONTHS (None: the setting; unset: nothing).
    """
    started = time.monotonic()
    months = months if months is not None else settings.REGUA_EVENT_RETENTION_MONTHS
    summary = ArchiveSummary(now=now.isoformat(), retention_months=months, dry_run=dry_run)
    if not months:
        return summary
    horizon = archive_horizon(now=now, months=months)
    kept = kept_names()
    summary.horizon, summary.held_back_by = horizon.at.isoformat(), horizon.held_back_by
    summary.kept = sorted(kept)
    names = sorted(set(_names()) - kept)
    touched: set[date] = set()
    with bulk_load():  # SQLite: a large cache, for the index pages slice after slice revisit
        for month, start, end in _slices(names, horizon.at, whole_months=dry_run):
            if dry_run:
                rows, groups = _count(names, start, end)
                deleted = rows
            else:
                rows, deleted, groups = _move(names, month, start, end)
            summary.rows_summarised += rows
            summary.rows_deleted += deleted
            summary.summary_rows += groups
            touched.add(month)
    summary.months = [f"{month:%Y-%m}" for month in sorted(touched)]
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


def _names() -> list[str]:
    """The distinct event names, one index seek each (a loose index scan): the table
    may hold 50M rows and a dozen names."""
    table = connection.ops.quote_name(Event._meta.db_table)
    sql = (
        "WITH RECURSIVE names(name) AS ("
        f"SELECT (SELECT name FROM {table} ORDER BY name LIMIT 1) "
        "UNION ALL "
        f"SELECT (SELECT e.name FROM {table} e WHERE e.name > names.name ORDER BY e.name LIMIT 1) "
        "FROM names WHERE names.name IS NOT NULL"
        ") SELECT name FROM names WHERE name IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def _between(names: list[str], start: datetime, end: datetime) -> QuerySet[Event]:
    return Event.objects.filter(name__in=names, occurred_at__gte=start, occurred_at__lt=end)


def _first_at(names: list[str], after: datetime | None, before: datetime) -> datetime | None:
    """The earliest event of these names in [after, before): one index seek per name."""
    found = []
    for name in names:
        events = Event.objects.filter(name=name, occurred_at__lt=before)
        if after is not None:
            events = events.filter(occurred_at__gte=after)
        found.append(events.order_by("occurred_at").values_list("occurred_at", flat=True)[:1])
    return min((at for query in found for at in query), default=None)


def _slices(
    names: list[str], horizon: datetime, *, whole_months: bool
) -> Iterator[tuple[date, datetime, datetime]]:
    """(month, start, end) ranges that cover the names' events before the horizon, each
    within one business month and, unless whole months are asked for, of about
    SLICE_ROWS events at most. Each starts at an event, so gaps are skipped."""
    start = _first_at(names, None, horizon)
    while start is not None:
        month = month_of(start)
        end = min(day_start(_next_month(month)), horizon)
        if not whole_months:
            end = _slice_end(names, start, end)
        yield month, start, end
        start = _first_at(names, end, horizon)


def _slice_end(names: list[str], start: datetime, end: datetime) -> datetime:
    """Shorten [start, end) until it holds at most SLICE_ROWS events: to the share of the
    span that would, were they spread evenly, counted again (an index count each time)."""
    rows = _between(names, start, end).count()
    while rows > SLICE_ROWS:
        span = (end - start) * (0.9 * SLICE_ROWS / rows)
        if span < timedelta(microseconds=1):  # that many at one instant: the instant it is
            return start + timedelta(microseconds=1)
        end = start + span
        rows = _between(names, start, end).count()
    return end


def _count(names: list[str], start: datetime, end: datetime) -> tuple[int, int]:
    """(events, (contact, name) pairs) in [start, end): what an archive would move."""
    found = _between(names, start, end).order_by()
    return found.count(), found.values("contact_id", "name").distinct().count()


def _move(names: list[str], month: date, start: datetime, end: datetime) -> tuple[int, int, int]:
    """Add the names' events in [start, end) to the month's totals and delete them, in one
    transaction. Returns (events summarised, events deleted, summary rows written)."""
    to_db = db_datetime_adapter()
    quote = connection.ops.quote_name
    events = quote(Event._meta.db_table)
    totals = quote(EventSummary._meta.db_table)
    stamp = to_db(timezone.now())
    month_value = connection.ops.adapt_datefield_value(month)
    where = f"name IN ({', '.join(['%s'] * len(names))}) AND occurred_at >= %s AND occurred_at < %s"
    bounds = [*names, to_db(start), to_db(end)]
    columns = "contact_id, name, month, count, first_at, last_at, created_at, updated_at"
    select = "SELECT contact_id, name, %s, COUNT(*), MIN(occurred_at), MAX(occurred_at), %s, %s"
    least, greatest = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")
    upsert = (
        "ON CONFLICT (contact_id, name, month) DO UPDATE SET "
        f"count = {totals}.count + excluded.count, "
        f"first_at = {least}({totals}.first_at, excluded.first_at), "
        f"last_at = {greatest}({totals}.last_at, excluded.last_at), "
        "updated_at = excluded.updated_at"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement: the rows summed are exactly the rows deleted, whatever
            # another session inserts meanwhile.
            cursor.execute(
                f"WITH moved AS (DELETE FROM {events} WHERE {where} "
                "RETURNING contact_id, name, occurred_at), "
                f"written AS (INSERT INTO {totals} ({columns}) {select} FROM moved "
                f"GROUP BY contact_id, name {upsert} RETURNING 1) "
                "SELECT (SELECT COUNT(*) FROM moved), (SELECT COUNT(*) FROM written)",
                [*bounds, month_value, stamp, stamp],
            )
            moved, written = cursor.fetchone()
            return moved, moved, written
        # SQLite: the transaction holds the write lock from BEGIN IMMEDIATE, so no event
        # arrives between the count, the sums and the delete.
        cursor.execute(f"SELECT COUNT(*) FROM {events} WHERE {where}", bounds)
        counted = cursor.fetchone()[0]
        cursor.execute(
            f"INSERT INTO {totals} ({columns}) {select} FROM {events} WHERE {where} "
            f"GROUP BY contact_id, name {upsert}",
            [month_value, stamp, stamp, *bounds],
        )
        written = max(cursor.rowcount, 0)
        cursor.execute(f"DELETE FROM {events} WHERE {where}", bounds)
        deleted = max(cursor.rowcount, 0)
        if deleted != counted:  # cannot happen under the lock; never keep a wrong total
            raise RuntimeError(f"archive from {start}: {counted} events counted, {deleted} gone")
        return counted, deleted, written


def events_archive_due(*, now: datetime) -> bool:
    """Queue the day's archive once, after REGUA_EVENT_ARCHIVE_HOUR local time.

    Called by every worker on each tick: without retention it returns at once; else an
    ArchiveRun row per business day is the marker, so however many workers run, one
    archive is queued per day. The archive runs as a background job (events_archive_job):
    its first pass over years of history takes minutes, which the tick cannot wait.
    Returns whether this call queued it.
    """
    if not settings.REGUA_EVENT_RETENTION_MONTHS:
        return False
    if not ArchiveRun.claim(now, hour=settings.REGUA_EVENT_ARCHIVE_HOUR):
        return False
    from .tasks import events_archive_job

    transaction.on_commit(lambda: events_archive_job.enqueue(now.isoformat()))
    return True

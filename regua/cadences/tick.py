"""The tick: as of an instant, enroll who entered, exit who reached the goal, schedule
what fell due, and (unless told not to) send it.

Every phase is set-based (one query per régua, step or time zone, never one per
contact) and idempotent by the unique keys of Enrollment and Delivery, so a tick run
twice, or by two workers at once, creates nothing twice. On PostgreSQL each régua is
taken under a transaction-scoped advisory lock, so concurrent ticks share the réguas
instead of queueing on each other's rows.

A tick may be partitioned (partitions.py): it then looks only at the contacts of one
partition, in every phase of every régua, from that partition's own watermarks, so
several workers share one tick (`tick_partitioned_once`).

Time is a parameter: `tick(now=...)` is how the worker runs, how tests travel in time and
how the preview dry-runs the next 30 days (inside a transaction it rolls back).
"""

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Subquery, Value, When, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from regua.customers.models import Contact
from regua.events.models import Event
from regua.lib.bulk import (
    bulk_load,
    db_datetime_adapter,
    insert_many,
    insert_select,
    insert_select_earliest,
    statistics_refresh,
    update_returning,
)
from regua.privacy.models import Erasure

from . import conditions, draws, relationship, triggers
from .due import due_sql
from .models import (
    WINDOW_SLACK,
    Cadence,
    CadencePartition,
    CadenceStatus,
    Delivery,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Reentry,
    Step,
)
from .offsets import Offset
from .partitions import (
    Partition,
    PartitionWatermarks,
    Watermarks,
    tick_partition_claim,
    tick_partition_release,
    tick_partition_renew,
    watermarks_advance,
)

log = logging.getLogger(__name__)

INSERT_CHUNK = 10_000
# Month offsets are calendar months: the scan for due enrollments reaches a few days
# further and the exact due moment (computed in SQL) decides.
MONTH_SLACK = timedelta(days=4)


@dataclass
class Tally:
    enrolled: int = 0
    scheduled: int = 0
    skipped: int = 0
    exited: int = 0
    completed: int = 0
    sent: int = 0
    deferred: int = 0
    suppressed: int = 0
    failed: int = 0
    expired: int = 0

    def add(self, other: "Tally") -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


@dataclass
class TickSummary:
    now: datetime
    dry_run: bool = False
    by_cadence: dict[str, Tally] = field(default_factory=dict)
    partition: Partition | None = None

    def tally(self, key: str) -> Tally:
        return self.by_cadence.setdefault(key, Tally())

    @property
    def total(self) -> Tally:
        total = Tally()
        for tally in self.by_cadence.values():
            total.add(tally)
        return total

    def as_dict(self) -> dict[str, Any]:
        summary = {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            **asdict(self.total),
            "reguas": {key: asdict(tally) for key, tally in sorted(self.by_cadence.items())},
        }
        if self.partition is not None:
            summary["partition"] = str(self.partition)
        return summary

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False)


class _Rollback(Exception):
    pass


def tick(
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    send: bool = True,
    partition: Partition | None = None,
) -> TickSummary:
    """Run one tick as of `now`. With dry_run, everything is computed and rolled back.
    With a partition, only its contacts are enrolled and scheduled (sending is shared)."""
    now = now or timezone.now()
    if partition is not None and partition.count == 1:
        partition = None  # the whole tick
    summary = TickSummary(now=now, dry_run=dry_run, partition=partition)
    if not dry_run:
        _run(now, summary, send=send, dry_run=False)
        return summary
    try:
        with transaction.atomic():
            _run(now, summary, send=send, dry_run=True)
            raise _Rollback
    except _Rollback:
        pass
    return summary


def tick_partitioned_once(*, now: datetime, worker: str) -> TickSummary | None:
    """The worker's tick: lease one of the REGUA_TICK_PARTITIONS partitions whose turn
    has come (REGUA_TICK_SECONDS since it last ran), enroll and schedule its contacts,
    free it. None when no partition's turn has come: another worker has it, or it ran
    too recently. Sending is left to the workers' loop."""
    partition = tick_partition_claim(now=now, worker=worker)
    if partition is None:
        return None
    started = time.monotonic()

    def renew() -> None:
        moment = now + timedelta(seconds=time.monotonic() - started)
        tick_partition_renew(partition, worker=worker, now=moment)

    summary = TickSummary(now=now, partition=partition if partition.count > 1 else None)
    try:
        _run(now, summary, send=False, dry_run=False, between=renew)
    finally:
        tick_partition_release(partition, worker=worker)
    return summary


def _run(
    now: datetime,
    summary: TickSummary,
    *,
    send: bool,
    dry_run: bool,
    between: Callable[[], None] | None = None,
) -> None:
    partition = summary.partition
    cadences = list(Cadence.objects.filter(status=CadenceStatus.ACTIVE).order_by("-priority", "id"))
    # Catching up on more than a day writes millions of rows: SQLite gets a large page
    # cache for it (bulk_load), as imports do.
    behind = min((c.enrolled_through or c.activated_at or now for c in cadences), default=now)
    with bulk_load() if now - behind > timedelta(days=1) else nullcontext():
        for cadence in cadences:
            with transaction.atomic():
                if not _lock(cadence, partition):
                    continue  # another tick has this régua (or this partition of it) now
                _planner_settings()
                # Read the régua again now that it is ours: the tick that held it until
                # a moment ago may have moved its watermark (or paused it). From the
                # watermark read before the lock, this tick would look again at what
                # that one looked at, and an after_exit régua would enroll again whom
                # that tick had just let exit.
                cadence.refresh_from_db()
                if cadence.status != CadenceStatus.ACTIVE:
                    continue
                shares = [partition] if partition is not None else _shares(cadence)
                for share in shares:
                    steps = cadence_tick(
                        cadence, now=now, tally=summary.tally(cadence.key), partition=share
                    )
                if partition is None and shares != [None]:
                    # The régua is ours alone: its own watermarks follow at once.
                    watermarks_advance(cadence, steps, shares[0])
            if partition is not None and not dry_run:
                watermarks_advance(cadence, steps, partition)
            if between is not None:
                between()
    if send:
        from .sending import send_due

        send_due(now=now, summary=summary, dry_run=dry_run)


def _shares(cadence: Cadence) -> list[Partition | None]:
    """How a whole tick runs a régua: in one piece, or as the partitions of the count
    that ran ahead of the régua's own watermark (the latest count, when several did).

    The régua's own watermark follows the slowest partition, so when some partitions
    have already ticked to a later instant, a whole tick from the régua's watermark
    would look again at their contacts; for an after_exit régua that enrolls anew
    those whom the partition's tick had just let exit. Run as each partition in turn,
    from that partition's own watermarks, it creates what the partitions still owe and
    nothing twice (the N partitions of one instant make what one whole tick makes).
    """
    own = cadence.enrolled_through or cadence.activated_at
    if own is None:
        return [None]
    ahead = CadencePartition.objects.filter(cadence=cadence, count__gt=1, enrolled_through__gt=own)
    count = ahead.order_by("-updated_at").values_list("count", flat=True).first()
    return [None] if count is None else [Partition(index, count) for index in range(count)]


# Advisory lock keys: (RÉGUA_LOCK, régua) for the whole régua; a partition's lock puts
# its K/N in the first key, under the same prefix.
REGUA_LOCK = 0x52E6
PARTITION_LOCK = 0x52E7 << 16


def _lock(cadence: Cadence, partition: Partition | None) -> bool:
    """PostgreSQL: take the régua, or one partition of it, for this transaction; False
    when another tick holds it. A partition shares the régua with the other partitions
    and excludes an unpartitioned tick of it, which takes the régua alone."""
    if connection.vendor != "postgresql":
        return True  # SQLite serialises writers already
    with connection.cursor() as cursor:
        if partition is None:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [REGUA_LOCK, cadence.pk])
        else:
            key = PARTITION_LOCK + (partition.count << 8) + partition.index
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock_shared(%s, %s) "
                "AND pg_try_advisory_xact_lock(%s, %s)",
                [REGUA_LOCK, cadence.pk, key, cadence.pk],
            )
        return bool(cursor.fetchone()[0])


def _lock_waiting(cadence: Cadence) -> None:
    """PostgreSQL: take the whole régua for this transaction, waiting for the tick that
    has it (SQLite serialises writers already)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [REGUA_LOCK, cadence.pk])


# PostgreSQL's planner, for the tick's transactions only (SET LOCAL). Its queries join a
# day's entries (thousands of rows) to the contacts and events through their indexes,
# whose pages the tick has just read, so a random read costs about what a sequential one
# does; at the default cost (4) a join of 17k fresh enrollments to 1M contacts scanned
# the whole table, 4.7x slower. And the row estimates of a window of recent events run
# high (420k for 25k), which sent queries of half a second into JIT compilation that
# alone took 0.3 s. Measured on the bench base: docs/benchmarks.md, issue 3.
TICK_PLANNER = {"random_page_cost": "1.1", "jit": "off"}


def _planner_settings() -> None:
    if connection.vendor != "postgresql":
        return
    calls = ", ".join(["set_config(%s, %s, true)"] * len(TICK_PLANNER))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {calls}", [item for pair in TICK_PLANNER.items() for item in pair])


def cadence_tick(
    cadence: Cadence, *, now: datetime, tally: Tally, partition: Partition | None = None
) -> list[Step]:
    """The phases of a tick for one régua, in order; its live steps.

    1. enroll the entries of its trigger since its watermark;
    2. record goals reached and exit those enrollments (cancelling what is unsent);
    3. create the deliveries that fell due for each step;
    4. mark finished passages completed (they free the contact for re-entry).

    With a partition, each phase looks only at its contacts, from its own watermarks.
    """
    steps = list(cadence.steps.filter(archived_at__isnull=True).order_by("position", "id"))
    marks = (
        Watermarks(cadence, now)
        if partition is None
        else PartitionWatermarks(cadence, now, partition, steps)
    )
    since = marks.enrolled_since
    only = _only(partition)
    # Read once per régua, and only when a step may hand its message to an owner.
    dedicated = (
        relationship.dedicated_q(today=timezone.localdate(now))
        if any(step.may_become_task for step in steps)
        else None
    )
    earliest = None  # the earliest entry this tick enrolled: a late event's is behind
    if since < now:
        horizon = _horizon(cadence, steps, since, now, dedicated=dedicated)
        enrolled, earliest = _enroll(cadence, horizon, now, only)
        _statistics_keep_up(Enrollment, enrolled, partition)
        tally.enrolled += enrolled
        tally.exited += _goals(cadence, since, now, only)
    for step in steps:
        scheduled, skipped, expired = _schedule(
            cadence, step, now, marks=marks, only=only, dedicated=dedicated, earliest=earliest
        )
        _statistics_keep_up(Delivery, scheduled + skipped, partition)
        tally.scheduled += scheduled
        tally.skipped += skipped
        tally.expired += expired
    if _minute(since) != _minute(now):
        # Once a minute is soon enough to free a contact for re-entry, and the check reads
        # every passage still waiting for a message: a campaign's 300,000 took 0.3 s.
        tally.completed += _complete(cadence, steps, now, only)
    if since < now:
        marks.enrolled(now)
    return steps


def _minute(moment: datetime) -> int:
    return int(moment.timestamp() // 60)


def _only(partition: Partition | None) -> Callable[[str], Q]:
    """The partition's filter on a contact id column; nothing for the whole tick."""
    if partition is None:
        return lambda field: Q()
    return partition.q


# PostgreSQL plans the next phases from the tables' statistics: after a large insert
# (the first tick of a régua, a catch-up) they would still describe the tables before
# it, and a join planned for a few rows over a hundred thousand takes minutes.
ANALYZE_AFTER_ROWS = 10_000


def _statistics_keep_up(
    model: type[Enrollment] | type[Delivery], inserted: int, partition: Partition | None
) -> None:
    # A partition's peers insert about as many rows meanwhile. (Two partitions' ANALYZEs
    # of one table queue on each other until the first one's régua is committed.)
    if inserted * (partition.count if partition else 1) >= ANALYZE_AFTER_ROWS:
        statistics_refresh(model)


# 1. Enrollment ---------------------------------------------------------------------------


def _horizon(
    cadence: Cadence, steps: list[Step], since: datetime, now: datetime, *, dedicated: Q | None
) -> datetime:
    """Where enrollment starts: `since`, or later when every step of an earlier entry fell
    due longer ago than its lateness limit (Step.lateness), so each would only expire. After
    a long outage the tick enrolls from there, and says so."""
    if not steps:
        return since
    limits = [_expired_through(step, now, dedicated=dedicated is not None) for step in steps]
    if None in limits:
        return since
    horizon = min(limit for limit in limits if limit is not None) - triggers.EVENT_LATENESS
    if since >= horizon:
        return since
    log.warning(
        "régua %s: entries from %s to %s are not enrolled: all their steps are past "
        "the lateness limit",
        cadence.key,
        since.isoformat(),
        horizon.isoformat(),
    )
    return horizon


def _expired_through(step: Step, now: datetime, *, dedicated: bool) -> datetime | None:
    """The latest entry instant whose delivery of `step` fell due longer before `now` than
    its lateness limit (Step.lateness), whatever its send window and however long its
    months: it would only expire. None when the step was moved so recently that nobody's
    is that late (a moved step is due at once for those already past its new moment)."""
    oldest = now - step.lateness(dedicated=dedicated) - WINDOW_SLACK
    if step.rescheduled_at is not None and step.rescheduled_at > oldest:
        return None
    months = MONTH_SLACK if step.parsed_offset.unit == "mo" else timedelta(0)
    return step.entered_by(oldest) - months


ENROLLMENT_FIELDS = [
    "cadence_id",
    "contact_id",
    "occurrence",
    "entered_at",
    "holdout",
    "status",
    "trigger_event_id",
    "exit_reason",
    "created_at",
    "updated_at",
]


Enrolled = tuple[int, datetime | None]  # how many entered, and the earliest entry of them


def _enroll(cadence: Cadence, since: datetime, now: datetime, only: Callable[[str], Q]) -> Enrolled:
    if cadence.trigger_kind == "event":
        return _enroll_events(cadence, since, now, only)
    if cadence.trigger_kind == "inactivity":
        return _enroll_inactivity(cadence, since, now, only)
    entries = _entries(cadence, since, now, only)
    if cadence.reentry != Reentry.EACH_OCCURRENCE or cadence.trigger_kind == "attribute":
        entries = _first_per_contact(entries)
    created = timezone.now()
    earliest: list[datetime] = []

    def row(entry: triggers.Entry) -> tuple:
        if not earliest or entry.entered_at < earliest[0]:  # of those offered: a bound
            earliest[:] = [entry.entered_at]
        return (
            cadence.pk,
            entry.contact_id,
            entry.occurrence,
            entry.entered_at,
            cadence.in_holdout(entry.contact_id),
            EnrollmentStatus.ACTIVE,
            None,
            "",
            created,
            created,
        )

    enrolled = sum(
        insert_many(Enrollment, ENROLLMENT_FIELDS, chunk, ignore_conflicts=True)
        for chunk in _chunks(row(entry) for entry in entries)
    )
    return enrolled, earliest[0] if enrolled else None


def _enroll_events(
    cadence: Cadence, since: datetime, now: datetime, only: Callable[[str], Q]
) -> Enrolled:
    """The busiest trigger, enrolled in one INSERT ... SELECT from the events."""
    events = triggers.trigger_events(cadence.trigger, since, now).filter(
        only("contact_id"), _admission(cadence, now)("contact_id")
    )
    if cadence.reentry != Reentry.EACH_OCCURRENCE:  # the first entry of each contact
        events = events.annotate(
            nth=Window(RowNumber(), partition_by=F("contact_id"), order_by=["occurred_at", "id"])
        ).filter(nth=1)
    return _insert_enrollments(
        cadence,
        events.order_by().values("contact_id", "id", "occurred_at"),
        contact="s.contact_id",
        occurrence="'e' || CAST(s.id AS TEXT)",
        entered="s.occurred_at",
        trigger_event="s.id",
    )


def _enroll_inactivity(
    cadence: Cadence, since: datetime, now: datetime, only: Callable[[str], Q]
) -> Enrolled:
    """Those who fell silent, enrolled in one INSERT ... SELECT from their last events:
    entered when the silence reached its length, one passage per silence (the occurrence
    is that minute, in UTC)."""
    days = int(cadence.trigger["days"])
    who = only("contact_id") & _admission(cadence, now)("contact_id")
    entered = due_sql(connection.vendor, Offset(days, "d"), None, None, entered="s.last")
    if connection.vendor == "postgresql":
        occurrence = f"'i' || to_char(({entered}) AT TIME ZONE 'UTC', 'YYYYMMDDHH24MI')"
    else:
        occurrence = f"'i' || strftime('%%Y%%m%%d%%H%%M', {entered})"
    last, silent, silent_params = triggers.inactivity_last(cadence.trigger, since, now, who)
    return _insert_enrollments(
        cadence,
        last,
        contact="s.contact_id",
        occurrence=occurrence,
        entered=entered,
        where=silent,
        where_params=silent_params,
    )


def cadence_enroll(*, cadence: Cadence, contacts: Q, now: datetime) -> int:
    """Enroll these contacts in a manual régua now (a broadcast to a segment).

    One INSERT ... SELECT from the contacts: the régua's audience and re-entry policy
    still decide who may enter, the holdout is drawn as for every entry, and the next
    tick schedules the steps. Returns how many entered.
    """
    who = _admission(cadence, now)
    members = Contact.objects.filter(contacts).filter(who("pk")).order_by().values("id")
    with transaction.atomic():
        # No tick of the régua runs while these are written, so none can read past them
        # before they commit; one that held it a moment before looks back triggers.RECENT.
        _lock_waiting(cadence)
        entered, _first = _insert_enrollments(
            cadence,
            members,
            contact="s.id",
            occurrence="%s",
            entered="%s",
            params=[f"m{now:%Y%m%d%H%M%S}", db_datetime_adapter()(now)],
        )
    return entered


def _insert_enrollments(
    cadence: Cadence,
    source: Any,
    *,
    contact: str,
    occurrence: str,
    entered: str,
    trigger_event: str = "NULL",
    params: Sequence[Any] = (),
    where: str = "1 = 1",
    where_params: Sequence[Any] = (),
) -> Enrolled:
    """INSERT ... SELECT of active passages through `cadence` from `source` (as `s`),
    ignoring those that exist: `contact`, `occurrence`, `entered` and `trigger_event` are
    SQL over its columns, `params` filling their placeholders in that order; the holdout
    is drawn on the contact as for every entry. How many entered, and the earliest entry."""
    created = db_datetime_adapter()(timezone.now())
    return insert_select_earliest(
        Enrollment,
        ENROLLMENT_FIELDS,
        [
            "%s",
            contact,
            occurrence,
            entered,
            draws.in_share_sql(contact, cadence.key, cadence.holdout_percent),
            "%s",
            trigger_event,
            "''",
            "%s",
            "%s",
        ],
        source,
        "entered_at",
        [cadence.pk, *params, EnrollmentStatus.ACTIVE, created, created],
        where,
        where_params,
    )


def _admission(cadence: Cadence, now: datetime) -> Callable[[str], Q]:
    """Who may enter, as seen from a row whose contact is OuterRef(ref): in the audience,
    not erased, and not already in the régua as the re-entry policy reads it."""
    audience = conditions.to_q(cadence.audience, today=now.date())
    enrolled = Enrollment.objects.filter(cadence=cadence)
    kind = cadence.trigger_kind
    if cadence.reentry == Reentry.AFTER_EXIT or (
        kind == "attribute" and cadence.reentry == Reentry.EACH_OCCURRENCE
    ):
        enrolled = enrolled.filter(status=EnrollmentStatus.ACTIVE)
    exclude_enrolled = cadence.reentry != Reentry.EACH_OCCURRENCE or kind == "attribute"

    def who(ref: str) -> Q:
        # An erased person (LGPD) never enters again, whatever the trigger: the
        # anonymous row stays only so that the counts keep adding up.
        q = ~Q(Exists(Erasure.objects.filter(contact_id=OuterRef(ref))))
        if audience:
            q &= Q(Exists(Contact.objects.filter(audience, pk=OuterRef(ref))))
        if exclude_enrolled:
            q &= ~Q(Exists(enrolled.filter(contact_id=OuterRef(ref))))
        return q

    return who


def _entries(
    cadence: Cadence, since: datetime, now: datetime, only: Callable[[str], Q]
) -> Iterable[triggers.Entry]:
    """Entries of the triggers other than events, computed per row (few rows a day)."""
    trigger = cadence.trigger
    kind = cadence.trigger_kind
    who = _admission(cadence, now)
    contacts = Contact.objects.filter(only("pk"), who("pk")).order_by()
    if kind == "date":
        return triggers.date_entries(trigger, since, now, contacts)
    if kind == "calendar":
        return triggers.calendar_entries(trigger, since, now, contacts)
    if kind == "attribute":
        return triggers.attribute_entries(now, contacts)
    return []  # manual: enrolled by cadence_enroll()


def _first_per_contact(entries: Iterable[triggers.Entry]) -> Iterator[triggers.Entry]:
    first: dict[int, triggers.Entry] = {}
    for entry in entries:
        known = first.get(entry.contact_id)
        if known is None or entry.entered_at < known.entered_at:
            first[entry.contact_id] = entry
    return iter(first.values())


def _chunks(rows: Iterable[tuple]) -> Iterator[list[tuple]]:
    chunk: list[tuple] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= INSERT_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# 2. Goals and exits ----------------------------------------------------------------------


def _goals(cadence: Cadence, since: datetime, now: datetime, only: Callable[[str], Q]) -> int:
    """Record when enrollments reached the goal; end those that met the exit event."""
    goal = cadence.goal or cadence.exit_goal or {}
    exit_on = cadence.exit_goal or {}
    exits = bool(exit_on.get("event"))
    exited = 0
    if goal.get("event"):
        first = Subquery(_after_entry(goal, since, now).values("occurred_at")[:1])
        reached = _reached(cadence, goal, since, now, only)
        if exits and goal == exit_on:
            exited = _reach_and_exit(reached, first, now)
        else:
            reached.filter(goal_at__isnull=True).update(goal_at=first)
    if exits and goal != exit_on:
        exited = (
            _reached(cadence, exit_on, since, now, only)
            .filter(status=EnrollmentStatus.ACTIVE)
            .update(status=EnrollmentStatus.EXITED, exited_at=now, exit_reason="goal")
        )
    if exited:
        Delivery.objects.filter(
            only("contact_id"),
            cadence=cadence,
            status=DeliveryStatus.SCHEDULED,
            enrollment__status=EnrollmentStatus.EXITED,
        ).update(status=DeliveryStatus.CANCELLED, reason="exit event", updated_at=now)
    return exited


def _reach_and_exit(reached: Any, first: Subquery, now: datetime) -> int:
    """The usual régua, whose goal event is also its exit: in one pass over the events,
    record the goal of every passage that reached it (a finished one too: it converted)
    and end the active ones. How many it ended."""
    active = Q(status=EnrollmentStatus.ACTIVE)

    def if_active(value: Any, field: str) -> Case:
        # Every SET of an UPDATE reads the row as it was: `status` is the old one.
        return Case(When(active, then=Value(value)), default=F(field))

    changed = update_returning(
        reached.filter(Q(goal_at__isnull=True) | active),
        {
            "goal_at": Coalesce(F("goal_at"), first),
            "status": if_active(EnrollmentStatus.EXITED, "status"),
            "exited_at": if_active(now, "exited_at"),
            "exit_reason": if_active("goal", "exit_reason"),
        },
        # Ended by this pass; a passage already over kept its status, reason and moment.
        "CASE WHEN status = %s AND exit_reason = %s AND exited_at = %s THEN 1 ELSE 0 END",
        [EnrollmentStatus.EXITED, "goal", connection.ops.adapt_datetimefield_value(now)],
    )
    return sum(ended for (ended,) in changed)


def _recent(spec: dict, since: datetime, now: datetime) -> Any:
    return Event.objects.filter(
        name=spec["event"],
        occurred_at__gt=since - triggers.EVENT_LATENESS,
        occurred_at__lte=now,
        **{f"properties__{k}": v for k, v in (spec.get("where") or {}).items()},
    )


def _after_entry(spec: dict, since: datetime, now: datetime) -> Any:
    return (
        _recent(spec, since, now)
        .filter(contact_id=OuterRef("contact_id"), occurred_at__gt=OuterRef("entered_at"))
        .order_by("occurred_at")
    )


def _reached(
    cadence: Cadence, spec: dict, since: datetime, now: datetime, only: Callable[[str], Q]
) -> Any:
    """Enrollments whose contact did `spec` after entering, seen from recent events only."""
    recent = _recent(spec, since, now).filter(only("contact_id"))
    return Enrollment.objects.filter(
        only("contact_id"), cadence=cadence, contact_id__in=recent.values("contact_id")
    ).filter(Exists(_after_entry(spec, since, now)))


# 3. Scheduling ---------------------------------------------------------------------------


def _schedule(
    cadence: Cadence,
    step: Step,
    now: datetime,
    *,
    marks: Watermarks,
    only: Callable[[str], Q],
    dedicated: Q | None = None,
    earliest: datetime | None = None,
) -> tuple[int, int, int]:
    """Create the deliveries of `step` that fell due by `now`; (scheduled, skipped,
    expired).

    It looks at the passages whose due moment the clock has passed since the step's
    watermark; and behind it, for those without this step's delivery yet, at the ones
    committed a moment late by another process (triggers.RECENT) and at the late ones
    this tick enrolled, from `earliest`, the earliest entry among them.

    Deliveries that fell due longer ago than the step's lateness limit (a tick catching
    up after an outage) are not created, only counted as expired: they could not go out.
    `dedicated` is the membership of the dedicated segments: a message step due for one
    of their contacts who has an owner is created as a task delivery (relationship.py).
    """
    offset = step.parsed_offset
    lower = marks.scheduled_since(step)
    # A month is not a fixed length: the range reaches a few days further each way and
    # the due moment decides.
    months = MONTH_SLACK if offset.unit == "mo" else timedelta(0)
    seen, end = step.entered_by(lower) - months, step.entered_by(now) + months
    start = seen - triggers.RECENT
    if earliest is not None and earliest <= start:
        start = earliest - timedelta(microseconds=1)
    if end <= start:
        return 0, 0, 0
    passages = Enrollment.objects.filter(
        only("contact_id"), cadence=cadence, status=EnrollmentStatus.ACTIVE, holdout=False
    ).order_by()
    expired = 0
    expired_through = _expired_through(step, now, dedicated=dedicated is not None)
    if expired_through is not None and min(end, expired_through) > start:
        cut = min(end, expired_through)
        expired = _past_lateness(
            cadence, step, passages.filter(entered_at__gt=start, entered_at__lte=cut), cut
        )
        start = cut
    pending = passages.filter(entered_at__gt=start, entered_at__lte=end)
    if start < seen:
        # Behind the watermark most passages have this step's delivery already: they are
        # left out here, not turned away one by one by its unique key (a burst of
        # 300,000 entries cost 1.4 s a tick that way). Ahead of it few have one (within a
        # month step's slack), and the unique key turns those away.
        had = Delivery.objects.filter(enrollment=OuterRef("pk"), step=step)
        pending = pending.filter(Q(entered_at__gt=seen) | ~Exists(had))
    condition = conditions.to_q(step.condition, today=now.date())
    ab = any(isinstance(m, dict) and m.get("subject_b") for m in (step.message or {}).values())
    # Rows entered after `start` fall due after offset.after(start): a reschedule moment
    # before that moves none of them.
    rescheduled = step.rescheduled_at
    if rescheduled is not None and rescheduled <= offset.after(start):
        rescheduled = None
    due = due_sql(connection.vendor, offset, rescheduled, step.window)
    variant = draws.variant_sql("s.id", step.key) if ab else "'a'"
    rows = pending.annotate(zone=F("contact__time_zone"))
    columns = ["id", "contact_id", "entered_at", "zone"]
    channel = "%s"
    if dedicated is not None and step.may_become_task:
        # Decided here, set-based, when the step falls due: one EXISTS in the same query.
        rows = rows.annotate(personal=relationship.becomes_task(dedicated))
        columns.append("personal")
        channel = "CASE WHEN s.personal THEN 'task' ELSE %s END"
    select = ["s.id", "%s", "%s", "s.contact_id", channel, "%s", due, variant, "%s", "0"]
    select += ["%s", "%s"]
    stamp = db_datetime_adapter()
    created = stamp(timezone.now())
    where, where_params = (f"{due} <= %s", [stamp(now)]) if offset.unit == "mo" else ("1 = 1", [])

    def insert(source: Any, status: str, reason: str) -> int:
        return insert_select(
            Delivery,
            DELIVERY_FIELDS,
            select,
            source.values(*columns),
            [step.pk, cadence.pk, step.channel, status, reason, created, created],
            where,
            where_params,
        )

    if not condition:
        scheduled, skipped = insert(rows, DeliveryStatus.SCHEDULED, ""), 0
    else:
        ok = Exists(Contact.objects.filter(condition, pk=OuterRef("contact_id")))
        scheduled = insert(rows.filter(ok), DeliveryStatus.SCHEDULED, "")
        skipped = insert(rows.filter(~ok), DeliveryStatus.SKIPPED, "condition not met")
    marks.scheduled(step, now)
    return scheduled, skipped, expired


def _past_lateness(cadence: Cadence, step: Step, passages: Any, cut: datetime) -> int:
    """How many of `passages` (those who entered up to `cut`) have no delivery of `step`
    yet, which could now only expire; scheduling starts after them.

    Only a tick catching up after an outage (or a paused régua resumed) meets them. They
    are counted rather than written: a year's backlog would be millions of rows."""
    had = Delivery.objects.filter(enrollment=OuterRef("pk"), step=step)
    expired = passages.exclude(Exists(had)).count()
    if expired:
        log.warning(
            "régua %s, step %s: %d deliveries due before %s are not created: past the "
            "lateness limit",
            cadence.key,
            step.key,
            expired,
            step.parsed_offset.after(cut).isoformat(),
        )
    return expired


DELIVERY_FIELDS = [
    "enrollment_id",
    "step_id",
    "cadence_id",
    "contact_id",
    "channel",
    "status",
    "due_at",
    "variant",
    "reason",
    "attempts",
    "created_at",
    "updated_at",
]


# 4. Completion ---------------------------------------------------------------------------


def _complete(cadence: Cadence, steps: list[Step], now: datetime, only: Callable[[str], Q]) -> int:
    last = max((step.parsed_offset for step in steps), default=None, key=lambda o: o.approx_minutes)
    finished_before = last.before(now) if last else now
    unfinished = Delivery.objects.filter(
        enrollment=OuterRef("pk"),
        status__in=[DeliveryStatus.SCHEDULED, DeliveryStatus.SENDING],
    )
    return (
        Enrollment.objects.filter(
            only("contact_id"),
            cadence=cadence,
            status=EnrollmentStatus.ACTIVE,
            entered_at__lte=finished_before,
        )
        .exclude(Exists(unfinished))
        .update(status=EnrollmentStatus.COMPLETED, exited_at=now, exit_reason="completed")
    )

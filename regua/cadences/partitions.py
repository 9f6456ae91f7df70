"""Partitioned ticks: several workers share one tick, each over a share of the contacts.

A partition K/N is the contacts whose id modulo N is K. Every phase of a partitioned
tick (tick.py) adds that one predicate to its queries, so N partitions run as of one
instant create exactly what one unpartitioned tick creates, and partitions run at once
never write the same row. Why the id modulo N, rather than ranges of ids or a hash:

- the planners keep the unpartitioned tick's plans. No index can serve `contact_id % N`,
  so SQLite and PostgreSQL read the rows the tick reads anyway (enrollments by
  (cadence, entered_at), events by (name, occurred_at)) and filter them; a range of
  contact ids would tempt them into the indexes that start with the contact, across
  every régua;
- it spreads the work: ids come from a sequence, so the day's new contacts (signups, the
  busiest trigger) are dealt round the partitions, where ranges would hand them all to
  the last one; a hash would spread them no better and cost more to read;
- nothing is stored: the count can change without touching a row, and SQL and Python
  compute it alike.

Watermarks. A partition keeps its own, per régua (CadencePartition) and per step
(StepPartition), so one that fails or lags holds back nobody else. The régua's own
watermarks (Cadence.enrolled_through, Step.scheduled_through) stay what they were: what
an unpartitioned tick, the preview and the editing of a régua read and set. A partition
starts from the later of its row and the régua's own (a resumed régua's own jumps ahead
of every row), and the régua's own follows the slowest partition of the count
(`watermarks_advance`): when the count changes, the new partitions, which have no rows
yet, start from the minimum of the old ones. The one edit that moves a watermark back,
a step moved earlier (look again from activation), stamps the step's `rescheduled_at`;
a partition row written before that stamp no longer counts.

Turns. With REGUA_TICK_PARTITIONS = N, a worker leases the partition whose turn came
longest ago (`tick_partition_claim`): a row per partition (TickPartition) with its lease
and its last turn, taken with one conditional UPDATE (on PostgreSQL the row is picked
FOR UPDATE SKIP LOCKED), so N workers take N different partitions, and a dead worker's
partition is taken over when its lease runs out.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.lookups import Exact
from django.utils import timezone

from regua.lib.bulk import db_datetime_adapter, ids_taken_from

from .models import Cadence, CadencePartition, Step, StepPartition, TickPartition

MAX_PARTITIONS = 255  # the PostgreSQL advisory lock of a partition encodes N in 8 bits
# A partition's lease: renewed after each régua, so it runs out this long after its
# worker died, and then another worker takes the partition over.
LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class Partition:
    """The contacts whose id modulo `count` is `index`."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not (1 <= self.count <= MAX_PARTITIONS and 0 <= self.index < self.count):
            raise ValueError(f"no partition {self.index}/{self.count}")

    @classmethod
    def parse(cls, text: str) -> "Partition":
        """ "K/N", K from 0 to N - 1. ValueError when it is not one."""
        index, slash, count = text.partition("/")
        if not slash:
            raise ValueError(f"no partition {text!r}")
        return cls(int(index), int(count))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def q(self, field: str) -> Q:
        """The rows whose contact id, in `field`, falls in this partition."""
        return Q(Exact(F(field) % self.count, self.index))

    def holds(self, contact_id: int) -> bool:
        return contact_id % self.count == self.index


# Watermarks ------------------------------------------------------------------------------


class Watermarks:
    """Where one régua's tick starts and what it records when a phase is done: for an
    unpartitioned tick the régua's own watermarks, read and written as they always were."""

    def __init__(self, cadence: Cadence, now: datetime) -> None:
        self.cadence = cadence
        self.enrolled_since: datetime = cadence.enrolled_through or cadence.activated_at or now

    def scheduled_since(self, step: Step) -> datetime:
        return step.scheduled_through or step.created_at

    def enrolled(self, now: datetime) -> None:
        Cadence.objects.filter(pk=self.cadence.pk).update(enrolled_through=now)
        self.cadence.enrolled_through = now

    def scheduled(self, step: Step, now: datetime) -> None:
        Step.objects.filter(pk=step.pk).update(scheduled_through=now)
        step.scheduled_through = now


class PartitionWatermarks(Watermarks):
    """A partition's own rows, read against the régua's watermarks (module docstring)."""

    def __init__(
        self, cadence: Cadence, now: datetime, partition: Partition, steps: Sequence[Step]
    ) -> None:
        super().__init__(cadence, now)
        self.partition = partition
        mine = {"count": partition.count, "index": partition.index}
        rows = CadencePartition.objects.filter(cadence=cadence, **mine)
        for (through,) in rows.values_list("enrolled_through"):
            self.enrolled_since = max(through, self.enrolled_since)
        self.steps = {
            step_id: (through, rescheduled)
            for step_id, through, rescheduled in StepPartition.objects.filter(
                step_id__in=[step.pk for step in steps], **mine
            ).values_list("step_id", "scheduled_through", "rescheduled_at")
        }

    def scheduled_since(self, step: Step) -> datetime:
        own = super().scheduled_since(step)
        through, rescheduled = self.steps.get(step.pk, (own, None))
        # A step moved since the row was written is looked at again from its own.
        return own if rescheduled != step.rescheduled_at else max(through, own)

    def enrolled(self, now: datetime) -> None:
        row = CadencePartition(
            cadence_id=self.cadence.pk,
            count=self.partition.count,
            index=self.partition.index,
            enrolled_through=now,
        )
        CadencePartition.objects.bulk_create(
            [row],
            update_conflicts=True,
            unique_fields=["cadence", "count", "index"],
            update_fields=["enrolled_through", "updated_at"],
        )

    def scheduled(self, step: Step, now: datetime) -> None:
        row = StepPartition(
            step_id=step.pk,
            count=self.partition.count,
            index=self.partition.index,
            scheduled_through=now,
            rescheduled_at=step.rescheduled_at,
        )
        StepPartition.objects.bulk_create(
            [row],
            update_conflicts=True,
            unique_fields=["step", "count", "index"],
            update_fields=["scheduled_through", "rescheduled_at", "updated_at"],
        )


def watermarks_advance(cadence: Cadence, steps: Sequence[Step], partition: Partition) -> None:
    """Move the régua's own watermarks up to the slowest partition of this count.

    1. Read the régua's (and each step's) own watermark and the count's partition rows.
    2. Once every partition has a row (for a step, written since the step last moved),
       the slowest of them is how far all contacts have been looked at.
    3. Write it when it is later, and only if the watermark is still the one read: a
       change made meanwhile (a step moved, the régua resumed) wins; the next tick
       tries again.
    """
    count = partition.count
    own = Cadence.objects.filter(pk=cadence.pk).values_list("enrolled_through", "activated_at")
    for through, activated in own:
        rows = CadencePartition.objects.filter(cadence=cadence, count=count)
        target = _slowest(through or activated, list(rows.values_list("enrolled_through")), count)
        if target is not None:
            Cadence.objects.filter(pk=cadence.pk, enrolled_through=through).update(
                enrolled_through=target
            )
    ids = [step.pk for step in steps]
    step_rows = StepPartition.objects.filter(step_id__in=ids, count=count)
    by_step: dict[int, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for step_id, through, rescheduled in step_rows.values_list(
        "step_id", "scheduled_through", "rescheduled_at"
    ):
        by_step[step_id].append((through, rescheduled))
    complete = Step.objects.filter(pk__in=[pk for pk in ids if len(by_step[pk]) == count])
    for pk, through, created, rescheduled in complete.values_list(
        "pk", "scheduled_through", "created_at", "rescheduled_at"
    ):
        marks = [(mark,) for mark, seen in by_step[pk] if seen == rescheduled]
        target = _slowest(through or created, marks, count)
        if target is not None:
            Step.objects.filter(
                pk=pk, scheduled_through=through, rescheduled_at=rescheduled
            ).update(scheduled_through=target)


def _slowest(own: datetime | None, rows: list[tuple[datetime]], count: int) -> datetime | None:
    """The slowest of the `count` partitions' watermarks when each has one and it is
    later than `own`; else None."""
    if own is None or len(rows) < count:
        return None
    slowest = min(through for (through,) in rows)
    return slowest if slowest > own else None


# Turns -----------------------------------------------------------------------------------


def tick_partition_claim(*, now: datetime, worker: str) -> Partition | None:
    """Lease the partition of REGUA_TICK_PARTITIONS whose turn came longest ago, for
    `worker`; None when no free partition last ran REGUA_TICK_SECONDS or more ago.

    1. Read the count's rows, creating the missing ones: an idle worker writes nothing.
    2. Take the free row that ran least recently with one conditional UPDATE, which also
       stamps its turn (on PostgreSQL the row is picked FOR UPDATE SKIP LOCKED, so
       concurrent claimers take different rows without waiting on each other).

    `now` is the worker's present: leases and turns run on it.
    """
    count = settings.REGUA_TICK_PARTITIONS
    turn = now - timedelta(seconds=settings.REGUA_TICK_SECONDS)
    free = Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    due = Q(ticked_at__isnull=True) | Q(ticked_at__lte=turn)
    rows = TickPartition.objects.filter(count=count)
    known = set(rows.values_list("index", flat=True))
    if len(known) < count:
        TickPartition.objects.bulk_create(
            [TickPartition(count=count, index=i) for i in range(count) if i not in known],
            ignore_conflicts=True,
        )
    elif not rows.filter(free, due).exists():
        return None
    candidates = rows.filter(free, due).order_by(F("ticked_at").asc(nulls_first=True), "index")
    stamp = db_datetime_adapter()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            candidates = candidates.select_for_update(skip_locked=True)
        where, params = ids_taken_from(candidates.values("id")[:1])
        table = connection.ops.quote_name(TickPartition._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET worker = %s, leased_until = %s, ticked_at = %s, "
                f'updated_at = %s WHERE {where} RETURNING "index"',
                [worker, stamp(now + LEASE), stamp(now), stamp(timezone.now()), *params],
            )
            taken = cursor.fetchone()
    return Partition(taken[0], count) if taken else None


def tick_partition_renew(partition: Partition, *, worker: str, now: datetime) -> None:
    """Keep the lease while the partition's tick goes on (after each régua)."""
    _held(partition, worker).update(leased_until=now + LEASE, updated_at=timezone.now())


def tick_partition_release(partition: Partition, *, worker: str) -> None:
    """The partition's tick is over: free it for its next turn (stamped when claimed)."""
    _held(partition, worker).update(leased_until=None, updated_at=timezone.now())


def _held(partition: Partition, worker: str) -> QuerySet[TickPartition]:
    # Only while it is ours: after a lease ran out, another worker may hold the row.
    return TickPartition.objects.filter(
        count=partition.count, index=partition.index, worker=worker, leased_until__isnull=False
    )

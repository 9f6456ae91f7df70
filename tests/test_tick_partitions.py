"""Partitioned ticks: N partitions of the contacts, each from its own watermarks, make
exactly what one whole tick makes, and the workers take turns at them.

The equivalence is checked on a fixed, seeded world: a few hundred contacts, their
signups, product views, purchases and logins over five weeks, and a régua of each kind
(an event trigger with steps at several offsets, a window, a condition and a month;
an exit goal; birthdays; inactivity; an audience; a calendar date). The world is ticked
whole first, then, from the same start, by partitions, and the two outcomes compared
row for row (ids aside). On PostgreSQL, partitions also run at once in processes of
their own. The régua's own watermark and the turns are checked directly.
"""

import json
import os
import random
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import time_machine
import yaml
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection, connections

from regua.cadences import tick as tick_module
from regua.cadences.models import (
    Cadence,
    CadencePartition,
    Delivery,
    DeliveryStatus,
    Enrollment,
    Step,
    StepPartition,
    TickPartition,
)
from regua.cadences.partitions import (
    LEASE,
    Partition,
    tick_partition_claim,
    tick_partition_release,
)
from regua.cadences.tick import tick, tick_partitioned_once
from regua.cadences.yaml_io import cadence_export, cadence_import, cadence_set_status
from regua.customers.models import Contact
from regua.events.ingest import fingerprint
from regua.events.models import Event
from regua.lib.bulk import statistics_refresh

pytestmark = pytest.mark.django_db

SP = ZoneInfo("America/Sao_Paulo")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SP)  # a Monday, 10:00 in São Paulo: activation
CONTACTS = 240
# Every 31 hours for five weeks: ticks land at every hour of the day.
INSTANTS = [T0 + timedelta(hours=31 * n) for n in range(1, 29)]

MESSAGE = {"pt-br": {"subject": "Olá, {{ contact.first_name }}", "body": "Oi!"}}


def email_step(key: str, offset: str, **more: Any) -> dict[str, Any]:
    return {"key": key, "offset": offset, "channel": "email", "message": MESSAGE, **more}


REGUAS: list[dict[str, Any]] = [
    {
        "key": "cadastro",
        "trigger": {"kind": "event", "event": "signup"},
        "holdout_percent": 10,
        "steps": [
            email_step("boas-vindas", "0"),
            email_step("experiencia", "2d", window={"start": "09:00", "end": "18:00"}),
            email_step(
                "so-clientes", "3d", condition=[{"field": "stage", "op": "eq", "value": "customer"}]
            ),
            email_step("mes", "1mo"),
        ],
    },
    {
        "key": "produto-visto",
        "trigger": {"kind": "event", "event": "product_viewed"},
        "reentry": "after_exit",
        "exit": {"event": "purchase"},
        "steps": [email_step("lembrete", "6h"), email_step("ultima-chance", "2d")],
    },
    {
        "key": "aniversario",
        "trigger": {"kind": "date", "attribute": "birth_date", "hour": 9},
        "reentry": "each_occurrence",
        "steps": [email_step("parabens", "0")],
    },
    {
        "key": "inativos",
        "trigger": {"kind": "inactivity", "days": 10, "events": ["login", "purchase"]},
        "reentry": "after_exit",
        "steps": [email_step("saudade", "0"), email_step("pesquisa", "3d")],
    },
    {
        "key": "dormentes",
        "trigger": {"kind": "attribute"},
        "audience": [{"field": "stage", "op": "eq", "value": "inactive"}],
        "steps": [email_step("volte", "1d")],
    },
    {
        "key": "dia-delas",
        "trigger": {"kind": "calendar", "rule": "03-20", "hour": 9},
        "audience": [{"field": "gender", "op": "eq", "value": "female"}],
        "steps": [email_step("homenagem", "0")],
    },
]


@pytest.fixture(autouse=True)
def _engine_settings(settings: Any) -> None:
    settings.EMAIL_BACKEND = "regua.cadences.channels.outbox.EmailBackend"
    settings.REGUA_TICK_SECONDS = 1


def regua_install(spec: dict[str, Any], at: datetime = T0) -> Cadence:
    document = {"name": spec["key"], "objective": "retention", "status": "draft", **spec}
    cadence, _created = cadence_import(yaml.safe_dump(document, allow_unicode=True))
    with time_machine.travel(at, tick=False):
        cadence_set_status(cadence, "active")
    return Cadence.objects.get(pk=cadence.pk)


def event(contact_id: int, name: str, at: datetime) -> Event:
    return Event(
        contact_id=contact_id,
        name=name,
        occurred_at=at,
        fingerprint=fingerprint(f"{contact_id}:{name}:{at.isoformat()}", {})[0],
    )


def world(seed: int = 7, reguas: Iterable[dict[str, Any]] = REGUAS) -> list[Contact]:
    """The réguas, active since T0, and CONTACTS contacts with five weeks of events."""
    for spec in reguas:
        regua_install(spec)
    rng = random.Random(seed)
    contacts = Contact.objects.bulk_create(
        Contact(
            email=f"cliente{n}@exemplo.com.br",
            first_name=f"Cliente{n}",
            time_zone=rng.choice(["America/Sao_Paulo", "America/Manaus"]),
            stage=rng.choice(["lead", "customer", "inactive"]),
            gender=rng.choice(["female", "male"]),
            birth_date=(
                date(1970 + n % 30, rng.choice([3, 4]), rng.randint(1, 28))
                if rng.random() < 0.4
                else None
            ),
        )
        for n in range(CONTACTS)
    )

    def moment(low_days: float, high_days: float) -> datetime:
        return T0 + timedelta(minutes=rng.randint(int(low_days * 1440), int(high_days * 1440)))

    events = []
    for contact in contacts:
        if rng.random() < 0.6:
            events.append(event(contact.pk, "signup", moment(0, 30)))
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            viewed = moment(0, 30)
            events.append(event(contact.pk, "product_viewed", viewed))
            if rng.random() < 0.3:
                bought = viewed + timedelta(minutes=rng.randint(10, 3000))
                events.append(event(contact.pk, "purchase", bought))
        for _ in range(rng.choice([0, 1, 2])):
            events.append(event(contact.pk, "login", moment(-15, 25)))
    Event.objects.bulk_create(events)
    statistics_now()
    return contacts


def outcome(contacts: Partition | None = None) -> tuple[Counter[tuple], Counter[tuple]]:
    """Every enrollment and delivery as the user sees it (ids aside: they differ between
    runs, and the A/B variant is drawn from the enrollment's id), optionally for the
    contacts of one partition only."""
    enrollments = Enrollment.objects.values_list(
        "cadence__key",
        "contact_id",
        "occurrence",
        "entered_at",
        "holdout",
        "status",
        "goal_at",
        "exited_at",
        "exit_reason",
    )
    deliveries = Delivery.objects.values_list(
        "cadence__key",
        "contact_id",
        "enrollment__occurrence",
        "step__key",
        "channel",
        "status",
        "due_at",
        "reason",
    )

    def mine(rows: Iterable[tuple]) -> Counter[tuple]:
        return Counter(row for row in rows if contacts is None or contacts.holds(row[1]))

    return mine(enrollments), mine(deliveries)


def start_again() -> None:
    """Back to the moment of activation: no passages, every watermark at T0."""
    Delivery.objects.all().delete()
    Enrollment.objects.all().delete()
    CadencePartition.objects.all().delete()
    StepPartition.objects.all().delete()
    Cadence.objects.update(enrolled_through=T0)
    Step.objects.update(scheduled_through=T0)


def statistics_now() -> None:
    """PostgreSQL: plan from what this test wrote. The rolled-back rows of earlier tests
    leave pages that autovacuum found empty, and the planner, taking these tables for
    empty, would join them row by row (ANALYZE counts the transaction's own rows)."""
    statistics_refresh(Contact, Event, Enrollment, Delivery)


def whole(instants: Iterable[datetime]) -> tuple[Counter[tuple], Counter[tuple]]:
    """The reference: one unpartitioned tick at each instant."""
    for now in instants:
        tick(now=now, send=False)
        statistics_now()
    return outcome()


def by_partitions(now: datetime, count: int, skip: Iterable[int] = ()) -> None:
    # Partitions in a different order at each instant: none may rely on another's turn.
    order = list(range(count))
    random.Random(now.timestamp()).shuffle(order)
    for index in order:
        if index not in skip:
            tick(now=now, send=False, partition=Partition(index, count))
    statistics_now()


def cadastro_watermark() -> datetime | None:
    return Cadence.objects.get(key="cadastro").enrolled_through


# Partitions make what the whole tick makes ----------------------------------------------


@pytest.mark.parametrize("count", [1, 3, 7])
def test_all_partitions_of_a_tick_create_exactly_what_the_whole_tick_creates(count: int) -> None:
    # given the world ticked whole every 13 hours for five weeks
    world()
    enrollments, deliveries = whole(INSTANTS)
    # (every kind of régua and step had something to do, or the comparison proves little)
    assert {key for key, *_ in enrollments} == {spec["key"] for spec in REGUAS}
    statuses = Counter(row[5] for row in deliveries.elements())
    assert statuses[DeliveryStatus.SCHEDULED] > 100
    assert statuses[DeliveryStatus.SKIPPED] and statuses[DeliveryStatus.CANCELLED]
    assert {row[3] for row in deliveries} >= {"mes", "so-clientes", "ultima-chance", "pesquisa"}
    # when it starts again and every partition of `count` ticks at the same instants
    start_again()
    for now in INSTANTS:
        by_partitions(now, count)
    # then the same passages and the same deliveries exist, each once
    assert outcome() == (enrollments, deliveries)
    assert max(Counter(Delivery.objects.values_list("enrollment", "step")).values()) == 1


def test_a_whole_tick_leaves_the_partition_rows_alone_and_1_partition_is_the_whole_tick() -> None:
    world(reguas=REGUAS[:1])
    tick(now=INSTANTS[0], send=False)
    summary = tick(now=INSTANTS[1], send=False, partition=Partition(0, 1))
    assert summary.partition is None and "partition" not in summary.as_dict()
    assert not CadencePartition.objects.exists() and not StepPartition.objects.exists()
    assert cadastro_watermark() == INSTANTS[1]
    assert set(Step.objects.values_list("scheduled_through", flat=True)) == {INSTANTS[1]}


def test_a_partition_touches_only_its_own_contacts() -> None:
    # given the world ticked whole for four weeks
    world()
    whole(INSTANTS[:20])
    before_e, before_d = outcome()
    # when partition 1 of 3 alone ticks a few days later
    later = INSTANTS[26]
    tick(now=later, send=False, partition=Partition(1, 3))
    after_e, after_d = outcome()
    # then every passage and delivery it created or changed (entered, exited, completed,
    # scheduled, skipped, cancelled) is one of its contacts'
    changed = (
        (after_e - before_e) + (before_e - after_e) + (after_d - before_d) + (before_d - after_d)
    )
    assert changed and {row[1] % 3 for row in changed} == {1}
    # (which kinds of change occur depends on which ids fall in the partition: on
    # PostgreSQL the ids go on from earlier tests, so only the kinds are bounded)
    assert "active" in {row[5] for row in after_e - before_e}
    assert {row[5] for row in after_e - before_e} <= {"active", "exited", "completed"}
    assert {row[5] for row in after_d - before_d} <= {"scheduled", "skipped", "cancelled"}
    # and once the other two have ticked too, it is as if the whole tick had run
    by_partitions(later, 3, skip=[1])
    got = outcome()
    start_again()
    assert got == whole([*INSTANTS[:20], later])


# Watermarks per partition ---------------------------------------------------------------


def test_a_lagging_partition_holds_back_nobody_else() -> None:
    # given a signup régua and contacts signing up over five weeks
    contacts = world(reguas=REGUAS[:1])
    signed = dict(Event.objects.filter(name="signup").values_list("contact_id", "occurred_at"))
    first_days = INSTANTS[:6]
    # when partitions 0 and 2 of 3 tick for three days and partition 1 does not
    for now in first_days:
        by_partitions(now, 3, skip=[1])
    # then the contacts of 0 and 2 who signed up by then are in, with their welcome ...
    entered = set(Enrollment.objects.values_list("contact_id", flat=True))
    expected = {pk for pk, at in signed.items() if at <= first_days[-1]}
    assert entered == {pk for pk in expected if pk % 3 != 1}
    welcomed = set(
        Delivery.objects.filter(step__key="boas-vindas").values_list("contact", flat=True)
    )
    cadence = Cadence.objects.get(key="cadastro")
    assert welcomed == {pk for pk in entered if not cadence.in_holdout(pk)}
    # ... their partitions' watermarks moved, partition 1 has none, and the régua's own
    # stays where the slowest partition is: at activation
    rows = dict(CadencePartition.objects.values_list("index", "enrolled_through"))
    assert rows == {0: first_days[-1], 2: first_days[-1]}
    assert cadastro_watermark() == T0
    # when partition 1 catches up
    tick(now=first_days[-1], send=False, partition=Partition(1, 3))
    # then its contacts are in too, and the régua's own watermark reaches the slowest
    assert set(Enrollment.objects.values_list("contact_id", flat=True)) == expected
    assert cadastro_watermark() == first_days[-1]
    steps = Step.objects.filter(cadence=cadence)
    assert set(steps.values_list("scheduled_through", flat=True)) == {first_days[-1]}
    assert len(contacts) == CONTACTS


def test_a_partition_whose_tick_fails_keeps_its_watermark_and_frees_its_turn(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given two partitions, and a fault that strikes partition 1's régua tick
    settings.REGUA_TICK_PARTITIONS = 2
    world(reguas=REGUAS[:1])
    real = tick_module.cadence_tick

    def faulty(cadence: Cadence, *, partition: Partition | None = None, **kw: Any) -> Any:
        if partition is not None and partition.index == 1:
            raise RuntimeError("disk full")
        return real(cadence, partition=partition, **kw)

    monkeypatch.setattr(tick_module, "cadence_tick", faulty)
    now = INSTANTS[10]
    # when two workers take their turns
    done = tick_partitioned_once(now=now, worker="a")
    with pytest.raises(RuntimeError):
        tick_partitioned_once(now=now, worker="b")
    # then partition 0 ticked, partition 1 wrote nothing and kept its watermark, and its
    # turn is free again for the next round
    assert done is not None and done.partition == Partition(0, 2)
    assert set(CadencePartition.objects.values_list("index", flat=True)) == {0}
    assert Enrollment.objects.exists()
    assert all(pk % 2 == 0 for pk in Enrollment.objects.values_list("contact_id", flat=True))
    assert not TickPartition.objects.filter(leased_until__isnull=False).exists()
    assert TickPartition.objects.get(index=1).ticked_at == now  # it had its turn
    # when the fault is gone and the next round comes
    monkeypatch.setattr(tick_module, "cadence_tick", real)
    later = now + timedelta(seconds=1)
    assert cadastro_watermark() == T0  # the slowest, partition 1, is still at activation
    rounds = [tick_partitioned_once(now=later, worker=w) for w in "ba"]
    # then partition 1 caught up, and the régua's own watermark reached the slowest
    assert sorted(s.partition.index for s in rounds if s and s.partition) == [0, 1]
    assert {pk % 2 for pk in Enrollment.objects.values_list("contact_id", flat=True)} == {0, 1}
    assert cadastro_watermark() == later


def test_a_resumed_regua_enrolls_nobody_for_what_fired_while_it_was_paused() -> None:
    # given a signup régua ticked by 2 partitions, paused for a while, then resumed
    cadence = regua_install(REGUAS[0])
    before, during, after = Contact.objects.bulk_create(
        Contact(email=f"c{n}@exemplo.com.br") for n in range(3)
    )
    day = timedelta(days=1)
    Event.objects.bulk_create(
        [
            event(before.pk, "signup", T0 + day / 2),
            event(during.pk, "signup", T0 + day * 2),
            event(after.pk, "signup", T0 + day * 4),
        ]
    )
    by_partitions(T0 + day, 2)
    with time_machine.travel(T0 + day + timedelta(minutes=1), tick=False):
        cadence_set_status(cadence, "paused")
    with time_machine.travel(T0 + day * 3, tick=False):
        cadence_set_status(Cadence.objects.get(pk=cadence.pk), "active")
    # when both partitions tick after the resumption
    by_partitions(T0 + day * 5, 2)
    # then who signed up while paused is not in, whatever the partitions' own rows say
    entered = set(Enrollment.objects.values_list("contact_id", flat=True))
    assert entered == {before.pk, after.pk}


def test_changing_the_partition_count_makes_everything_once() -> None:
    # given the world ticked whole, as the reference
    world()
    reference = whole(INSTANTS)
    start_again()
    # when it is ticked by 3 partitions, then 5, then 2, then 1 (the whole tick again)
    for n, now in enumerate(INSTANTS):
        by_partitions(now, [3, 5, 2, 1][4 * n // len(INSTANTS)])
    # then every passage and delivery exists once, as in the reference
    assert outcome() == reference


def test_new_partitions_start_from_the_slowest_of_the_old_ones(settings: Any) -> None:
    # given signups, ticked by 3 partitions of which partition 2 fell behind (by 186
    # hours: within the lateness limit, or its catch-up would rightly create no rows for
    # what fell due longer ago, where the reference, ticking every 93 hours, made them)
    settings.REGUA_MAX_LATENESS_HOURS = 240
    world(reguas=REGUAS[:1])
    t1, t2, t3 = INSTANTS[3], INSTANTS[6], INSTANTS[9]
    by_partitions(t1, 3)
    by_partitions(t2, 3, skip=[2])
    assert cadastro_watermark() == t1  # the slowest old partition
    # when the count changes to 2 and both new partitions tick
    by_partitions(t3, 2)
    # then they started from the slowest old partition: partition 2's signups between
    # t1 and t2 are in as well (from t2, they would have been lost)
    late = Event.objects.filter(name="signup", occurred_at__gt=t1, occurred_at__lte=t2)
    behind = {pk for pk in late.values_list("contact_id", flat=True) if pk % 3 == 2}
    assert behind and behind <= set(Enrollment.objects.values_list("contact_id", flat=True))
    # and, against the reference, everything is there once
    got = outcome()
    start_again()
    assert got == whole([t1, t2, t3])


def test_moving_a_step_earlier_is_seen_by_every_partition() -> None:
    # given a signup régua with a day-15 step, ticked by 2 partitions up to day 12;
    # early and other signed up on day 0 (one in each partition), late on day 9
    document = {
        "key": "cadastro",
        "trigger": {"kind": "event", "event": "signup"},
        "steps": [email_step("boas-vindas", "0"), email_step("experiencia", "15d")],
    }
    cadence = regua_install(document)
    early, other, late = Contact.objects.bulk_create(
        Contact(email=f"c{n}@exemplo.com.br") for n in range(3)
    )
    assert early.pk % 2 != other.pk % 2
    Event.objects.bulk_create(
        [
            event(early.pk, "signup", T0 + timedelta(minutes=1)),
            event(other.pk, "signup", T0 + timedelta(minutes=2)),
            event(late.pk, "signup", T0 + timedelta(days=9)),
        ]
    )
    for day in (9, 12):
        by_partitions(T0 + timedelta(days=day, minutes=1), 2)
    # when, on day 12, the step moves to day 10, and the partitions tick on day 13
    with time_machine.travel(T0 + timedelta(days=12, hours=1), tick=False):
        text = cadence_export(Cadence.objects.get(pk=cadence.pk)).replace("15d", "10d")
        cadence_import(text)
    by_partitions(T0 + timedelta(days=13), 2)
    # then early and other, whose day 10 passed before the partitions' last look at the
    # step, get it now all the same; late on its own day 10, and nobody twice
    day10 = Delivery.objects.filter(step__key="experiencia")
    assert set(day10.values_list("contact_id", flat=True)) == {early.pk, other.pk}
    by_partitions(T0 + timedelta(days=19, hours=1), 2)
    assert sorted(day10.values_list("contact_id", flat=True)) == sorted(
        [early.pk, other.pk, late.pk]
    )


# The command ------------------------------------------------------------------------------


def test_the_tick_command_runs_one_partition_and_dry_run_writes_nothing() -> None:
    world(reguas=REGUAS[:1])
    now = INSTANTS[20].isoformat()
    out = StringIO()
    call_command("tick", "--now", now, "--partition", "1/3", "--dry-run", "--no-send", stdout=out)
    dry = json.loads(out.getvalue())
    assert dry["partition"] == "1/3" and dry["enrolled"] > 0 and dry["dry_run"] is True
    assert not Enrollment.objects.exists() and not CadencePartition.objects.exists()
    out = StringIO()
    call_command("tick", "--now", now, "--partition", "1/3", "--no-send", stdout=out)
    assert json.loads(out.getvalue())["enrolled"] == dry["enrolled"]
    assert {pk % 3 for pk in Enrollment.objects.values_list("contact_id", flat=True)} == {1}
    with pytest.raises(Exception, match="is not K/N"):
        call_command("tick", "--partition", "3/3")


# Turns ------------------------------------------------------------------------------------


def test_claimers_take_different_partitions_and_the_least_recently_ticked_first(
    settings: Any,
) -> None:
    settings.REGUA_TICK_PARTITIONS = 3
    now = T0
    # three workers at the same instant take the three partitions; a fourth finds none
    a, b, c = (tick_partition_claim(now=now, worker=name) for name in "abc")
    assert a is not None and b is not None and c is not None
    assert sorted(p.index for p in (a, b, c)) == [0, 1, 2]
    assert tick_partition_claim(now=now, worker="d") is None
    # b finishes: its partition's turn comes again REGUA_TICK_SECONDS after it began
    tick_partition_release(b, worker="b")
    assert tick_partition_claim(now=now + timedelta(milliseconds=500), worker="d") is None
    assert tick_partition_claim(now=now + timedelta(seconds=1), worker="d") == b
    # when all are free, the one that ran least recently goes first
    for partition, name in ((a, "a"), (c, "c"), (b, "d")):
        tick_partition_release(partition, worker=name)
    order = [tick_partition_claim(now=now + timedelta(seconds=5), worker="e") for _ in range(3)]
    assert order == [a, c, b]


def test_a_dead_workers_partition_is_taken_over_when_its_lease_runs_out(settings: Any) -> None:
    settings.REGUA_TICK_PARTITIONS = 2
    a = tick_partition_claim(now=T0, worker="a")
    b = tick_partition_claim(now=T0, worker="b")
    assert a is not None and b is not None and a != b
    tick_partition_release(b, worker="b")
    # a dies holding its partition: before its lease runs out, only b's comes round
    assert tick_partition_claim(now=T0 + timedelta(seconds=2), worker="c") == b
    assert tick_partition_claim(now=T0 + LEASE - timedelta(seconds=1), worker="d") is None
    # after it, d takes a's partition over
    assert tick_partition_claim(now=T0 + LEASE + timedelta(seconds=1), worker="d") == a
    # and a, waking up, cannot free what is d's now
    tick_partition_release(a, worker="a")
    row = TickPartition.objects.get(count=2, index=a.index)
    assert (row.worker, row.leased_until) == ("d", T0 + LEASE * 2 + timedelta(seconds=1))


def test_workers_ticking_by_turns_cover_every_partition_each_round(settings: Any) -> None:
    # given 3 partitions, 2 workers and the signup régua
    settings.REGUA_TICK_PARTITIONS = 3
    world(reguas=REGUAS[:1])
    now = INSTANTS[12]
    # when they take turns until none is due (a worker takes one partition per call)
    ran = []
    for worker in "ababab":
        summary = tick_partitioned_once(now=now, worker=worker)
        if summary is not None:
            ran.append(summary.partition)
    # then each partition ran once, and together they did the whole tick
    assert sorted(p.index for p in ran if p) == [0, 1, 2]
    got = outcome()
    start_again()
    assert got == whole([now])


# Whole and partitioned ticks of one instant -----------------------------------------------

STEPS = INSTANTS[14:22:2]


def test_a_whole_tick_after_one_partition_ran_ahead_creates_only_what_the_others_owe() -> None:
    # given the world, and its reference outcome at a few instants
    world()
    reference = whole(STEPS)
    start_again()
    # when at each instant one partition of 2 ticks first, then a whole tick (a cron
    # `regua tick` beside the workers), then the other partition
    for n, now in enumerate(STEPS):
        tick(now=now, send=False, partition=Partition(n % 2, 2))
        tick(now=now, send=False)
        tick(now=now, send=False, partition=Partition(1 - n % 2, 2))
        statistics_now()
    # then the outcome is the reference's: nobody the first partition let exit (an
    # after_exit régua) is enrolled again by the whole tick
    assert outcome() == reference
    # and the régua's own watermark is at the last instant, where the whole tick left it
    assert cadastro_watermark() == STEPS[-1]


def test_a_partition_that_read_the_reguas_before_a_whole_tick_ran_them_redoes_nothing() -> None:
    # given the world, and its reference outcome at a few instants
    world()
    reference = whole(STEPS)
    start_again()
    # when at each instant a partition of 2 has read the active réguas, a whole tick
    # runs them all while it ticks the first one, and then the other partition ticks
    for n, now in enumerate(STEPS):
        interleaved: list[bool] = []

        def whole_tick_once(now: datetime = now, interleaved: list[bool] = interleaved) -> None:
            if not interleaved:
                interleaved.append(True)
                tick(now=now, send=False)

        summary = tick_module.TickSummary(now=now, partition=Partition(n % 2, 2))
        tick_module._run(now, summary, send=False, dry_run=False, between=whole_tick_once)
        tick(now=now, send=False, partition=Partition(1 - n % 2, 2))
        statistics_now()
    # then the outcome is the reference's: the partition looked at each régua from the
    # watermark the whole tick had left, not from the one it had read before
    assert outcome() == reference


# PostgreSQL: at once ----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"
)


def database_url() -> str:
    """The test database, as a `regua` subprocess opens it (its data is committed)."""
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host = f"{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
    return f"postgres://{user}{password}@{host}/{db['NAME']}"


def ticks_at_once(tmp_path: Path, now: datetime, partitions: list[str]) -> list[dict[str, Any]]:
    """`regua tick --partition` processes, all started before any is waited for."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "regua.settings",
        "DATABASE_URL": database_url(),
        "REGUA_VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": django_settings.SECRET_KEY,
    }
    command = [sys.executable, "-m", "regua", "tick", "--now", now.isoformat(), "--no-send"]
    processes = [
        subprocess.Popen(
            [*command, "--partition", partition],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for partition in partitions
    ]
    summaries = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode(errors="replace")
        summaries.append(json.loads(out.decode().strip().splitlines()[-1]))
    return summaries


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_partitions_ticking_at_once_in_processes_create_nothing_twice(tmp_path: Path) -> None:
    # given the world, and its reference outcome at two instants
    world()
    t1, t2 = INSTANTS[14], INSTANTS[20]
    reference = whole([t1, t2])
    start_again()
    # when partitions 0/2 and 1/2 tick at once, one of them twice over (as when a lease
    # ran out under a slow worker) and a whole tick alongside (as a cron `regua tick`
    # would), at t1 and then at t2
    first = ticks_at_once(tmp_path, t1, ["0/2", "1/2", "0/2", "0/1"])
    second = ticks_at_once(tmp_path, t2, ["1/2", "0/1", "0/2", "1/2"])
    # then the outcome is the reference's: every passage and delivery once
    assert outcome() == reference
    assert max(Counter(Delivery.objects.values_list("enrollment", "step")).values()) == 1
    # and the ticks' summaries account for each passage and each delivery once
    summaries = (*first, *second)
    assert sum(s["enrolled"] for s in summaries) == Enrollment.objects.count()
    assert sum(s["scheduled"] + s["skipped"] for s in summaries) == Delivery.objects.count()


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_take_different_partitions(settings: Any) -> None:
    settings.REGUA_TICK_PARTITIONS = 4
    tick_partition_claim(now=T0 - timedelta(minutes=1), worker="warm-up")  # the rows
    TickPartition.objects.update(leased_until=None, ticked_at=None)
    barrier = threading.Barrier(6)
    taken: list[Partition | None] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        try:
            barrier.wait()
            partition = tick_partition_claim(now=T0, worker=name)
            with lock:
                taken.append(partition)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(p.index for p in taken if p) == [0, 1, 2, 3]
    assert taken.count(None) == 2
    holders = dict(TickPartition.objects.filter(count=4).values_list("index", "worker"))
    assert len(set(holders.values())) == 4

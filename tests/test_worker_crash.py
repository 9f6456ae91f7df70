"""The delivery worker under SIGKILL and SIGTERM, as a real process against real SMTP.

`regua worker --only deliveries` runs as a subprocess against the test database and an
aiosmtpd server on loopback that keeps every message it accepts. It is killed at
random moments in the middle of its batches and started again; nothing may be lost,
and a message sent twice (the batch in hand when the worker died) must carry the same
Message-ID, so the receiving side can tell it is a repeat.

The worker sees the test's data through support.processes.WorkerDatabase.
"""

import random
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from support.processes import ReguaProcess, WorkerDatabase, worker_env
from support.reguas import due_welcomes
from support.smtp import Recorder, SmtpServer

from regua.cadences.models import Delivery, DeliveryStatus

pytestmark = pytest.mark.django_db(transaction=True)

BATCH = 25  # REGUA_SEND_BATCH for the worker: many batches, so kills land mid-way
KILLS = 10
MOST_PER_RUN = 45  # a killed run sends at most about this many messages ...
DELIVERIES = 500  # ... so ten of them leave work for the final run


@pytest.fixture
def worker_setup(
    tmp_path: Path, smtp: SmtpServer
) -> Iterator[tuple[WorkerDatabase, "Worker", Recorder]]:
    database = WorkerDatabase(tmp_path)
    worker = Worker(database, tmp_path, worker_env(smtp.port, BATCH))
    yield database, worker, smtp.recorder
    worker.stop_if_running()


class Worker(ReguaProcess):
    """`regua worker --only deliveries` as a subprocess."""

    def start(self, *args: str) -> None:
        super().start("worker", "--only", "deliveries", *args)

    def unsent(self, database: WorkerDatabase) -> int:
        """While it runs: how many deliveries are not sent yet."""
        return database.scalar(
            f"SELECT COUNT(*) FROM {Delivery._meta.db_table} WHERE status <> 'sent'"
        )


# The tests -------------------------------------------------------------------------------


def test_a_worker_killed_at_random_moments_loses_nothing_and_repeats_keep_their_message_id(
    worker_setup: tuple[WorkerDatabase, Worker, Recorder],
) -> None:
    database, worker, recorder = worker_setup
    # given five hundred welcome e-mails due now
    deliveries = due_welcomes(DELIVERIES)
    expected = {str(d.pk): d.message_id for d in deliveries}
    seed = random.randrange(1_000_000)
    chance = random.Random(seed)
    # when the worker is killed (SIGKILL) ten times while it sends: after a random number
    # of messages in each run (so anywhere in a batch, or between two) and a random pause
    per_run: list[int] = []
    for _ in range(KILLS):
        database.hand_over()
        before = recorder.count()
        target = before + chance.randint(1, MOST_PER_RUN)
        worker.start()
        worker.wait_for(recorder.reached(target))
        time.sleep(chance.uniform(0, 0.03))
        assert worker.signal(signal.SIGKILL) == -signal.SIGKILL, worker.output()
        per_run.append(recorder.count() - before)
        database.take_back()
        # The killed worker's batch comes back when its 5-minute lease ends; here the
        # lease is made to end now instead of waiting for it.
        Delivery.objects.filter(status=DeliveryStatus.SENDING).update(
            lease_until=timezone.now() - timedelta(seconds=1)
        )
    left_after_kills = Delivery.objects.exclude(status=DeliveryStatus.SENT).count()
    # and then runs until the queue is empty and is stopped with SIGTERM
    database.hand_over()
    worker.start()
    worker.wait_for(lambda: worker.unsent(database) == 0)
    exit_code = worker.signal(signal.SIGTERM)
    database.take_back()
    # then it stopped cleanly, and every delivery is sent: none lost
    assert exit_code == 0, worker.output()
    assert Counter(Delivery.objects.values_list("status", flat=True)) == {
        DeliveryStatus.SENT: len(deliveries)
    }
    assert not Delivery.objects.filter(lease_until__isnull=False).exists()
    # and every message received belongs to a delivery and carries its Message-ID, so
    # a repeat is recognisable as the same message
    by_delivery: dict[str, set[str]] = defaultdict(set)
    for message_id, delivery_id in recorder.received:
        by_delivery[delivery_id].add(message_id)
    assert by_delivery == {pk: {message_id} for pk, message_id in expected.items()}
    received_ids = Counter(message_id for message_id, _ in recorder.received)
    assert set(received_ids) == set(expected.values())
    # (the figures, for docs: run with -s to see them)
    repeats = sum(received_ids.values()) - len(received_ids)
    print(
        f"\nworker crash test: seed {seed}; {len(per_run)} kills, after {per_run} messages; "
        f"{DELIVERIES} deliveries, {left_after_kills} left for the final run; "
        f"{len(recorder.received)} messages received, {len(received_ids)} distinct, "
        f"{repeats} repeats (most copies of one message: {max(received_ids.values())})"
    )


def test_sigterm_during_a_batch_finishes_and_records_it_then_exits_0(
    worker_setup: tuple[WorkerDatabase, Worker, Recorder],
) -> None:
    database, worker, recorder = worker_setup
    # given more welcome e-mails than one batch, and a server that takes its time
    deliveries = due_welcomes(BATCH * 4)
    recorder.delay = 0.03  # a batch lasts about 0.75 s
    database.hand_over()
    # when the worker is told to stop (SIGTERM) while it is sending its first batch
    worker.start()
    worker.wait_for(recorder.reached(1))
    exit_code = worker.signal(signal.SIGTERM, timeout=5)
    database.take_back()
    # then it exits 0 after finishing and recording the batch in hand, and nothing else
    assert exit_code == 0, worker.output()
    assert not Delivery.objects.filter(status=DeliveryStatus.SENDING).exists()
    statuses = Counter(Delivery.objects.values_list("status", flat=True))
    assert statuses == {
        DeliveryStatus.SENT: BATCH,
        DeliveryStatus.SCHEDULED: len(deliveries) - BATCH,
    }
    sent = Delivery.objects.filter(status=DeliveryStatus.SENT)
    assert sorted(message_id for message_id, _ in recorder.received) == sorted(
        delivery.message_id for delivery in sent
    )
    assert not Delivery.objects.filter(status=DeliveryStatus.SCHEDULED, attempts__gt=0).exists()

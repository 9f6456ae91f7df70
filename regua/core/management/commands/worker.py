"""regua worker: the régua engine's ticks and sends, and the background jobs (imports).

The main process runs the delivery loop: a tick (enroll and schedule, set-based) every
REGUA_TICK_SECONDS and, in between, batches of due deliveries claimed with a lease. A
child process runs django-tasks' database worker for the other jobs. SIGTERM (or
Ctrl-C) stops both cleanly: the batch in hand is finished and recorded first. Any number
of workers may run against one PostgreSQL database.
"""

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import OperationalError, close_old_connections
from django.utils import timezone

if TYPE_CHECKING:
    from regua.ops.heartbeat import Heartbeat

log = logging.getLogger("regua.worker")


class Command(BaseCommand):
    help = "Run Régua's background worker: ticks, sends and background jobs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only", choices=["deliveries", "jobs"], help="Run just one half of the worker."
        )
        parser.add_argument("--batch", action="store_true", help="Do what is due, then exit.")
        parser.add_argument("--interval", type=float, default=0.5, help="Idle sleep (seconds).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["only"] == "jobs":
            self._jobs_here(options)
            return
        child = None
        if options["only"] is None and not options["batch"]:
            child = subprocess.Popen(
                [sys.executable, "-m", "regua", "worker", "--only", "jobs"],
            )
        elif options["only"] is None:
            self._jobs_here(options)
        try:
            self._deliveries(options)
        finally:
            if child is not None:
                child.send_signal(signal.SIGTERM)
                child.wait(timeout=60)

    def _jobs_here(self, options: dict[str, Any]) -> None:
        from django.core.management import call_command

        call_command(
            "db_worker",
            batch=options["batch"],
            interval=max(options["interval"], 1.0),
            no_startup_delay=True,
            verbosity=options["verbosity"],
        )

    def _deliveries(self, options: dict[str, Any]) -> None:
        from regua.cadences.sending import SmtpLine, send_due
        from regua.ops.heartbeat import Heartbeat

        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        heartbeat = Heartbeat.start()
        repeats = _RepeatFilter()
        pace = SendPace(settings.REGUA_SEND_RATE, settings.REGUA_SEND_BATCH)
        last_tick = 0.0
        # The SMTP connections carry a batch's last messages while the next turn ticks.
        line = SmtpLine()
        try:
            while not stopping:
                close_old_connections()
                ticked, sent = False, 0
                if time.monotonic() - last_tick >= settings.REGUA_TICK_SECONDS:
                    started = time.monotonic()
                    ticked = bool(
                        self._guarded(
                            "tick", lambda: self._tick(heartbeat.name), heartbeat, repeats
                        )
                    )
                    if ticked:  # another partition's turn may have come too: look again
                        heartbeat.ticked(time.monotonic() - started)
                    else:  # none has (or the tick failed: it waits its turn, sends go on)
                        last_tick = time.monotonic()
                        self._guarded("due work", self._due_work, heartbeat, repeats)
                if pace.ready():
                    started = time.monotonic()
                    sent = self._guarded(
                        "send",
                        lambda: send_due(
                            max_batches=1,
                            batch_size=pace.batch,
                            should_stop=lambda: stopping,
                            line=line,
                        ),
                        heartbeat,
                        repeats,
                    )
                    pace.spent(sent, started)
                heartbeat.sent(sent)
                heartbeat.beat()
                busy = sent or ticked
                if options["batch"] and not busy and pace.ready():
                    return
                if not busy:
                    rest = pace.wait() if not pace.ready() else options["interval"]
                    deadline = time.monotonic() + rest
                    while not stopping and (left := deadline - time.monotonic()) > 0:
                        time.sleep(min(0.05, left))
        finally:
            try:
                line.close()
            finally:
                heartbeat.stop()

    @staticmethod
    def _guarded(
        phase: str, work: Callable[[], Any], heartbeat: "Heartbeat", repeats: "_RepeatFilter"
    ) -> Any:
        """Run one phase of a turn; an error is logged (once a minute when it repeats) and
        counted on the heartbeat, and the loop goes on: a locked or full SQLite file, a
        database restart, or a bug met by one message must not stop the other phases."""
        try:
            return work()
        except OperationalError as error:
            if repeats.new(phase, error):
                log.warning("worker (%s): %s", phase, error)
            heartbeat.failed(error)
        except Exception as error:
            if repeats.new(phase, error):
                log.exception("worker (%s): %s", phase, error)
            heartbeat.failed(error)
        return 0

    def _tick(self, worker: str) -> bool:
        """Enroll and schedule one partition of the tick whose turn has come (the sends
        follow in the loop); False when none has (docs/cadences.md §Partitioned ticks)."""
        from regua.cadences.tick import tick_partitioned_once

        summary = tick_partitioned_once(now=timezone.now(), worker=worker)
        if summary is None:
            return False
        if summary.total.enrolled or summary.total.scheduled:
            log.info("tick: %s", summary.as_json())
        return True

    def _due_work(self) -> None:
        """The other apps' work that falls due with time, each a cheap query when none has."""
        from regua.agenda.services import agenda_tick
        from regua.analytics.services import scores_refresh_daily
        from regua.desk.services import desk_tick
        from regua.events.retention import events_archive_due
        from regua.imports.services import import_jobs_resume_stalled
        from regua.loyalty.services import loyalty_refresh_due
        from regua.privacy.retention import retention_due

        scores_refresh_daily(now=timezone.now())
        agenda_tick(now=timezone.now())
        loyalty_refresh_due(now=timezone.now())
        events_archive_due(now=timezone.now())
        import_jobs_resume_stalled(now=timezone.now())
        retention_due(now=timezone.now())
        desk = desk_tick(now=timezone.now())
        if desk.warned or desk.breached or desk.sent or desk.failed:
            log.info("desk: %s", desk)


class SendPace:
    """At most `rate` messages a second from this worker (REGUA_SEND_RATE; 0 or less: as
    fast as it can). A provider caps how fast an account may send (Amazon SES: its
    maximum send rate). Batches shrink to a second's worth, so even a low cap is never
    a burst of a whole batch; after a batch of n, the next may start n / rate seconds
    after this one was due to. A batch that started late (a tick ran first) does not
    push the rest back: while the worker keeps sending, the next is due on time, so the
    worker sends at the cap and never more than two batches' worth in a batch's time.
    After a pause, the count starts again from the next batch."""

    def __init__(self, rate: float, batch: int) -> None:
        self.rate = rate
        self.batch = min(batch, max(1, int(rate))) if rate > 0 else batch
        self.ready_at = 0.0

    def ready(self) -> bool:
        return self.rate <= 0 or time.monotonic() >= self.ready_at

    def wait(self) -> float:
        return max(0.0, self.ready_at - time.monotonic())

    def spent(self, count: int, started: float) -> None:
        """`count` messages were sent by a batch begun at `started` (time.monotonic())."""
        if self.rate > 0 and count:
            late = started - self.ready_at
            due = self.ready_at if late <= self.batch / self.rate else started
            self.ready_at = due + count / self.rate


class _RepeatFilter:
    """The same error in the same phase is logged once a minute, not on every turn: a
    full disk or a database down would otherwise fill the log every second."""

    EVERY = 60.0

    def __init__(self) -> None:
        self.last: tuple[str, str] = ("", "")
        self.logged_at = 0.0

    def new(self, phase: str, error: BaseException) -> bool:
        key = (phase, str(error))
        if key == self.last and time.monotonic() - self.logged_at < self.EVERY:
            return False
        self.last, self.logged_at = key, time.monotonic()
        return True

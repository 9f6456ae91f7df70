"""Sending: claim due deliveries in batches, pass the guards, render, send, record.

1. Claim: one UPDATE marks a batch of due rows `sending` with a lease (on PostgreSQL
   the rows are picked with FOR UPDATE SKIP LOCKED, so workers never wait on each
   other). A crashed worker's rows come back when their lease ends.
2. Guards (guards.py) for the whole batch: suppress, defer or send.
3. Render each message (rendering.py) with the batch's contexts (context.py).
4. Send through the channel's backend, one connection per batch; e-mail over SMTP
   through an SmtpLine, whose connections wait on the server on threads of their own
   and carry the end of one batch while the next is claimed and rendered.
5. Record every few messages, so a crash repeats at most that many, each with the
   same Message-ID. A transient failure is retried with backoff; a permanent one, or
   too many attempts, is recorded as failed with its reason.
"""

import logging
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from regua.agenda.models import TaskKind
from regua.lib.bulk import ids_taken_from

from . import rendering, tokens
from .channels import Outgoing, Result, backend_for
from .context import build as build_contexts
from .guards import BatchGuards, address_of, sort_by_priority
from .models import (
    MESSAGE_CHANNELS,
    Cadence,
    CadenceStatus,
    Channel,
    Delivery,
    DeliveryStatus,
    Step,
    max_lateness,
)

if TYPE_CHECKING:
    from .tick import TickSummary

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 6
BACKOFF = [timedelta(minutes=m) for m in (1, 5, 15, 60, 240)]
RECORD_EVERY = 50


def send_due(
    *,
    now: datetime | None = None,
    summary: "TickSummary | None" = None,
    dry_run: bool = False,
    batch_size: int | None = None,
    max_batches: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    cadence: Cadence | None = None,
    line: "SmtpLine | None" = None,
) -> int:
    """Send everything due as of `now` (the current time when None, re-read per batch).

    Over SMTP the batches share `line`'s connections: while they carry one batch's last
    messages, the next batch is claimed and rendered. Without a `line` the run opens its
    own and waits for every message before it returns; the worker passes one it keeps
    between turns, and what is still on its way is recorded on the next call (or when
    there is nothing left to send, which also closes the connections)."""
    from .tick import TickSummary

    summary = summary or TickSummary(now=now or timezone.now(), dry_run=dry_run)
    size = batch_size or settings.REGUA_SEND_BATCH
    own = line is None
    line = line or SmtpLine()
    handled = batches = 0
    try:
        while max_batches is None or batches < max_batches:
            # The next batch is prepared while a little of the last is still on its way:
            # enough to keep the connections busy, never a backlog claimed ahead of them.
            line.collect(keep=max(size // 4, 1))
            if should_stop():
                break
            moment = now or timezone.now()
            ids = delivery_claim_batch(now=moment, size=size, cadence=cadence)
            if not ids:
                break
            handled += len(ids)
            batches += 1
            deliveries_send(ids, now=moment, summary=summary, dry_run=dry_run, line=line)
    finally:
        if own or not handled:
            line.close()
    return handled


def delivery_claim_batch(*, now: datetime, size: int, cadence: Cadence | None = None) -> list[int]:
    """Mark up to `size` due deliveries as being sent by us; their ids, oldest due first."""
    active = Cadence.objects.filter(status=CadenceStatus.ACTIVE).values("pk")
    if cadence is not None:
        active = active.filter(pk=cadence.pk)
    due = Delivery.objects.filter(
        status=DeliveryStatus.SCHEDULED, due_at__lte=now, cadence_id__in=active
    ).order_by("due_at", "id")
    # Leases run on the wall clock, not on `now`: a tick run --now in the past must not
    # take a batch another worker holds right now.
    lost = Delivery.objects.filter(
        status=DeliveryStatus.SENDING, lease_until__lt=timezone.now(), cadence_id__in=active
    ).order_by("lease_until", "id")
    ids: list[int] = []
    for candidates in (lost, due):
        if len(ids) >= size:
            break
        ids += _claim(candidates.values("id")[: size - len(ids)])
    return ids


def _claim(candidates: Any) -> list[int]:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            candidates = candidates.select_for_update(skip_locked=True)
        where, params = ids_taken_from(candidates)
        table = connection.ops.quote_name(Delivery._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET status = %s, lease_until = %s, attempts = attempts + 1, "
                f"updated_at = %s WHERE {where} RETURNING id",
                [DeliveryStatus.SENDING, timezone.now() + LEASE, timezone.now(), *params],
            )
            return sorted(row[0] for row in cursor.fetchall())


def deliveries_send(
    ids: list[int],
    *,
    now: datetime,
    summary: "TickSummary",
    dry_run: bool = False,
    line: "SmtpLine | None" = None,
) -> None:
    deliveries = list(
        Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.SENDING)
        .select_related("contact")
        .order_by()
    )
    # A batch holds a handful of steps and réguas: read each once, not once per row.
    steps = Step.objects.in_bulk({d.step_id for d in deliveries})
    cadences = Cadence.objects.in_bulk({d.cadence_id for d in deliveries})
    for delivery in deliveries:
        delivery.step = steps[delivery.step_id]
        delivery.cadence = cadences[delivery.cadence_id]
    recorder = _Recorder(now, summary)
    if line is not None:  # the guards read what the last batch sent, and what it is sending
        line.collect()
        line.flush()
    guards = BatchGuards.load(deliveries, now)
    for delivery in line.in_flight() if line is not None else []:
        guards.record_sent(delivery)
    to_send: list[Delivery] = []
    for delivery in sort_by_priority(deliveries):
        if delivery.due_at < now - max_lateness(delivery.channel):
            recorder.finish(delivery, DeliveryStatus.EXPIRED, "too late to send")
            continue
        verdict = guards.check(delivery)
        if verdict.action == "suppress":
            recorder.finish(delivery, DeliveryStatus.SUPPRESSED, verdict.reason)
        elif verdict.action == "defer":
            recorder.defer(delivery, verdict.until or now, verdict.reason)
        else:
            guards.record_sent(delivery)
            to_send.append(delivery)
    recorder.flush()
    if dry_run:  # the preview counts what would go out; it need not render it
        for delivery in to_send:
            recorder.result(delivery, Result.sent())
        recorder.flush()
        return
    contexts = build_contexts(to_send, now)
    by_channel: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in to_send:
        by_channel[delivery.channel].append(delivery)
    for channel, group in by_channel.items():
        smtp = _is_smtp(channel)
        own = line is None or not smtp
        carrier = (line or SmtpLine()) if smtp else _Direct(channel, dry_run=dry_run)
        try:
            for delivery in group:
                outgoing = _outgoing(delivery, contexts[delivery.pk], now)
                if isinstance(outgoing, Result):
                    recorder.result(delivery, outgoing)
                else:
                    carrier.send(recorder, delivery, outgoing)
                carrier.collect()
                if recorder.pending >= RECORD_EVERY:
                    # What the backend holds is written before it is recorded as sent.
                    carrier.checkpoint()
                    recorder.flush()
        finally:
            if own:
                carrier.close()
            recorder.flush()


def _is_smtp(channel: str) -> bool:
    from .channels.email import uses_smtp

    return channel == "email" and uses_smtp()


class _Direct:
    """A channel's backend used in this thread: each outcome is known when send returns."""

    def __init__(self, channel: str, *, dry_run: bool) -> None:
        self.backend = backend_for(channel, dry_run=dry_run)
        self.backend.open()

    def send(self, recorder: "_Recorder", delivery: Delivery, outgoing: Outgoing) -> None:
        recorder.result(delivery, self.backend.send(outgoing))

    def collect(self) -> None:
        pass

    def checkpoint(self) -> None:
        getattr(self.backend, "checkpoint", lambda: None)()

    def close(self) -> None:
        self.backend.close()


class SmtpLine:
    """E-mail over REGUA_SMTP_CONNECTIONS connections, each on a thread of its own that
    waits on the server while the caller's thread claims, renders and records.

    Messages are handed over in order, and their outcomes recorded in that order by the
    recorder of their batch, only once the server has answered. The line may outlive a
    batch: the next one is claimed and rendered while the connections carry the tail of
    the last. `close()` waits for every message on its way, records it and closes the
    connections.
    """

    def __init__(self) -> None:
        self.pool: ThreadPoolExecutor | None = None
        self.backends: list[Any] = []
        self.local = threading.local()
        self.lock = threading.Lock()
        self.pending: deque[tuple[_Recorder, Delivery, Future[Result]]] = deque()
        self.recorders: set[_Recorder] = set()

    def send(self, recorder: "_Recorder", delivery: Delivery, outgoing: Outgoing) -> None:
        if self.pool is None:
            self.pool = ThreadPoolExecutor(
                settings.REGUA_SMTP_CONNECTIONS, thread_name_prefix="smtp"
            )
        self.recorders.add(recorder)
        self.pending.append((recorder, delivery, self.pool.submit(self._send, outgoing)))

    def _send(self, outgoing: Outgoing) -> Result:
        if not hasattr(self.local, "backend"):
            self.local.backend = backend_for("email")
            self.local.backend.open()
            with self.lock:
                self.backends.append(self.local.backend)
        return cast(Result, self.local.backend.send(outgoing))

    def in_flight(self) -> list[Delivery]:
        return [delivery for _recorder, delivery, _future in self.pending]

    def collect(self, *, keep: int | None = None) -> None:
        """Record the outcomes that have come back; with `keep`, wait until no more than
        that many messages are on their way. A batch's outcomes are written every
        RECORD_EVERY and when its last one is in."""
        while self.pending and (
            self.pending[0][2].done() or (keep is not None and len(self.pending) > keep)
        ):
            recorder, delivery, future = self.pending.popleft()
            recorder.result(delivery, future.result())
            if recorder.pending >= RECORD_EVERY or (
                self.pending and self.pending[0][0] is not recorder
            ):
                recorder.flush()

    def checkpoint(self) -> None:
        """Nothing to write: the server has what it accepted."""

    def flush(self) -> None:
        """Write every outcome recorded so far (before the guards of a batch read them)."""
        for recorder in self.recorders:
            recorder.flush()
        self.recorders = {recorder for recorder, _delivery, _future in self.pending}

    def close(self) -> None:
        try:
            if self.pool is not None:
                self.pool.shutdown(wait=True)
            self.collect(keep=0)
        finally:
            self.pool = None
            for backend in self.backends:
                backend.close()
            self.backends = []
            self.local = threading.local()
            self.pending.clear()
            self.flush()


def _outgoing(delivery: Delivery, context: dict[str, Any], now: datetime) -> Outgoing | Result:
    step, contact = delivery.step, delivery.contact
    if delivery.channel == "task" and step.channel in MESSAGE_CHANNELS:
        return _owner_task(delivery, context)
    site = settings.REGUA_SITE_URL

    def track(url: str) -> str:
        return tokens.click_url(delivery.pk, url, site)

    try:
        if not step.message:  # a webhook without text: the payload says it all
            rendered = rendering.Rendered("", "", "")
        else:
            rendered = rendering.render_message(
                step.channel,
                step.message,
                contact.language,
                context,
                variant=delivery.variant,
                track=track if step.channel == "email" else None,
            )
    except Exception as error:
        log.warning("delivery %s: template failed: %s", delivery.pk, type(error).__name__)
        return Result.failed(f"template: {error}")
    outgoing = Outgoing(
        delivery_id=delivery.pk,
        channel=step.channel,
        to=address_of(delivery),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=delivery.message_id,
    )
    if step.channel == "email":
        unsubscribe = context["links"]["unsubscribe"]
        pixel = tokens.url("open", delivery.pk, site)
        outgoing.html = _with_pixel(rendered.html, pixel)
        outgoing.headers = {
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Regua-Delivery": str(delivery.pk),
        }
    elif step.channel == "task":
        outgoing.payload = {
            **(step.task or {}),
            "contact_id": contact.pk,
            "owner_id": contact.owner_id,
            "today": context["today"].isoformat(),
        }
    elif step.channel == "webhook":
        outgoing.to = str((step.webhook or {}).get("url", ""))
        outgoing.payload = {
            "delivery": delivery.pk,
            "regua": delivery.cadence.key,
            "step": step.key,
            "sent_at": now.isoformat(),
            "contact": {
                "id": contact.pk,
                "external_id": contact.external_id,
                "email": contact.email,
                "phone": contact.phone,
                "name": contact.name,
            },
            "text": rendered.text,
        }
    return outgoing


def _owner_task(delivery: Delivery, context: dict[str, Any]) -> Outgoing | Result:
    """A message step for a contact of a dedicated segment: a task for the owner, whose
    notes are the message as the contact would have read it (links written out, no
    tracking), due today, so the account manager can send it personally."""
    step, contact = delivery.step, delivery.contact
    try:
        rendered = rendering.render_message(
            # The task channel renders the subject and the text without the e-mail layout.
            "task" if step.channel == "email" else step.channel,
            step.message,
            contact.language,
            context,
            variant=delivery.variant,
        )
    except Exception as error:
        log.warning("delivery %s: template failed: %s", delivery.pk, type(error).__name__)
        return Result.failed(f"template: {error}")
    name = step.name or step.key
    title = rendered.subject or f"{name} ({Channel(step.channel).label})"
    return Outgoing(
        delivery_id=delivery.pk,
        channel="task",
        to=address_of(delivery),
        subject=title,
        text=rendered.text,
        message_id=delivery.message_id,
        payload={
            "kind": TaskKind.EMAIL if step.channel == "email" else TaskKind.OTHER,
            "due_days": 0,
            "contact_id": contact.pk,
            "owner_id": contact.owner_id,
            "today": context["today"].isoformat(),
        },
    )


def _with_pixel(html: str, pixel_url: str) -> str:
    tag = f'<img src="{pixel_url}" width="1" height="1" alt="" style="display:block">'
    if "</body>" in html:
        return html.replace("</body>", tag + "</body>", 1)
    return html + tag


class _Recorder:
    """Collects outcomes and writes them in a few UPDATEs."""

    def __init__(self, now: datetime, summary: "TickSummary") -> None:
        self.now = now
        self.summary = summary
        self.sent: list[Delivery] = []
        self.finished: dict[tuple[str, str], list[Delivery]] = defaultdict(list)
        self.deferred: list[tuple[Delivery, datetime, str]] = []

    @property
    def pending(self) -> int:
        return len(self.sent) + sum(map(len, self.finished.values())) + len(self.deferred)

    def result(self, delivery: Delivery, result: Result) -> None:
        if result.outcome == "sent":
            self.sent.append(delivery)
        elif result.outcome == "failed" or delivery.attempts >= MAX_ATTEMPTS:
            self.finish(delivery, DeliveryStatus.FAILED, result.reason)
        else:
            wait = BACKOFF[min(delivery.attempts, len(BACKOFF)) - 1]
            self.deferred.append((delivery, self.now + wait, result.reason))

    def finish(self, delivery: Delivery, status: str, reason: str) -> None:
        self.finished[(status, reason[:300])].append(delivery)

    def defer(self, delivery: Delivery, until: datetime, reason: str) -> None:
        self.deferred.append((delivery, until, reason))
        # A deferral by a guard does not spend an attempt.
        delivery.attempts -= 1

    def flush(self) -> None:
        changed = timezone.now()
        if self.sent:
            Delivery.objects.filter(pk__in=[d.pk for d in self.sent]).update(
                status=DeliveryStatus.SENT,
                sent_at=self.now,
                lease_until=None,
                reason="",
                updated_at=changed,
            )
            for delivery in self.sent:
                self.summary.tally(delivery.cadence.key).sent += 1
        for (status, reason), group in self.finished.items():
            Delivery.objects.filter(pk__in=[d.pk for d in group]).update(
                status=status, lease_until=None, reason=reason, updated_at=changed
            )
            for delivery in group:
                tally = self.summary.tally(delivery.cadence.key)
                name = {"suppressed": "suppressed", "failed": "failed", "expired": "expired"}
                setattr(tally, name[status], getattr(tally, name[status]) + 1)
        by_until: dict[tuple[datetime, str, int], list[int]] = defaultdict(list)
        for delivery, until, reason in self.deferred:
            by_until[(until, reason[:300], delivery.attempts)].append(delivery.pk)
            self.summary.tally(delivery.cadence.key).deferred += 1
        for (until, reason, attempts), pks in by_until.items():
            Delivery.objects.filter(pk__in=pks).update(
                status=DeliveryStatus.SCHEDULED,
                due_at=until,
                lease_until=None,
                reason=reason,
                attempts=attempts,
                updated_at=changed,
            )
        self.sent, self.finished, self.deferred = [], defaultdict(list), []

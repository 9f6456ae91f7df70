"""What the team and the customers do to tickets. Every change goes through here: the
agent's pages, the API, the public form, inbound e-mail and the worker.

SLA bookkeeping happens on each change: the first public reply stops the first-response
clock (and records its business time), waiting on the customer pauses the clocks,
anything from the customer restarts them, resolving stops them. The worker's
`desk_tick` warns before a breach (an agenda task and an e-mail to the assignee), records
breaches with one UPDATE each, sends queued replies and closes solved tickets.
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.uploadedfile import UploadedFile
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from regua.commerce.models import Order
from regua.customers.models import Contact
from regua.events.ingest import event_record_once
from regua.lib.parsing import normalize_email
from regua.users.models import User

from . import sla
from .models import (
    ACTIVE_STATUSES,
    SOLVED_STATUSES,
    Attachment,
    Category,
    Message,
    MessageKind,
    SendStatus,
    Ticket,
    TicketChannel,
    TicketKind,
    TicketPriority,
    TicketStatus,
)

log = logging.getLogger(__name__)

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 5
# Statuses in which the SLA clocks stand still: waiting on the customer pauses them,
# resolving stops them. Either way the time they stood still does not count when the
# ticket opens again (the customer's "obrigado" to a resolution is no breach).
STOPPED_STATUSES = (TicketStatus.WAITING, TicketStatus.RESOLVED, TicketStatus.CLOSED)
# A second identical submit within this time (a double click, a reloaded page) is the
# first one again, not a second ticket or reply.
RESUBMIT_WINDOW = timedelta(minutes=10)
# Why a reply stays out of the outbox: the customer has no e-mail address.
NO_ADDRESS = "no e-mail address"


class DeskError(Exception):
    """Bad input for a ticket, with the field it concerns."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class File:
    """An attachment as it arrives, from a form upload or an inbound e-mail."""

    name: str
    content: bytes
    content_type: str = ""

    @classmethod
    def from_upload(cls, upload: UploadedFile) -> "File":
        return cls(upload.name or "file", upload.read(), upload.content_type or "")


# -- Opening ----------------------------------------------------------------------------


def contact_for_email(*, email: str, name: str = "", language: str = "") -> Contact:
    """The customer with this e-mail address, or a new one with the name (and the
    language) they wrote in. DeskError("email") for what is no address."""
    try:
        email = normalize_email(email)
    except ValueError as error:
        raise DeskError("email", str(error)) from None
    contact = Contact.objects.filter(email__iexact=email).first()
    if contact is not None:
        return contact
    first, _space, last = " ".join(name.split()).partition(" ")
    fields = {"language": language} if language in dict(settings.LANGUAGES) else {}
    try:
        with transaction.atomic():
            return Contact.objects.create(
                email=email, first_name=first[:100], last_name=last[:150], **fields
            )
    except IntegrityError:
        # The same new address twice at once (a double submit, two e-mails): one wins.
        found = Contact.objects.filter(email__iexact=email).first()
        if found is None:
            raise
        return found


def ticket_open(
    *,
    contact: Contact,
    subject: str,
    body: str,
    kind: str = TicketKind.QUESTION,
    channel: str = TicketChannel.EMAIL,
    priority: int = TicketPriority.NORMAL,
    category: Category | None = None,
    order_ref: str = "",
    assignee: User | None = None,
    by: User | None = None,
    files: Sequence[File] = (),
    message_id: str = "",
    once: bool = False,
    now: datetime | None = None,
) -> Ticket:
    """A new ticket with the customer's first message, its SLA clocks and its place on
    the timeline (a complaint also counts in the complaint rate). With `once`, the same
    ticket sent again within RESUBMIT_WINDOW (a double click, a reloaded form) is the
    ticket it opened the first time."""
    now = now or timezone.now()
    subject = " ".join(subject.split())[:200]
    body = body.strip()
    if not subject:
        raise DeskError("subject", _("Say what the ticket is about."))
    if not body:
        raise DeskError("body", _("Write the customer's message."))
    if kind not in TicketKind.values:
        raise DeskError("kind", _("Unknown kind: %(value)s.") % {"value": kind})
    if channel not in TicketChannel.values:
        raise DeskError("channel", _("Unknown channel: %(value)s.") % {"value": channel})
    if priority not in TicketPriority.values:
        raise DeskError("priority", _("Unknown priority: %(value)s.") % {"value": priority})
    _check_files(files)
    order_ref = order_ref.strip()[:100]
    order = (
        Order.objects.filter(external_id=order_ref, contact=contact).first() if order_ref else None
    )
    with transaction.atomic():
        if once:
            earlier = _opened_already(contact, subject, body, channel, by, now)
            if earlier is not None:
                return earlier
        ticket = Ticket(
            subject=subject,
            kind=kind,
            channel=channel,
            priority=priority,
            contact=contact,
            order=order,
            order_ref=order_ref,
            category=category,
            assignee=assignee,
            created_by=by,
            last_message_at=now,
        )
        _start_clocks(ticket, now)
        ticket.save()
        # auto_now_add stamps the wall clock; the ticket opened at `now` (an e-mail's
        # arrival, a test's frozen time), which the SLA clocks count from.
        ticket.created_at = now
        Ticket.objects.filter(pk=ticket.pk).update(created_at=now)
        _message(ticket, MessageKind.CUSTOMER, body, now, author=by, message_id=message_id)
        _attach(ticket.messages.latest("id"), files)
        _timeline(ticket, "ticket_opened", now)
        if kind == TicketKind.COMPLAINT:
            _timeline(ticket, "complaint", now)
    return ticket


def _opened_already(
    contact: Contact, subject: str, body: str, channel: str, by: User | None, now: datetime
) -> Ticket | None:
    # The contact's row is the lock: a second submit waits for the first to commit.
    list(Contact.objects.select_for_update().filter(pk=contact.pk).values_list("pk"))
    first = (
        Message.objects.filter(
            ticket__contact=contact,
            ticket__subject=subject,
            ticket__channel=channel,
            ticket__created_by=by,
            kind=MessageKind.CUSTOMER,
            body=body,
            created_at__gte=now - RESUBMIT_WINDOW,
        )
        .select_related("ticket")
        .order_by("-id")
        .first()
    )
    return first.ticket if first is not None else None


def _sent_already(ticket: Ticket, kind: str, body: str, by: User, now: datetime) -> Message | None:
    """The same reply or note by the same person moments ago (a double click, a reloaded
    page): the caller holds the ticket's lock, so a second submit sees the first."""
    last = ticket.messages.order_by("-created_at", "-id").first()
    if (
        last is not None
        and (last.kind, last.author_id, last.body) == (kind, by.pk, body)
        and abs(now - last.created_at) < RESUBMIT_WINDOW
    ):
        return last
    return None


def _start_clocks(ticket: Ticket, now: datetime) -> None:
    policy = sla.policy_for(ticket.kind, ticket.priority, ticket.contact)
    ticket.policy = policy
    if policy is None:
        return
    clocks = sla.clocks(policy, sla.calendar_of(policy.calendar, now), now, timedelta(0))
    ticket.first_response_due = clocks.first_response_due
    ticket.resolution_due = clocks.resolution_due
    ticket.due_at = clocks.first_response_due
    ticket.warn_at = clocks.warn_at


def _refresh_clocks(ticket: Ticket, now: datetime) -> None:
    """Due times again from the opening and the paused time; the current deadline, none
    while the clocks stand still."""
    policy = ticket.policy
    if policy is None:
        ticket.due_at = ticket.warn_at = None
        return
    calendar = sla.calendar_of(policy.calendar, now)
    clocks = sla.clocks(policy, calendar, ticket.created_at, ticket.paused)
    if ticket.first_responded_at is None or ticket.first_response_due is None:
        # Once answered, the first response met or missed its target for good: a later
        # pause must not move that target past the answer.
        ticket.first_response_due = clocks.first_response_due
    ticket.resolution_due = clocks.resolution_due
    if ticket.paused_at is not None:
        ticket.due_at = ticket.warn_at = None
    elif ticket.first_responded_at is None:
        ticket.due_at, ticket.warn_at = clocks.first_response_due, clocks.warn_at
    else:
        ticket.due_at = clocks.resolution_due
        ticket.warn_at = sla.resolution_warn_at(policy, calendar, ticket.created_at, ticket.paused)
    if ticket.due_at is not None and ticket.due_at <= now:
        ticket.warn_at = None  # past already: the breach is what is recorded


def _count_pause(ticket: Ticket, now: datetime) -> bool:
    """Adds the business time the clocks have stood still until `now` to `paused`; a
    pause that goes on counts on from `now`. Whether the deadlines moved."""
    since = ticket.paused_at
    if since is None and ticket.status in SOLVED_STATUSES:
        since = ticket.resolved_at  # solved before solving stopped the clocks too
    if since is None:
        return False
    before = ticket.paused
    if ticket.policy is not None:
        calendar = sla.calendar_of(ticket.policy.calendar, now)
        ticket.paused += sla.business_between(calendar, since, now)
    ticket.paused_at = now
    return ticket.paused != before


def _check_files(files: Sequence[File]) -> None:
    if len(files) > MAX_ATTACHMENTS:
        raise DeskError(
            "files", _("Up to %(count)d attachments per message.") % {"count": MAX_ATTACHMENTS}
        )
    for file in files:
        if len(file.content) > MAX_ATTACHMENT_BYTES:
            raise DeskError(
                "files",
                _("%(name)s is larger than %(size)d MB.")
                % {"name": file.name, "size": MAX_ATTACHMENT_BYTES // (1024 * 1024)},
            )


def _attach(message: Message, files: Sequence[File]) -> None:
    from django.core.files.base import ContentFile

    for file in files:
        # An e-mail's attachment is named by its sender: "../../x" or "a/b.pdf" is a
        # file name here, never a path.
        name = file.name.replace("\\", "/").rsplit("/", 1)[-1].strip() or "file"
        attachment = Attachment(
            message=message,
            name=name[-150:],
            size=len(file.content),
            content_type=file.content_type[:100],
        )
        try:
            stored = get_valid_filename(name[-80:])
        except SuspiciousFileOperation:  # nothing usable left: "..", "???"
            stored = "file"
        attachment.file.save(stored, ContentFile(file.content), save=False)
        attachment.save()


def _message(
    ticket: Ticket,
    kind: str,
    body: str,
    now: datetime,
    *,
    author: User | None = None,
    message_id: str = "",
    asks_rating: bool = False,
) -> Message:
    send = ""
    if kind == MessageKind.REPLY:
        send = SendStatus.PENDING if ticket.contact.email else ""
    message = Message.objects.create(
        ticket=ticket,
        kind=kind,
        author=author,
        body=body,
        created_at=now,
        message_id=message_id[:250],
        send_status=send,
        next_attempt_at=now if send else None,
        error="" if send or kind != MessageKind.REPLY else NO_ADDRESS,
        asks_rating=asks_rating,
    )
    return message


def _timeline(ticket: Ticket, name: str, at: datetime, **extra: Any) -> None:
    """The ticket on the contact's timeline, once per ticket and kind of moment."""
    properties = {
        "ticket": ticket.pk,
        "subject": ticket.subject,
        "kind": ticket.kind,
        "channel": ticket.channel,
        **extra,
    }
    # Recorded already (the same moment reported twice): nothing added.
    event_record_once(
        contact_id=ticket.contact_id,
        name=name,
        at=at,
        key=f"desk:{ticket.pk}:{name}",
        properties=properties,
        source="desk",
    )


# -- The conversation -------------------------------------------------------------------


def ticket_reply(
    ticket: Ticket,
    *,
    by: User,
    body: str,
    status: str = TicketStatus.OPEN,
    files: Sequence[File] = (),
    now: datetime | None = None,
) -> Message:
    """A public reply, e-mailed to the customer by the worker. The first one stops the
    first-response clock. `status` is what the ticket becomes: open (the default),
    waiting on the customer (the clock pauses) or resolved (the e-mail asks for a rating).
    """
    now = now or timezone.now()
    body = body.strip()
    if not body:
        raise DeskError("body", _("Write the reply."))
    if status not in (TicketStatus.OPEN, TicketStatus.WAITING, TicketStatus.RESOLVED):
        raise DeskError("status", _("A reply leaves the ticket open, waiting or resolved."))
    _check_files(files)
    with transaction.atomic():
        ticket = _locked(ticket)
        again = _sent_already(ticket, MessageKind.REPLY, body, by, now)
        if again is not None:
            return again
        message = _message(
            ticket,
            MessageKind.REPLY,
            body,
            now,
            author=by,
            asks_rating=status == TicketStatus.RESOLVED,
        )
        _attach(message, files)
        if ticket.first_responded_at is None:
            _first_response(ticket, now)
        ticket.last_message_at = now
        _set_status(ticket, status, now, rating_asked=True)
        ticket.save()
    return message


def _first_response(ticket: Ticket, now: datetime) -> None:
    if ticket.policy is not None:
        # A ticket set to wait before anyone answered: the wait is not the team's time.
        _count_pause(ticket, now)
        _refresh_clocks(ticket, now)  # its target, moved by that wait
        calendar = sla.calendar_of(ticket.policy.calendar, now)
        ticket.first_response_time = sla.elapsed(ticket, calendar, now)
        due = ticket.first_response_due
        if due is not None and now > due and ticket.first_response_breached_at is None:
            ticket.first_response_breached_at = due
    ticket.first_responded_at = now
    if ticket.policy is not None:
        # From now on the resolution clock is the one that matters; it warns anew.
        ticket.warned_at = None
        _refresh_clocks(ticket, now)


def ticket_note(
    ticket: Ticket, *, by: User, body: str, files: Sequence[File] = (), now: datetime | None = None
) -> Message:
    """An internal note: the team sees it, the customer never does; no clock changes."""
    now = now or timezone.now()
    body = body.strip()
    if not body:
        raise DeskError("body", _("Write the note."))
    _check_files(files)
    with transaction.atomic():
        ticket = _locked(ticket)
        again = _sent_already(ticket, MessageKind.NOTE, body, by, now)
        if again is not None:
            return again
        message = _message(ticket, MessageKind.NOTE, body, now, author=by)
        _attach(message, files)
    return message


def ticket_customer_message(
    ticket: Ticket,
    *,
    body: str,
    message_id: str = "",
    files: Sequence[File] = (),
    automatic: bool = False,
    now: datetime | None = None,
) -> Message:
    """The customer wrote again: a waiting or resolved ticket opens again, its clock runs.
    An `automatic` answer (an out-of-office) is kept on the ticket but opens nothing."""
    now = now or timezone.now()
    body = body.strip() or _("(no text)")
    _check_files(files)
    with transaction.atomic():
        ticket = _locked(ticket)
        if message_id and ticket.messages.filter(message_id=message_id[:250]).exists():
            return ticket.messages.get(message_id=message_id[:250])  # delivered twice
        message = _message(ticket, MessageKind.CUSTOMER, body, now, message_id=message_id)
        _attach(message, files)
        ticket.last_message_at = now
        if ticket.status != TicketStatus.NEW and not automatic:
            _set_status(ticket, TicketStatus.OPEN, now)
        ticket.save()
    return message


# -- Status, assignment -----------------------------------------------------------------


def ticket_update(
    ticket: Ticket,
    *,
    by: User,
    status: str | None = None,
    assignee: User | str | None = "unchanged",
    priority: int | None = None,
    category: Category | str | None = "unchanged",
    kind: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """The agent's sidebar: status, assignee, priority, category, kind. Resolving
    without a reply sends the customer a short resolution e-mail with the rating links."""
    now = now or timezone.now()
    with transaction.atomic():
        ticket = _locked(ticket)
        triage = (ticket.kind, ticket.priority)
        if kind is not None and kind != ticket.kind:
            if kind not in TicketKind.values:
                raise DeskError("kind", _("Unknown kind: %(value)s.") % {"value": kind})
            if kind == TicketKind.COMPLAINT:
                _timeline(ticket, "complaint", now)
            ticket.kind = kind
        if priority is not None:
            if priority not in TicketPriority.values:
                raise DeskError("priority", _("Unknown priority: %(value)s.") % {"value": priority})
            ticket.priority = priority
        if assignee != "unchanged":
            if isinstance(assignee, User) and not assignee.is_active:
                raise DeskError("assignee", _("This user is deactivated."))
            ticket.assignee = assignee if isinstance(assignee, User) else None
        if category != "unchanged":
            ticket.category = category if isinstance(category, Category) else None
        if status is not None and status != ticket.status:
            if status not in TicketStatus.values:
                raise DeskError("status", _("Unknown status: %(value)s.") % {"value": status})
            if status == TicketStatus.NEW:
                raise DeskError("status", _("A ticket cannot become new again."))
            _set_status(ticket, status, now, by=by)
        if (ticket.kind, ticket.priority) != triage and not ticket.is_solved:
            _policy_change(ticket, now)
        ticket.save()
    return ticket


def _policy_change(ticket: Ticket, now: datetime) -> None:
    """A new kind or priority may fall under another policy (an e-mail triaged as
    urgent): its targets count from the opening, as if it had applied all along. A first
    response already given keeps the target it met or missed."""
    policy = sla.policy_for(ticket.kind, ticket.priority, ticket.contact)
    if policy == ticket.policy:
        return
    answered = ticket.first_response_due if ticket.first_responded_at is not None else None
    ticket.policy = policy
    ticket.warned_at = None  # a new deadline, warned anew
    ticket.first_response_due = ticket.resolution_due = None
    _refresh_clocks(ticket, now)
    if ticket.first_responded_at is not None:
        ticket.first_response_due = answered


def _locked(ticket: Ticket) -> Ticket:
    return (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("policy__calendar", "contact")
        .get(pk=ticket.pk)
    )


def _set_status(
    ticket: Ticket,
    status: str,
    now: datetime,
    *,
    by: User | None = None,
    rating_asked: bool = False,
) -> None:
    """Moves the clocks with the status; the caller saves."""
    before = ticket.status
    if status == before:
        return
    if _count_pause(ticket, now):
        # The clocks ran again: the time they stood still moves the deadlines, and a
        # moved deadline warns anew.
        ticket.warned_at = None
    ticket.paused_at = now if status in STOPPED_STATUSES else None
    ticket.status = status
    _refresh_clocks(ticket, now)  # none while stopped; else the moved deadline
    if status in (TicketStatus.NEW, TicketStatus.OPEN):
        ticket.resolved_at = ticket.closed_at = None
    elif status == TicketStatus.RESOLVED:
        if ticket.first_responded_at is None:
            _first_response(ticket, now)  # the resolution e-mail answers the customer
        _resolution(ticket, now)
        _timeline(ticket, "ticket_resolved", now)
        if not rating_asked:
            with translation.override(ticket.contact.language):
                text = _(
                    "We consider your request %(number)s resolved. If anything is still "
                    "missing, just reply to this e-mail and we will pick it up again."
                ) % {"number": ticket.number}
            _message(ticket, MessageKind.REPLY, text, now, author=by, asks_rating=True)
    elif status == TicketStatus.CLOSED:
        ticket.closed_at = now
        if ticket.resolved_at is None:
            _resolution(ticket, now)  # closed without being resolved first


def _resolution(ticket: Ticket, now: datetime) -> None:
    ticket.resolved_at = now
    due = ticket.resolution_due
    if due is not None and now > due and ticket.resolution_breached_at is None:
        ticket.resolution_breached_at = due


# -- Satisfaction -----------------------------------------------------------------------

RATINGS = (1, 2, 3, 4, 5)


def ticket_rate(
    ticket: Ticket, *, rating: int, comment: str | None = None, now: datetime | None = None
) -> Ticket:
    """The customer's rating from the resolution e-mail: the last click within the window
    counts; the first one lands on the timeline."""
    now = now or timezone.now()
    if rating not in RATINGS:
        raise DeskError("rating", _("Choose a rating from 1 to 5."))
    window = timedelta(days=settings.REGUA_DESK_RATING_DAYS)
    with transaction.atomic():
        ticket = _locked(ticket)
        if ticket.resolved_at is None:
            raise DeskError("rating", _("This request is not resolved yet."))
        if ticket.rated_at is not None and now - ticket.rated_at > window:
            raise DeskError("rating", _("This rating can no longer be changed."))
        first = ticket.rated_at is None
        ticket.rating = rating
        if comment is not None:
            ticket.rating_comment = comment.strip()[:2000]
        ticket.rated_at = ticket.rated_at or now
        ticket.save(update_fields=["rating", "rating_comment", "rated_at", "updated_at"])
        if first:
            _timeline(ticket, "ticket_rated", now, rating=rating)
    return ticket


# -- The worker -------------------------------------------------------------------------


@dataclass
class TickSummary:
    warned: int = 0
    breached: int = 0
    sent: int = 0
    failed: int = 0
    closed: int = 0


def desk_tick(*, now: datetime | None = None, batch: int = 200) -> TickSummary:
    """Warnings, breaches, queued replies and auto-closing, as of `now`."""
    now = now or timezone.now()
    summary = TickSummary()
    summary.warned = _warn(now, batch)
    summary.breached = _breach(now)
    from .mail import replies_send

    summary.sent, summary.failed = replies_send(now=now, size=batch)
    summary.closed = _close_solved(now)
    return summary


def _warn(now: datetime, batch: int) -> int:
    from regua.agenda.models import Task, TaskKind, TaskPriority, TaskSource

    due = list(
        Ticket.objects.filter(warn_at__lte=now, warned_at__isnull=True, warn_at__isnull=False)
        .filter(status__in=ACTIVE_STATUSES, due_at__isnull=False)
        .select_related("contact", "assignee")
        .order_by("warn_at")[:batch]
    )
    warned = 0
    for ticket in due:
        with transaction.atomic():
            # Conditional: two workers never warn twice, and a ticket answered, paused or
            # solved since it was read is not warned about a deadline it no longer has.
            if not Ticket.objects.filter(
                pk=ticket.pk,
                warned_at__isnull=True,
                warn_at=ticket.warn_at,
                status__in=ACTIVE_STATUSES,
                first_responded_at__isnull=ticket.first_responded_at is None,
            ).update(warned_at=now):
                continue
            owner = ticket.assignee or ticket.contact.owner
            with translation.override(settings.LANGUAGE_CODE):
                what = _("first response") if ticket.first_responded_at is None else _("resolution")
                title = _("SLA: %(what)s of ticket %(number)s due %(when)s") % {
                    "what": what,
                    "number": ticket.number,
                    "when": timezone.localtime(ticket.due_at).strftime("%d/%m %H:%M"),
                }
                notes = f"{ticket.subject}\n{settings.REGUA_SITE_URL}/desk/{ticket.pk}/"
            Task.objects.create(
                kind=TaskKind.EMAIL,
                title=title[:200],
                notes=notes,
                contact=ticket.contact,
                owner=owner,
                due_on=timezone.localdate(now),
                priority=TaskPriority.HIGH,
                source=TaskSource.SLA,
            )
        warned += 1
        if owner is not None and owner.email:
            _notify(owner, title, notes)
    return warned


def _notify(user: User, title: str, text: str) -> None:
    """An e-mail to the team member; a failure is logged, the task is there anyway."""
    try:
        send_mail(title, text, settings.DEFAULT_FROM_EMAIL, [user.email], fail_silently=False)
    except Exception:  # the notification is a courtesy; the agenda task is the record
        log.exception("could not e-mail the SLA warning to user %s", user.pk)  # no address


def _breach(now: datetime) -> int:
    """Each passed deadline recorded once, at the instant it passed: one UPDATE each."""
    running = Q(status__in=ACTIVE_STATUSES, paused_at__isnull=True)
    first = Ticket.objects.filter(
        running,
        first_responded_at__isnull=True,
        first_response_breached_at__isnull=True,
        first_response_due__lte=now,
    ).update(first_response_breached_at=F("first_response_due"))
    resolution = Ticket.objects.filter(
        running,
        resolution_breached_at__isnull=True,
        resolution_due__lte=now,
    ).update(resolution_breached_at=F("resolution_due"))
    return first + resolution


def _close_solved(now: datetime) -> int:
    after = timedelta(days=settings.REGUA_DESK_CLOSE_AFTER_DAYS)
    return Ticket.objects.filter(status=TicketStatus.RESOLVED, resolved_at__lte=now - after).update(
        status=TicketStatus.CLOSED, closed_at=now
    )


def tickets_bulk_assign(ids: Iterable[int], assignee: User | None) -> int:
    return Ticket.objects.filter(pk__in=list(ids)).update(assignee=assignee)

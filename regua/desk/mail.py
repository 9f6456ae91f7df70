"""The desk's e-mail: replies out through the régua's e-mail channel, and the addresses
and links that bring the customer's answer back to the right ticket.

Each reply carries the ticket in three places, so any of them threads the answer:
- the Reply-To address, `suporte+t<id>.<key>@…` when REGUA_DESK_REPLY_ADDRESS is set
  (providers' inbound routes keep the "+tag");
- its Message-ID, `<desk.<id>.<message>.<key>@domain>`, which mail clients quote in
  In-Reply-To and References;
- the subject's `[#id]`, trusted only when the sender is the ticket's customer.
`key` is the ticket's random mail_key, so a guessed number threads nothing.
"""

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from regua.cadences.channels.base import Outgoing, Result
from regua.cadences.channels.email import EmailBackend
from regua.cadences.rendering import branded_html

from .models import Attachment, Message, MessageKind, SendStatus, Ticket

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
RATING_SALT = "regua.desk.rating"

_TAG = re.compile(r"\+t(\d+)\.([0-9a-f]{16})@", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"<desk\.(\d+)\.\d+\.([0-9a-f]{16})@", re.IGNORECASE)
_SUBJECT = re.compile(r"\[#(\d+)\]")


def reply_address(ticket: Ticket) -> str:
    base = settings.REGUA_DESK_REPLY_ADDRESS
    if not base or "@" not in base:
        return ""
    local, domain = base.rsplit("@", 1)
    return f"{local}+t{ticket.pk}.{ticket.mail_key}@{domain}"


def message_id(message: Message) -> str:
    ticket = message.ticket
    return f"<desk.{ticket.pk}.{message.pk}.{ticket.mail_key}@{settings.REGUA_MESSAGE_ID_DOMAIN}>"


def thread_of(
    recipients: list[str], headers: list[str], subject: str, sender: str
) -> Ticket | None:
    """The ticket an inbound e-mail answers, or None when it starts a new one."""
    for pattern, texts in ((_TAG, recipients), (_MESSAGE_ID, headers)):
        for text in texts:
            for number, key in pattern.findall(text or ""):
                ticket = Ticket.objects.filter(pk=int(number), mail_key=key.lower()).first()
                if ticket is not None:
                    return ticket
    found = _SUBJECT.search(subject or "")
    if found and sender:
        return Ticket.objects.filter(
            pk=int(found.group(1)), contact__email__iexact=sender.strip()
        ).first()
    return None


def rating_url(ticket: Ticket, rating: int) -> str:
    token = signing.dumps(ticket.pk, salt=RATING_SALT, compress=True)
    return f"{settings.REGUA_SITE_URL}/support/rating/{token}/{rating}/"


def rating_ticket(token: str) -> Ticket | None:
    try:
        pk = signing.loads(token, salt=RATING_SALT)
    except signing.BadSignature:
        return None
    return Ticket.objects.select_related("contact").filter(pk=pk).first()


# -- Sending ----------------------------------------------------------------------------


def replies_send(*, now: datetime, size: int = 200) -> tuple[int, int]:
    """Claim due replies with a lease, send them in one connection, record each outcome."""
    ids = _claim(now, size)
    if not ids:
        return 0, 0
    messages = list(
        Message.objects.filter(pk__in=ids)
        .select_related("ticket__contact", "author")
        .prefetch_related("attachments")
        .order_by("id")
    )
    answering = _last_customer_ids({m.ticket_id for m in messages})
    backend = EmailBackend()
    backend.open()
    sent = failed = 0
    try:
        for message in messages:
            try:
                result = backend.send(_outgoing(message, answering.get(message.ticket_id, "")))
            except Exception as error:
                # A message that cannot be written (an address with a line break, an
                # attachment gone from the disk) never will be: it fails alone instead
                # of stopping the worker and every reply queued after it.
                log.warning("ticket reply %s cannot be sent: %s", message.pk, type(error).__name__)
                result = Result.failed(f"{type(error).__name__}: {error}"[:300])
            if _record(message, result, now):
                sent += 1
            elif result.outcome == "failed" or message.attempts >= MAX_ATTEMPTS:
                failed += 1
    finally:
        backend.close()
    return sent, failed


def _claim(now: datetime, size: int) -> list[int]:
    due = Message.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=timezone.now()),
        send_status=SendStatus.PENDING,
        next_attempt_at__lte=now,
    ).order_by("next_attempt_at", "id")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:size])
        Message.objects.filter(pk__in=ids).update(
            lease_until=timezone.now() + LEASE, attempts=F("attempts") + 1
        )
    return ids


def _last_customer_ids(ticket_ids: set[int]) -> dict[int, str]:
    """Per ticket, the Message-ID of the customer's latest e-mail, which a reply answers:
    one query for the batch."""
    latest: dict[int, str] = {}
    rows = (
        Message.objects.filter(ticket_id__in=ticket_ids, kind=MessageKind.CUSTOMER)
        .exclude(message_id="")
        .order_by("ticket_id", "id")
        .values_list("ticket_id", "message_id")
    )
    for ticket_id, value in rows:
        latest[ticket_id] = value  # the last one of each ticket stays
    return latest


def _outgoing(message: Message, last: str) -> Outgoing:
    ticket = message.ticket
    contact = ticket.contact
    language = contact.language
    with translation.override(language):
        subject = f"[{ticket.number}] {ticket.subject}"
        text = message.body
        if message.asks_rating:
            links = "\n".join(
                f"{'★' * rating}{'☆' * (5 - rating)}  {rating_url(ticket, rating)}"
                for rating in (5, 4, 3, 2, 1)
            )
            text += "\n\n" + _("How did we do? One click rates our service:") + "\n" + links
        html = branded_html(subject, text, language)
    headers = {}
    reply_to = reply_address(ticket)
    if reply_to:
        headers["Reply-To"] = reply_to
    if last:
        headers["In-Reply-To"] = last
        headers["References"] = last
    return Outgoing(
        delivery_id=0,
        channel="email",
        to=contact.email or "",
        subject=subject,
        text=text,
        html=html,
        message_id=message_id(message),
        headers=headers,
        attachments=[(a.name, _content(a), a.content_type) for a in message.attachments.all()],
    )


def _content(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as file:  # closed at once: a batch has many
        return file.read()


def _record(message: Message, result: Result, now: datetime) -> bool:
    fields: dict[str, Any] = {"lease_until": None, "error": result.reason}
    if result.outcome == "sent":
        fields.update(send_status=SendStatus.SENT, sent_at=timezone.now(), error="")
        fields["message_id"] = message_id(message)
    elif result.outcome == "failed" or message.attempts >= MAX_ATTEMPTS:
        fields["send_status"] = SendStatus.FAILED
    else:
        # Transient: try again later, a little later each time.
        fields["next_attempt_at"] = now + timedelta(minutes=2 ** min(message.attempts, 8))
    Message.objects.filter(pk=message.pk).update(**fields)
    if result.outcome != "sent":
        log.warning("ticket reply %s not sent: %s", message.pk, result.reason)
    return result.outcome == "sent"

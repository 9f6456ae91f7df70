"""Inbound e-mail: a provider's inbound webhook (through django-anymail: Postmark,
SendGrid, Mailgun, Amazon SES, Brevo, …, at /anymail/<provider>/inbound/) becomes a new
ticket, or a message on the ticket it answers (mail.thread_of).

The sender becomes a contact when the address is new. Quoted history below the reply
("Em … escreveu:", "On … wrote:", lines starting with ">") is dropped: the ticket already
holds it.
"""

import logging
import re
from typing import Any

from anymail.signals import inbound
from django.conf import settings
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from regua.lib.html import html_to_text

from .mail import thread_of
from .models import Message, MessageKind, Ticket, TicketChannel
from .services import (
    DeskError,
    File,
    contact_for_email,
    ticket_customer_message,
    ticket_open,
)

log = logging.getLogger(__name__)

_QUOTE_HEADER = re.compile(
    r"^\s*(Em .{3,200} escreveu:|On .{3,200} wrote:|-----Original Message-----|"
    r"-----Mensagem original-----|De: .+|From: .+)\s*$",
    re.IGNORECASE,
)


def strip_quoted(text: str) -> str:
    """The new part of a reply: the lines before the quoted history."""
    kept = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if _QUOTE_HEADER.match(line) or line.startswith(">"):
            break
        kept.append(line)
    return "\n".join(kept).strip() or text.strip()


@receiver(inbound, dispatch_uid="regua.desk.inbound")
def on_inbound(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    if not getattr(settings, "ANYMAIL", {}).get("WEBHOOK_SECRET"):
        # Without the secret the route is open to anyone on the web (anymail only
        # warns): a forged e-mail would open tickets past the contact form's spam
        # checks, or write on a customer's ticket as them.
        log.warning("inbound e-mail ignored: set ANYMAIL_WEBHOOK_SECRET to take it")
        return
    message = event.message
    try:
        ticket_from_email(message)
    except DeskError as error:
        # Recorded, not raised: a 500 would make the provider retry the same message.
        # The field only: the message may quote the sender's address (no personal data
        # in logs).
        log.warning("inbound e-mail not taken: %s", error.field)


def ticket_from_email(message: Any) -> Ticket | None:
    """The ticket the inbound `message` (an AnymailInboundMessage) opened or joined."""
    sender = message.from_email
    address = (sender.addr_spec if sender else "").strip().lower()
    if not address or "@" not in address:
        raise DeskError("from", "no sender address")
    recipients = [str(a.addr_spec) for a in (message.to or [])]
    envelope = message.get("X-Original-To") or ""
    recipients += [envelope, str(getattr(message, "envelope_recipient", "") or "")]
    headers = [message.get("In-Reply-To") or "", message.get("References") or ""]
    subject = message.subject or ""
    body = strip_quoted(message.text or _html_text(message.html or ""))
    files = [
        File(a.get_filename() or "file", a.get_content_bytes(), a.get_content_type())
        for a in message.attachments
    ]
    message_id = (message.get("Message-ID") or "").strip()
    ticket = thread_of(recipients, headers, subject, address)
    now = timezone.now()
    if ticket is not None:
        ticket_customer_message(
            ticket,
            body=body,
            message_id=message_id,
            files=files,
            automatic=is_automatic(message),
            now=now,
        )
        return ticket
    contact = contact_for_email(email=address, name=sender.display_name or "")
    if message_id:
        # The provider delivered the same e-mail again (a retried webhook): its ticket.
        earlier = (
            Message.objects.filter(
                ticket__contact=contact, kind=MessageKind.CUSTOMER, message_id=message_id[:250]
            )
            .select_related("ticket")
            .first()
        )
        if earlier is not None:
            return earlier.ticket
    return ticket_open(
        contact=contact,
        subject=subject or body[:80] or _("(no subject)"),
        body=body or _("(no text)"),
        channel=TicketChannel.EMAIL,
        files=files,
        message_id=message_id,
        now=now,
    )


def is_automatic(message: Any) -> bool:
    """An auto-reply (RFC 3834's Auto-Submitted, or the older headers of out-of-office
    replies): it threads onto the ticket but must not open it again, or every
    resolution e-mail to a customer on holiday would reopen its ticket."""
    submitted = (message.get("Auto-Submitted") or "").strip().lower()
    precedence = (message.get("Precedence") or "").strip().lower()
    return (
        submitted not in ("", "no")
        or precedence in ("auto_reply", "bulk", "junk")
        or bool(message.get("X-Autoreply") or message.get("X-Autorespond"))
    )


def _html_text(html: str) -> str:
    """An HTML-only e-mail's text: stored and shown as text, never as the sender's HTML
    (scripts and styles go with their content, not only their tags)."""
    return html_to_text(html)

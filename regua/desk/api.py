"""REST API of the service desk: open tickets from a shop, a chat or an app, add the
customer's messages, read a ticket with its conversation."""

from datetime import datetime
from typing import Any, Literal

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from regua.core.api import TextIn, api_user, require_writer, validation_detail
from regua.customers.models import Contact
from regua.customers.selectors import contacts_visible_to

from .models import Category, Ticket, TicketChannel, TicketKind
from .selectors import tickets_visible_to
from .services import (
    DeskError,
    contact_for_email,
    ticket_customer_message,
    ticket_note,
    ticket_open,
    ticket_reply,
)

router = Router(tags=["service desk"])


class TicketIn(TextIn):
    contact: str = Field(
        ..., description="The customer's external id or e-mail (a new e-mail creates them)"
    )
    name: str = Field("", description="The customer's name, when the e-mail is new")
    subject: str
    body: str = Field(..., description="What the customer wrote")
    kind: Literal["complaint", "question", "request"] = "question"
    channel: Literal["email", "phone", "chat", "whatsapp", "form", "api"] = "api"
    priority: int = Field(2, ge=1, le=4, description="1 low, 2 normal, 3 high, 4 urgent")
    category: str = Field("", description="A category's name")
    order: str = Field("", description="The order number the ticket is about")


class MessageIn(TextIn):
    body: str
    kind: Literal["customer", "reply", "note"] = "customer"
    status: Literal["open", "waiting", "resolved"] = "open"


class MessageOut(Schema):
    id: int
    kind: str
    body: str
    created_at: datetime
    author: str | None
    send_status: str


class TicketOut(Schema):
    id: int
    number: str
    subject: str
    kind: str
    channel: str
    status: str
    priority: int
    contact_id: int
    order: str
    category: str | None
    assignee: str | None
    created_at: datetime
    first_response_due: datetime | None
    resolution_due: datetime | None
    first_responded_at: datetime | None
    resolved_at: datetime | None
    rating: int | None
    messages: list[MessageOut]


def _out(ticket: Ticket) -> dict[str, Any]:
    messages = ticket.messages.select_related("author").order_by("created_at", "id")
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "subject": ticket.subject,
        "kind": ticket.kind,
        "channel": ticket.channel,
        "status": ticket.status,
        "priority": ticket.priority,
        "contact_id": ticket.contact_id,
        "order": ticket.order_ref,
        "category": ticket.category.name if ticket.category else None,
        "assignee": ticket.assignee.email if ticket.assignee else None,
        "created_at": ticket.created_at,
        "first_response_due": ticket.first_response_due,
        "resolution_due": ticket.resolution_due,
        "first_responded_at": ticket.first_responded_at,
        "resolved_at": ticket.resolved_at,
        "rating": ticket.rating,
        "messages": [
            {
                "id": m.pk,
                "kind": m.kind,
                "body": m.body,
                "created_at": m.created_at,
                "author": m.author.email if m.author else None,
                "send_status": m.send_status,
            }
            for m in messages
        ],
    }


def _contact(request: HttpRequest, key: str, name: str) -> Contact:
    key = key.strip()
    contacts = contacts_visible_to(api_user(request))
    if "@" in key:
        found = contacts.filter(Q(email=key.lower()) | Q(external_id=key)).first()
        if found is None and not Contact.objects.filter(email=key.lower()).exists():
            try:
                return contact_for_email(email=key, name=name)
            except DeskError as error:
                raise DeskError("contact", error.message) from None
    else:
        found = contacts.filter(external_id=key).first() if key else None
    if found is None:
        raise DeskError("contact", _("no contact has this external id or e-mail"))
    return found


@router.post("/desk/tickets", response={201: TicketOut, 422: dict})
def ticket_create(request: HttpRequest, payload: TicketIn) -> Any:
    """Open a ticket. 422 with the field and the reason when something is wrong."""
    user = require_writer(request)
    category = None
    try:
        with transaction.atomic():
            contact = _contact(request, payload.contact, payload.name)
            if payload.category:
                category = Category.objects.filter(name__iexact=payload.category).first()
                if category is None:
                    raise DeskError("category", _("no category has this name"))
            ticket = ticket_open(
                contact=contact,
                subject=payload.subject,
                body=payload.body,
                kind=TicketKind(payload.kind),
                channel=TicketChannel(payload.channel),
                priority=payload.priority,
                category=category,
                order_ref=payload.order,
                by=user,
            )
    except DeskError as error:
        return Status(422, validation_detail([(error.field, error.message)]))
    return Status(201, _out(ticket))


@router.get("/desk/tickets/{ticket_id}", response=TicketOut)
def ticket_read(request: HttpRequest, ticket_id: int) -> Any:
    ticket = tickets_visible_to(api_user(request)).filter(pk=ticket_id).first()
    if ticket is None:
        raise HttpError(404, _("no such ticket"))
    return _out(ticket)


@router.post("/desk/tickets/{ticket_id}/messages", response={201: TicketOut, 422: dict})
def message_add(request: HttpRequest, ticket_id: int, payload: MessageIn) -> Any:
    """The customer's new message (kind `customer`, e.g. from a chat widget), or the
    team's public reply or internal note, written as the key's user."""
    user = require_writer(request)
    ticket = tickets_visible_to(user).filter(pk=ticket_id).first()
    if ticket is None:
        raise HttpError(404, _("no such ticket"))
    try:
        if payload.kind == "customer":
            ticket_customer_message(ticket, body=payload.body)
        elif payload.kind == "reply":
            ticket_reply(ticket, by=user, body=payload.body, status=payload.status)
        else:
            ticket_note(ticket, by=user, body=payload.body)
    except DeskError as error:
        return Status(422, validation_detail([(error.field, error.message)]))
    ticket.refresh_from_db()
    return Status(201, _out(ticket))

"""Reading tickets: who sees which, the queue, the contact's tickets."""

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from regua.users.models import User

from .models import ACTIVE_STATUSES, Ticket, TicketKind, TicketPriority, TicketStatus

PAGE_SIZE = 50
# Counts stop here: "1,000+" tickets to answer says as much as the exact figure, and
# counting further with a filter the index does not cover (a kind, a category) means
# reading each ticket.
COUNT_CAP = 1_000

# Paging stops here: deeper pages cost a sort of page × 50 rows per status, and a
# filter finds a ticket faster.
MAX_PAGE = 100
# Ids in a query string: ASCII digits only ("²" is a digit to str.isdigit, not to int)
# and short enough for a 64-bit column.
ID_DIGITS = 18


def id_param(value: Any) -> int | None:
    """A positive id from a query string, or None for anything else."""
    text = str(value or "")
    if text.isascii() and text.isdigit() and len(text) <= ID_DIGITS:
        return int(text)
    return None


VIEWS = {
    "active": ACTIVE_STATUSES,
    "new": (TicketStatus.NEW,),
    "waiting": (TicketStatus.WAITING,),
    "resolved": (TicketStatus.RESOLVED,),
    "closed": (TicketStatus.CLOSED,),
}


def tickets_visible_to(user: User) -> QuerySet[Ticket]:
    """Agents with private portfolios see their tickets, those of their own customers
    and the unassigned ones of customers in nobody's portfolio (a new sender, the
    contact form); everyone else sees the whole desk. An unassigned ticket of another
    agent's customer stays with that portfolio, as the customer does."""
    tickets = Ticket.objects.all()
    if not user.sees_all_contacts:
        tickets = tickets.filter(
            Q(assignee=user)
            | Q(contact__owner=user)
            | Q(assignee__isnull=True, contact__owner__isnull=True)
        )
    return tickets


@dataclass
class Queue:
    tickets: list[Ticket]
    count: int
    capped: bool
    has_next: bool
    page: int


def capped_count(tickets: QuerySet[Ticket]) -> tuple[int, bool]:
    count = tickets.order_by().values("pk")[: COUNT_CAP + 1].count()
    return min(count, COUNT_CAP), count > COUNT_CAP


def queue(tickets: QuerySet[Ticket], statuses: Sequence[str], *, page: int = 1) -> Queue:
    """A page of tickets in these statuses, the most urgent deadline first, then those
    without a deadline, oldest first.

    One query per status (and with or without a deadline) reads just the (due_at, id)
    pairs the page needs, walking the (status, due_at, id) index in order; they are
    merged here and the page's 50 tickets read by id. An IN list over two statuses would
    make the database sort every matching ticket (some 80,000 at a million), and a join
    in the ordered query lets a planner with stale statistics do the same."""
    page = max(page, 1)
    need = page * PAGE_SIZE + 1
    dated = [
        tickets.filter(status=status, due_at__isnull=False)
        .order_by("due_at", "id")
        .values_list("due_at", "id")[:need]
        for status in statuses
    ]
    keys = [pk for _due, pk in heapq.merge(*dated)][:need]
    if len(keys) < need:
        undated = [
            tickets.filter(status=status, due_at__isnull=True)
            .order_by("id")
            .values_list("id", flat=True)[: need - len(keys)]
            for status in statuses
        ]
        keys += list(heapq.merge(*undated))[: need - len(keys)]
    shown = keys[(page - 1) * PAGE_SIZE :]
    loaded = Ticket.objects.select_related("contact", "assignee", "category").in_bulk(
        shown[:PAGE_SIZE]
    )
    count, capped = capped_count(tickets.filter(status__in=statuses))
    rows = [loaded[pk] for pk in shown[:PAGE_SIZE] if pk in loaded]
    return Queue(rows, count, capped, len(shown) > PAGE_SIZE, page)


@dataclass(frozen=True)
class Row:
    """A queue line with its labels worked out once: the page lists 50 of them and
    Django's template engine is slow at method calls and includes per row."""

    pk: int
    subject: str
    category: str
    contact: str
    kind: str
    priority: str
    status: str
    assignee: str
    sla: str  # "ok", "warning", "breached", "paused" or ""
    due: datetime | None
    breached: bool


def sla_state(ticket: Ticket, now: datetime) -> str:
    """ok, warning (past the warning instant), breached (past the deadline), paused."""
    if ticket.due_at is None:
        return "paused" if ticket.status == TicketStatus.WAITING else ""
    if ticket.due_at <= now:
        return "breached"
    if ticket.warned_at is not None or (ticket.warn_at is not None and ticket.warn_at <= now):
        return "warning"
    return "ok"


def queue_rows(tickets: list[Ticket], now: datetime) -> list[Row]:
    kinds, priorities = dict(TicketKind.choices), dict(TicketPriority.choices)
    statuses = dict(TicketStatus.choices)
    return [
        Row(
            pk=t.pk,
            subject=t.subject,
            category=t.category.name if t.category else "",
            contact=str(t.contact),
            kind=str(kinds.get(t.kind, t.kind)),
            priority=str(priorities.get(t.priority, t.priority)),
            status=str(statuses.get(t.status, t.status)),
            assignee=str(t.assignee) if t.assignee else "—",
            sla=sla_state(t, now),
            due=t.due_at,
            breached=bool(t.first_response_breached_at or t.resolution_breached_at),
        )
        for t in tickets
    ]


def queue_filter(
    tickets: QuerySet[Ticket], params: Any, user: User
) -> tuple[QuerySet[Ticket], tuple[str, ...]]:
    """The tickets the filters keep, and the statuses of the chosen view."""
    statuses = tuple(VIEWS.get(params.get("view", "active"), ACTIVE_STATUSES))
    who = params.get("assignee", "")
    if who == "me":
        tickets = tickets.filter(assignee=user)
    elif who == "none":
        tickets = tickets.filter(assignee__isnull=True)
    elif (assignee := id_param(who)) is not None:
        tickets = tickets.filter(assignee_id=assignee)
    for field in ("kind", "channel"):
        if params.get(field):
            tickets = tickets.filter(**{field: params[field]})
    if (priority := id_param(params.get("priority"))) is not None:
        tickets = tickets.filter(priority=priority)
    if (category := id_param(params.get("category"))) is not None:
        tickets = tickets.filter(category_id=category)
    if params.get("breached") == "1":
        tickets = tickets.filter(
            Q(first_response_breached_at__isnull=False) | Q(resolution_breached_at__isnull=False)
        )
    text = str(params.get("q", "")).strip()
    if text:
        number = id_param(text.lstrip("#"))
        if number is not None:
            tickets = tickets.filter(pk=number)
        elif "@" in text:
            tickets = tickets.filter(contact__email=text.lower())
        else:
            tickets = tickets.filter(subject__icontains=text)
    return tickets, statuses


def contact_tickets(contact_id: int, *, limit: int = 10) -> list[Ticket]:
    return list(
        Ticket.objects.filter(contact_id=contact_id)
        .select_related("assignee")
        .order_by("-created_at")[:limit]
    )

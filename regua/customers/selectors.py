"""Reads of the customer base that are more than a filter: visibility, lists, the dossier.

Every list, page, export and API read of contacts goes through contacts_visible_to(), so
the portfolio rule (PORTFOLIO_VISIBILITY=own: agents see their own contacts only) holds
everywhere, not only in the list view.
"""

import base64
import binascii
import heapq
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.utils import timezone

from regua.commerce.models import Order, OrderItem, OrderStatus
from regua.events.models import Event, EventSummary
from regua.events.selectors import contact_event_totals
from regua.users.models import User

from .models import Company, Consent, ConsentChange, Contact, ContactRole, Interaction, Tag
from .search import Window, contact_search


def contacts_visible_to(user: User) -> QuerySet[Contact]:
    contacts = Contact.objects.all()
    if not user.sees_all_contacts:
        contacts = contacts.filter(owner=user)
    return contacts


def companies_visible_to(user: User) -> QuerySet[Company]:
    companies = Company.objects.all()
    if not user.sees_all_contacts:
        companies = companies.filter(Q(owner=user) | Q(roles__contact__owner=user)).distinct()
    return companies


@dataclass(frozen=True)
class ContactFilters:
    q: str = ""
    stage: str = ""
    owner: int | None = None
    tag: str = ""
    city: str = ""
    sort: str = "recent"  # "recent" (newest first) or "name" (A–Z)


def contacts_filter(contacts: QuerySet[Contact], filters: ContactFilters) -> QuerySet[Contact]:
    """The filters other than the search text (see contacts_search_page for that)."""
    if filters.stage:
        contacts = contacts.filter(stage=filters.stage)
    if filters.owner:
        contacts = contacts.filter(owner_id=filters.owner)
    if filters.city:
        contacts = contacts.filter(city=filters.city)
    if filters.tag:
        contacts = contacts.filter(contacttag__tag__key=Tag.key_for(filters.tag))
    return contacts


# Keyset pagination: a page ends with a cursor naming its last row, so page 20,000 costs
# what page 1 does, and no page needs the total count of a million rows.
def encode_cursor(*values: Any) -> str:
    raw = "\x1f".join(str(value) for value in values)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, parts: int) -> list[str] | None:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = base64.urlsafe_b64decode(padded.encode()).decode().split("\x1f")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return values if len(values) == parts else None


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None
    count_label: str = ""


SEARCH_COUNT_CAP = 200


def contacts_search_page(
    contacts: QuerySet[Contact],
    filters: ContactFilters,
    *,
    cursor: str = "",
    size: int = 50,
    count: bool = True,
) -> Page:
    """A page of the contacts that match the filters and the search text, and how many.

    The plain case (a search, no other filter, newest first) reads the ids of the first
    SEARCH_COUNT_CAP matches below the cursor in one query: the page is the first of
    them and their number is the count ("200+" beyond). Each branch of the search stops
    there. With other filters the search must find every match, then filter.
    """
    contacts = contacts_filter(contacts, filters)
    windowed = bool(filters.q) and filters.sort != "name" and not contacts.query.has_filters()
    if windowed:
        return _search_page(contacts, filters.q, cursor=cursor, size=size, count=count)
    page = contacts_page(
        contact_search(contacts, filters.q), sort=filters.sort, cursor=cursor, size=size
    )
    if count and not page.next_cursor and not cursor:
        page.count_label = f"{len(page.items):,}"  # it all fits on this page: no query
    elif count:
        page.count_label = count_capped(contact_search(contacts, filters.q))
    return page


def _search_page(
    contacts: QuerySet[Contact], text: str, *, cursor: str, size: int, count: bool
) -> Page:
    before = None
    if cursor and (after := decode_cursor(cursor, 1)) and after[0].isdigit():
        before = int(after[0])
    cap = max(SEARCH_COUNT_CAP, size) + 1
    ids = list(
        contact_search(contacts, text, Window(before, cap))
        .order_by("-id")
        .values_list("id", flat=True)[:cap]
    )
    rows = list(contacts.filter(id__in=ids[:size]).select_related("owner").order_by("-id"))
    next_cursor = encode_cursor(ids[size - 1]) if len(ids) > size else None
    page = Page(rows, next_cursor)
    if count and not cursor:
        page.count_label = f"{SEARCH_COUNT_CAP:,}+" if len(ids) >= cap else f"{len(ids):,}"
    return page


def contacts_page(
    contacts: QuerySet[Contact], *, sort: str = "recent", cursor: str = "", size: int = 50
) -> Page:
    """One page of `contacts` after `cursor`, newest first or by name."""
    if sort == "name":
        contacts = contacts.order_by("search_name", "id")
        if cursor and (after := decode_cursor(cursor, 2)) and after[1].isdigit():
            # A row comparison: both backends seek the (search_name, id) index with it.
            contacts = contacts.extra(
                where=["(search_name, customers_contact.id) > (%s, %s)"],
                params=[after[0], int(after[1])],
            )
    else:
        contacts = contacts.order_by("-id")
        if cursor and (after := decode_cursor(cursor, 1)) and after[0].isdigit():
            contacts = contacts.filter(id__lt=int(after[0]))
    rows = list(contacts.select_related("owner")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = (
            encode_cursor(last.search_name, last.pk) if sort == "name" else encode_cursor(last.pk)
        )
    return Page(rows, next_cursor)


def companies_page(companies: QuerySet[Company], *, cursor: str = "", size: int = 50) -> Page:
    """One page of `companies` by name after `cursor`."""
    companies = companies.order_by("search_name", "id")
    if cursor and (after := decode_cursor(cursor, 2)) and after[1].isdigit():
        name, last_id = after[0], int(after[1])
        companies = companies.filter(Q(search_name__gt=name) | Q(search_name=name, id__gt=last_id))
    rows = list(companies.select_related("owner")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = encode_cursor(rows[-1].search_name, rows[-1].pk) if more and rows else None
    return Page(rows, next_cursor)


def count_capped(queryset: QuerySet[Any], cap: int = 1000) -> str:
    """'37' or '1,000+': how many, counting no further than `cap` rows."""
    count = queryset.order_by().values("pk")[: cap + 1].count()
    return f"{cap:,}+" if count > cap else f"{count:,}"


# The dossier -----------------------------------------------------------------------------


def contact_dossier(contact: Contact, *, user: User) -> dict[str, Any]:
    """Everything the contact page shows beside the timeline, in a few queries. The
    power maps of the contact's companies name only the people `user` may see."""
    roles = list(
        ContactRole.objects.filter(contact=contact).select_related("company").order_by("id")
    )
    consents = {c.channel: c for c in Consent.objects.filter(contact=contact)}
    orders = list(contact.orders.order_by("-ordered_at")[:10])
    from regua.agenda.selectors import contact_open_tasks
    from regua.analytics.models import CustomerScore
    from regua.analytics.recommendations import recommendations
    from regua.analytics.rfm import ACTIVITY_CELLS, SEGMENT_MAP
    from regua.cadences.upcoming import upcoming_steps
    from regua.desk.selectors import contact_tickets

    score = CustomerScore.objects.filter(contact=contact).first()
    bought = set(OrderItem.objects.filter(order__contact=contact).values_list("sku", flat=True))
    nps = (
        Event.objects.filter(contact=contact, name="nps_answered")
        .order_by("-occurred_at", "-id")
        .only("occurred_at", "properties")
        .first()
    )
    from regua.accounts.selectors import company_power_map, private_portfolio
    from regua.loyalty.selectors import loyalty_standing

    visible = private_portfolio(user)
    return {
        "loyalty": loyalty_standing(contact),
        "power_maps": [(role, company_power_map(role.company, visible=visible)) for role in roles],
        "open_tasks": contact_open_tasks(contact.pk),
        "tickets": contact_tickets(contact.pk),
        "upcoming": upcoming_steps(contact.pk, timezone.now()),
        "nps": _nps_answer(nps),
        "score": score,
        "score_labels": {
            "segment": SEGMENT_MAP[score.rfm_segment][0] if score and score.rfm_segment else "",
            "cell": ACTIVITY_CELLS.get(score.activity_cell, "") if score else "",
        },
        "recommended": recommendations({contact.pk: bought}, limit=5, page=True)[contact.pk],
        "roles": roles,
        "consents": consents,
        "consent_history": list(
            ConsentChange.objects.filter(contact=contact).select_related("changed_by")[:20]
        ),
        "tags": list(contact.tags.all()),
        "orders": orders,
        "stats": _order_stats(contact),
        "event_totals": contact_event_totals(contact.pk),
    }


def _nps_answer(event: Event | None) -> dict[str, Any] | None:
    """The contact's last NPS answer: score, category and day."""
    if event is None or not isinstance(event.properties.get("score"), int | float):
        return None
    score = int(event.properties["score"])
    from regua.analytics.kpis import nps_category

    category = nps_category(score)
    return {"score": score, "category": category, "at": event.occurred_at}


def _order_stats(contact: Contact) -> dict[str, Any]:
    return contact.orders.exclude(
        status__in=[OrderStatus.CANCELLED, OrderStatus.REFUNDED]
    ).aggregate(
        count=Count("id"), total=Sum("total"), first=Min("ordered_at"), last=Max("ordered_at")
    )


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a contact's timeline: an interaction, an order, an event, or a month of
    archived events (an EventSummary: the month's count, at its last event)."""

    at: datetime
    kind: str  # "interaction", "order", "event" or "archive"
    obj: Any

    @property
    def key(self) -> tuple[datetime, str, int]:
        return (self.at, self.kind, self.obj.pk)


def contact_timeline(contact: Contact, *, cursor: str = "", size: int = 25) -> Page:
    """The contact's interactions, orders and events in one list, newest first; past the
    event retention horizon, a line per archived month and event name.

    Each source is read with its (contact, time) index, at most size + 1 rows after the
    cursor, and the four are merged: a page costs four small index reads, however long
    the contact's history (a contact's monthly totals are few: sorted without an index).
    """
    before: tuple[datetime, str, int] | None = None
    if cursor and (parts := decode_cursor(cursor, 3)) and parts[2].isdigit():
        try:
            before = (datetime.fromisoformat(parts[0]), parts[1], int(parts[2]))
        except ValueError:
            before = None
    sources: list[tuple[str, QuerySet[Any], str]] = [
        (
            "interaction",
            Interaction.objects.filter(contact=contact).select_related("author"),
            "occurred_at",
        ),
        ("order", Order.objects.filter(contact=contact).prefetch_related("items"), "ordered_at"),
        # The order is on the timeline itself; a shop's purchase event for it would repeat it.
        (
            "event",
            Event.objects.filter(contact=contact).exclude(
                name="purchase", properties__has_key="order_id"
            ),
            "occurred_at",
        ),
        ("archive", EventSummary.objects.filter(contact=contact), "last_at"),
    ]
    streams = []
    for kind, queryset, field in sources:
        if before is not None:
            # Rows whose (time, kind, id) sorts before the cursor's, in this source's terms.
            at, before_kind, before_id = before
            condition = Q(**{f"{field}__lt": at})
            if kind < before_kind:
                condition |= Q(**{field: at})
            elif kind == before_kind:
                condition |= Q(**{field: at, "pk__lt": before_id})
            queryset = queryset.filter(condition)
        rows = queryset.order_by(f"-{field}", "-pk")[: size + 1]
        streams.append([TimelineEntry(getattr(row, field), kind, row) for row in rows])
    merged = list(heapq.merge(*streams, key=lambda entry: entry.key, reverse=True))
    page = merged[:size]
    more = len(merged) > size
    next_cursor = None
    if more and page:
        last = page[-1]
        next_cursor = encode_cursor(last.at.isoformat(), last.kind, last.obj.pk)
    return Page(page, next_cursor)

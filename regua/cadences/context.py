"""The data a message template sees, built for a whole batch in a few queries.

Templates get plain dicts and lists, never model objects: the sandbox then has nothing
to reach through (no managers, no related objects, no methods that touch the database).
"""

from collections import defaultdict
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from regua.analytics.models import CustomerScore
from regua.analytics.recommendations import recommendations
from regua.analytics.rfm import SEGMENT_MAP
from regua.commerce.models import Order, OrderItem
from regua.customers.models import Contact, ContactRole
from regua.events.models import Event
from regua.loyalty.selectors import template_variables as loyalty_variables
from regua.users.models import User

from . import tokens
from .models import Delivery, Enrollment
from .rendering import names_used

RECOMMENDED = 3
ALL = frozenset(
    {
        "contact",
        "company",
        "owner",
        "last_order",
        "recommended_products",
        "scores",
        "loyalty",
        "event",
    }
)


def contact_data(contact: Contact, today: date) -> dict[str, Any]:
    tags = getattr(contact, "tag_names", None)
    age = None
    if contact.birth_date:
        born = contact.birth_date
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return {
        "first_name": contact.first_name or (contact.name.split(" ")[0] if contact.name else ""),
        "last_name": contact.last_name,
        "name": contact.name,
        "email": contact.email or "",
        "phone": contact.phone,
        "city": contact.city,
        "state": contact.state,
        "gender": contact.gender,
        "stage": contact.stage,
        "language": contact.language,
        "birth_date": contact.birth_date,
        "age": age,
        "tags": list(tags or []),
        "attributes": dict(contact.attributes or {}),
    }


def build(deliveries: list[Delivery], now: datetime) -> dict[int, dict[str, Any]]:
    """The template context of each delivery, by delivery id.

    Only what the batch's messages read is fetched: a welcome that says the first name
    costs no query for orders, scores or points. `links`, `brand` and `today` are always
    there (the e-mail layout and the task channel read them)."""
    needs = _needed(deliveries)
    contact_ids = {d.contact_id for d in deliveries}
    companies = _companies(contact_ids) if "company" in needs else {}
    orders = _last_orders(contact_ids) if "last_order" in needs else {}
    recommended_by: dict[int, list[dict[str, Any]]] = {}
    if "recommended_products" in needs:
        bought = _bought(contact_ids)
        recommended_by = recommendations({c: bought.get(c, set()) for c in contact_ids})
    scores = _scores(contact_ids) if "scores" in needs else {}
    loyalty = loyalty_variables(contact_ids) if "loyalty" in needs else {}
    events = _trigger_events(deliveries) if "event" in needs else {}
    owners = (
        User.objects.in_bulk({d.contact.owner_id for d in deliveries} - {None})
        if "owner" in needs
        else {}
    )
    tags = _tags(contact_ids) if "contact" in needs else {}
    site = settings.REGUA_SITE_URL
    brand = {"name": settings.REGUA_BRAND_NAME, "site_url": site}
    contexts = {}
    for delivery in deliveries:
        contact = delivery.contact
        today = now.astimezone(ZoneInfo(contact.time_zone)).date()
        unsubscribe = tokens.url("unsubscribe", delivery.pk, site)
        context: dict[str, Any] = {
            "links": {
                "site": site,
                "unsubscribe": unsubscribe,
                "preferences": unsubscribe,
                "survey": tokens.url("survey", delivery.pk, site),
            },
            "brand": brand,
            "today": today,
        }
        if "contact" in needs:
            contact.tag_names = tags.get(contact.pk, [])
            context["contact"] = contact_data(contact, today)
        if "owner" in needs:
            owner = owners.get(contact.owner_id or 0)
            context["owner"] = (
                {"name": owner.get_full_name() or owner.email, "email": owner.email}
                if owner
                else None
            )
        if "company" in needs:
            context["company"] = companies.get(contact.pk)
        if "last_order" in needs:
            context["last_order"] = orders.get(contact.pk)
        if "recommended_products" in needs:
            context["recommended_products"] = recommended_by.get(contact.pk, [])[:RECOMMENDED]
        if "scores" in needs:
            context["scores"] = scores.get(contact.pk)
        if "loyalty" in needs:
            context["loyalty"] = loyalty[contact.pk]
        if "event" in needs:
            event = events.get(delivery.pk)
            context["event"] = (
                {"name": event.name, "properties": dict(event.properties or {})} if event else None
            )
        contexts[delivery.pk] = context
    return contexts


def _needed(deliveries: list[Delivery]) -> frozenset[str]:
    """The names the batch's messages read; all of them when one does not parse."""
    needs: set[str] = set()
    for message in {id(d.step.message): d.step.message for d in deliveries}.values():
        if message:
            names = names_used(message)
            if names is None:
                return ALL
            needs |= names
    return frozenset(needs)


def _trigger_events(deliveries: list[Delivery]) -> dict[int, Event]:
    """The event that enrolled each delivery's contact, by delivery id, where there is one."""
    enrollments = {d.enrollment_id for d in deliveries} - {None}
    trigger_of = dict(
        Enrollment.objects.filter(pk__in=enrollments, trigger_event_id__isnull=False).values_list(
            "id", "trigger_event_id"
        )
    )
    events = Event.objects.in_bulk(set(trigger_of.values()))
    found = {}
    for delivery in deliveries:
        event = events.get(trigger_of.get(delivery.enrollment_id or 0, 0))
        if event is not None:
            found[delivery.pk] = event
    return found


def _companies(contact_ids: set[int]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for role in (
        ContactRole.objects.filter(contact_id__in=contact_ids)
        .select_related("company")
        .order_by("contact_id", "id")
    ):
        found.setdefault(role.contact_id, {"name": role.company.name, "city": role.company.city})
    return found


def _last_orders(contact_ids: set[int]) -> dict[int, dict[str, Any]]:
    last: dict[int, dict[str, Any]] = {}
    rows = (
        Order.objects.filter(contact_id__in=contact_ids)
        .order_by("contact_id", "-ordered_at", "-id")
        .values_list("contact_id", "id", "external_id", "ordered_at", "total")
    )
    for contact_id, order_id, number, ordered_at, total in rows:
        if contact_id not in last:
            last[contact_id] = {
                "id": order_id,
                "number": number,
                "placed_at": ordered_at,
                "total": total,
                "items": [],
            }
    by_order = {order["id"]: order for order in last.values()}
    for order_id, name, sku, quantity, unit_price in OrderItem.objects.filter(
        order_id__in=list(by_order)
    ).values_list("order_id", "product__name", "sku", "quantity", "unit_price"):
        by_order[order_id]["items"].append(
            {"name": name or sku, "sku": sku, "quantity": quantity, "unit_price": unit_price}
        )
    for order in last.values():
        del order["id"]
    return last


def _bought(contact_ids: set[int]) -> dict[int, set[str]]:
    bought: dict[int, set[str]] = defaultdict(set)
    for contact_id, sku in OrderItem.objects.filter(order__contact_id__in=contact_ids).values_list(
        "order__contact_id", "sku"
    ):
        bought[contact_id].add(sku)
    return bought


def _scores(contact_ids: set[int]) -> dict[int, dict[str, Any]]:
    """The stored scores, as templates read them (see docs/analytics.md)."""
    found = {}
    for score in CustomerScore.objects.filter(contact_id__in=contact_ids):
        label = SEGMENT_MAP.get(score.rfm_segment)
        found[score.contact_id] = {
            "rfm_segment": score.rfm_segment,
            "rfm_segment_name": str(label[0]) if label else "",
            "r": score.r,
            "f": score.f,
            "m": score.m,
            "activity": score.activity_cell,
            "purchases": score.purchases,
            "spend": score.spend,
            "clv": score.clv,
            "p_alive": score.p_alive,
            "next_purchase_on": score.next_purchase_on,
        }
    return found


def _tags(contact_ids: set[int]) -> dict[int, list[str]]:
    from regua.customers.models import ContactTag

    tags: dict[int, list[str]] = defaultdict(list)
    for contact_id, name in ContactTag.objects.filter(contact_id__in=contact_ids).values_list(
        "contact_id", "tag__name"
    ):
        tags[contact_id].append(name)
    return tags

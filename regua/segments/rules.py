"""Segment rules: groups of conditions joined by AND/OR, compiled to one Q over Contact.

A rule is a group: {"match": "all" | "any", "conditions": [item, ...]}, where an item is
a condition {"field", "op", "value"} or another group (nested up to MAX_DEPTH). The whole
rule becomes one WHERE clause of one query: contact fields compare directly, everything
else is an EXISTS or a correlated subquery on the contact's rows, so counting a segment
is one `SELECT COUNT(*)`.

Fields (FIELDS lists them for the builder):
- the contact's own: stage, gender, city, state, language, source, relationship_type,
  time_zone, age, owner, tags, consent.<channel>, attributes.<name> (cadences.conditions);
- company.profitability | purchase_potential | relationship_degree (any of its companies);
- event.<name>: within_days N, not_within_days N, count_gte / count_lte
  {"count": n, "days": d} (days optional: all time); with event retention on, the
  archived months' totals count too (see _event);
- orders.count, orders.total (compare), orders.within_days / not_within_days N,
  orders.product / orders.category has | not_has (SKU or category slug) — purchases only;
- score.rfm_segment, score.activity_cell (eq/ne/in/not_in), score.r|f|m|clv|p_alive|
  recency_days|purchases (compare): the stored scores of the last analytics refresh;
  score.next_purchase_in_days (compare): days from today to the expected next purchase;
- nps.category: the category of the contact's latest NPS answer;
- loyalty.tier (eq/ne/in/not_in, by tier code; "none" = no tier): the tier of the last
  loyalty refresh; loyalty.points (compare): the balance, the live sum of the ledger;
- segment: in / not_in another saved segment, by name.
"""

import math
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import (
    CharField,
    Count,
    Exists,
    FloatField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    lookups,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from regua.analytics.frames import PURCHASED, day_start
from regua.analytics.models import CustomerScore
from regua.analytics.rfm import ACTIVITY_CELLS, SEGMENT_MAP
from regua.cadences.conditions import ConditionError, condition_q
from regua.commerce.models import Order, OrderItem
from regua.customers.models import ContactRole
from regua.events.models import Event, EventSummary
from regua.events.retention import summaries_in_use
from regua.loyalty.models import Account, PointEntry, Tier

MAX_DEPTH = 4
# A hundred years of days; and the largest number a condition compares with.
MAX_DAYS = 36600
MAX_NUMBER = 10**15
# How many saved segments deep the rule being compiled is: a segment that names another
# nests one level, so two segments naming each other end with an error, not a loop.
_segment_depth: ContextVar[int] = ContextVar("segment_depth", default=0)
# "No condition" as a real condition: an empty Q() would vanish from an OR.
EVERYONE = Q(pk__isnull=False)
MATCH = {"all", "any"}
COMPARE = {"eq", "ne", "gt", "gte", "lt", "lte"}
CHOICE_OPS = {"eq", "ne", "in", "not_in"}
COMPANY_FIELDS = {"profitability", "purchase_potential", "relationship_degree"}
SCORE_CHOICES: dict[str, set[str]] = {
    "rfm_segment": set(SEGMENT_MAP),
    "activity_cell": set(ACTIVITY_CELLS),
}
SCORE_NUMBERS = {"r", "f", "m", "clv", "p_alive", "recency_days", "purchases", "spend"}
NPS_CATEGORIES = {"promoter", "passive", "detractor"}


@dataclass(frozen=True)
class FieldSpec:
    """A field as the builder offers it: its key, label, operators and choices."""

    key: str
    label: Promise
    ops: list[str]
    choices: list[tuple[str, str]] = field(default_factory=list)
    value: str = "text"  # text | number | days | count_days | choice


def empty_rule() -> dict[str, Any]:
    return {"match": "all", "conditions": []}


def compile_rule(rule: Any, *, today: date | None = None, depth: int = 0) -> Q:
    """The rule as one Q over Contact; RuleError names the item and the reason."""
    if depth > MAX_DEPTH:
        raise RuleError(_("groups nest at most %(depth)d levels deep") % {"depth": MAX_DEPTH})
    match = rule.get("match") if isinstance(rule, dict) else None
    if not isinstance(match, str) or match not in MATCH:  # a list or a dict is no key
        raise RuleError(_('a group needs "match": "all" or "any" and a list of conditions'))
    items = rule.get("conditions", [])
    if not isinstance(items, list):
        raise RuleError(_("conditions must be a list"))
    parts = []
    for index, item in enumerate(items, start=1):
        try:
            if isinstance(item, dict) and "match" in item:
                parts.append(compile_rule(item, today=today, depth=depth + 1))
            elif isinstance(item, dict) and {"field", "op"} <= item.keys():
                parts.append(
                    condition_q(str(item["field"]), str(item["op"]), item.get("value"), today)
                )
            else:
                raise RuleError(_("needs field and op, or match and conditions"))
        except (RuleError, ConditionError) as error:
            prefix = _("item %(index)d") % {"index": index}
            raise RuleError(f"{prefix}: {error}") from None
    if not parts:
        return EVERYONE
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part if rule["match"] == "all" else combined | part
    return combined


def check(rule: Any) -> list[str]:
    try:
        compile_rule(rule)
    except RuleError as error:
        return [str(error)]
    return []


class RuleError(ConditionError):
    """A rule that cannot be compiled."""


def extended_q(field_key: str, op: str, value: Any, today: date | None) -> Q:
    """The conditions beyond the contact's own columns (see the module docstring)."""
    now = _moment(today)
    prefix, _dot, name = field_key.partition(".")
    if field_key == "segment":
        return _segment(op, value)
    if prefix == "company":
        return _company(name, op, value)
    if prefix == "event":
        return _event(name, op, value, now)
    if prefix == "orders":
        return _orders(name, op, value, now)
    if prefix == "score" and name == "next_purchase_in_days":
        return _next_purchase(op, value, now)
    if prefix == "score":
        return _score(name, op, value)
    if prefix == "nps" and name == "category":
        return _nps(op, value)
    if prefix == "loyalty":
        return _loyalty(name, op, value)
    raise ConditionError(_("unknown field %(field)r") % {"field": field_key})


def _moment(today: date | None) -> datetime:
    if today is None:
        return timezone.now()
    return day_start(today + timedelta(days=1))  # the end of that business day


def _choice(op: str, value: Any, allowed: set[str] | None) -> tuple[bool, list[str]]:
    """(positive, values) for eq/ne/in/not_in, checking the values when a set is known."""
    if op not in CHOICE_OPS:
        raise ConditionError(_("%(op)s does not apply here") % {"op": op})
    values = value if op in {"in", "not_in"} else [value]
    if not isinstance(values, list) or not values:
        raise ConditionError(_("%(op)s needs a list of values") % {"op": op})
    values = [str(v) for v in values]
    if allowed is not None:
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise ConditionError(_("unknown value %(value)r") % {"value": unknown[0]})
    return op in {"eq", "in"}, values


def _number(op: str, value: Any) -> float:
    if op not in COMPARE:
        raise ConditionError(_("%(op)s does not apply here") % {"op": op})
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConditionError(_("%(value)r is not a number") % {"value": value})
    # Past ±1e15 no amount, count or score means anything; beyond, floats lose whole
    # numbers and NaN or infinity would reach the database (fuzzing found both).
    if not (isinstance(value, int) or math.isfinite(value)) or abs(value) > MAX_NUMBER:
        raise ConditionError(_("%(value)r is not a number") % {"value": value})
    return float(value)


def _days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_DAYS:
        raise ConditionError(_("%(value)r is not a number of days") % {"value": value})
    return value


def _compare(path: str, op: str, number: float) -> Q:
    if op == "ne":
        return ~Q(**{path: number})
    return Q(**{f"{path}__{'exact' if op == 'eq' else op}": number})


def _segment(op: str, value: Any) -> Q:
    from .models import Segment

    positive, names = _choice(op, value, None)
    depth = _segment_depth.get() + 1
    if depth > MAX_DEPTH:
        raise RuleError(_("groups nest at most %(depth)d levels deep") % {"depth": MAX_DEPTH})
    q = Q()
    token = _segment_depth.set(depth)
    try:
        for position, name in enumerate(names):
            segment = Segment.objects.filter(name=name).first()
            if segment is None:
                raise ConditionError(_("no segment named %(name)r") % {"name": name})
            member = segment.as_q(depth=depth)
            q = member if position == 0 else q | member
    finally:
        _segment_depth.reset(token)
    return q if positive else ~q


def _company(name: str, op: str, value: Any) -> Q:
    if name not in COMPANY_FIELDS:
        raise ConditionError(_("unknown field %(field)r") % {"field": f"company.{name}"})
    positive, values = _choice(op, value, {"high", "medium", "low"})
    has = Exists(
        ContactRole.objects.filter(contact=OuterRef("pk"), **{f"company__{name}__in": values})
    )
    return Q(has) if positive else ~Q(has)


def _event(name: str, op: str, value: Any, now: datetime) -> Q:
    if not name or len(name) > 64:
        raise ConditionError(_("event conditions name the event: event.<name>"))
    events = Event.objects.filter(contact=OuterRef("pk"), name=name)
    # Past the retention horizon the events are monthly totals (events.retention): they
    # count too. Recency is exact (a month's last_at); a window that begins inside an
    # archived month counts that month whole when its last event is in the window, so
    # "within N days" and "at least once in N days" agree.
    archived = (
        EventSummary.objects.filter(contact=OuterRef("pk"), name=name)
        if summaries_in_use()
        else None
    )
    if op in {"within_days", "not_within_days"}:
        since = now - timedelta(days=_days(value))
        recent = _any(
            events.filter(occurred_at__gte=since),
            archived.filter(last_at__gte=since) if archived is not None else None,
        )
        return recent if op == "within_days" else ~recent
    if op in {"count_gte", "count_lte"}:
        count = value.get("count") if isinstance(value, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_NUMBER:
            raise ConditionError(_('%(op)s takes {"count": n, "days": d}') % {"op": op})
        if value.get("days") is not None:
            since = now - timedelta(days=_days(value["days"]))
            events = events.filter(occurred_at__gte=since)
            archived = archived.filter(last_at__gte=since) if archived is not None else None
        return _counted(events, op.removeprefix("count_"), value["count"], archived)
    raise ConditionError(_("%(op)s does not apply here") % {"op": op})


def _any(rows: Any, archived: Any | None) -> Q:
    """The contact has one of `rows`, or an archived month of them."""
    present = Q(Exists(rows))
    return present | Q(Exists(archived)) if archived is not None else present


def _counted(rows: Any, op: str, count: int, archived: Any | None = None) -> Q:
    """How many of the contact's rows (plus the archived monthly totals, when given)
    compared to `count` (EXISTS where that says it)."""
    if op == "gte" and count <= 1:
        return _any(rows, archived) if count == 1 else EVERYONE
    if op == "lte" and count == 0:
        return ~_any(rows, archived)
    per_contact: Any = Subquery(
        rows.order_by().values("contact").annotate(n=Count("pk")).values("n")[:1]
    )
    if archived is not None:
        summed = Subquery(
            archived.order_by().values("contact").annotate(n=Sum("count")).values("n")[:1]
        )
        per_contact = Coalesce(per_contact, Value(0)) + Coalesce(summed, Value(0))
    return _aggregate_compare(per_contact, op, count)


def _orders(name: str, op: str, value: Any, now: datetime) -> Q:
    orders = Order.objects.filter(contact=OuterRef("pk"), status__in=PURCHASED)
    if name == "last" and op in {"within_days", "not_within_days"}:
        days = _days(value)
        recent = Exists(orders.filter(ordered_at__gte=now - timedelta(days=days)))
        return ~Q(recent) if "not_within_days" in {name, op} else Q(recent)
    if name in {"product", "category"}:
        if op not in {"has", "not_has"} or not isinstance(value, str) or not value:
            raise ConditionError(_("%(field)s takes has/not_has with one value") % {"field": name})
        lines = OrderItem.objects.filter(order__contact=OuterRef("pk"), order__status__in=PURCHASED)
        lines = (
            lines.filter(sku=value)
            if name == "product"
            else lines.filter(product__category__slug=value)
        )
        return Q(Exists(lines)) if op == "has" else ~Q(Exists(lines))
    if name in {"count", "total"}:
        number = _number(op, value)
        aggregate = Count("pk") if name == "count" else Sum("total")
        per_contact = Subquery(
            orders.order_by().values("contact").annotate(v=aggregate).values("v")[:1]
        )
        return _aggregate_compare(per_contact, op, number)
    raise ConditionError(_("unknown field %(field)r") % {"field": f"orders.{name}"})


LOOKUPS = {
    "eq": lookups.Exact,
    "ne": lookups.Exact,
    "gt": lookups.GreaterThan,
    "gte": lookups.GreaterThanOrEqual,
    "lt": lookups.LessThan,
    "lte": lookups.LessThanOrEqual,
}


def _aggregate_compare(per_contact: Any, op: str, number: float) -> Q:
    """Compare a per-contact aggregate, counting a contact with no rows as 0."""
    value = Coalesce(per_contact, Value(0), output_field=FloatField())
    condition = Q(LOOKUPS[op](value, number))
    return ~condition if op == "ne" else condition


def _score(name: str, op: str, value: Any) -> Q:
    scores = CustomerScore.objects.filter(contact=OuterRef("pk"))
    if name in SCORE_CHOICES:
        positive, values = _choice(op, value, SCORE_CHOICES[name])
        has = Exists(scores.filter(**{f"{name}__in": values}))
    elif name in SCORE_NUMBERS:
        number = _number(op, value)
        if op == "ne":
            return ~Q(Exists(scores.filter(**{name: number})))
        lookup = "exact" if op == "eq" else op
        return Q(Exists(scores.filter(**{f"{name}__{lookup}": number})))
    else:
        raise ConditionError(_("unknown field %(field)r") % {"field": f"score.{name}"})
    return Q(has) if positive else ~Q(has)


def _next_purchase(op: str, value: Any, now: datetime) -> Q:
    """Days from today to the expected next purchase (negative: overdue), compared."""
    days = _number(op, value)
    if days != int(days) or abs(days) > MAX_DAYS:
        raise ConditionError(_("%(value)r is not a number of days") % {"value": value})
    today = timezone.localtime(now - timedelta(microseconds=1)).date()
    target = today + timedelta(days=int(days))
    scores = CustomerScore.objects.filter(contact=OuterRef("pk"), next_purchase_on__isnull=False)
    if op == "ne":
        return Q(Exists(scores.exclude(next_purchase_on=target)))
    lookup = "exact" if op == "eq" else op
    return Q(Exists(scores.filter(**{f"next_purchase_on__{lookup}": target})))


def _nps(op: str, value: Any) -> Q:
    positive, values = _choice(op, value, NPS_CATEGORIES)
    answers = Event.objects.filter(contact=OuterRef("pk"), name="nps_answered")
    latest = Subquery(
        answers.order_by("-occurred_at", "-pk")
        .annotate(category=KeyTextTransform("category", "properties"))
        .values("category")[:1],
        output_field=CharField(),
    )
    matches = Q(lookups.In(latest, values))
    return matches if positive else Q(Exists(answers)) & ~matches


def _loyalty(name: str, op: str, value: Any) -> Q:
    if name == "tier":
        positive, codes = _choice(op, value, {"none", *Tier.objects.values_list("slug", flat=True)})
        accounts = Account.objects.filter(contact=OuterRef("pk"))
        tiers = [code for code in codes if code != "none"]
        in_tier = Q(Exists(accounts.filter(tier__slug__in=tiers)))
        if "none" in codes:  # no tier: no account, or an account below the lowest tier
            in_tier |= ~Q(Exists(accounts.filter(tier__isnull=False)))
        return in_tier if positive else ~in_tier
    if name == "points":
        number = _number(op, value)
        balance = Subquery(
            PointEntry.objects.filter(contact=OuterRef("pk"))
            .order_by()
            .values("contact")
            .annotate(total=Sum("points"))
            .values("total")[:1]
        )
        return _aggregate_compare(balance, op, number)
    raise ConditionError(_("unknown field %(field)r") % {"field": f"loyalty.{name}"})

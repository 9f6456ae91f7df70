"""Audience and step conditions: a list of {field, op, value}, all of which must hold.

Compiled to one Q over Contact so the tick filters a whole set in the database. Segments
(a later issue) will replace these lists with saved rules; the shape stays a Q.
"""

import math
from datetime import date
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from regua.core.ingest import has_nul
from regua.customers.models import Consent, ContactTag, Tag

PLAIN_FIELDS = {
    "stage",
    "gender",
    "city",
    "state",
    "language",
    "source",
    "relationship_type",
    "time_zone",
}
EXTENDED_PREFIXES = {"company", "event", "orders", "score", "nps", "loyalty"}
CONSENT_CHANNELS = {"email", "sms", "whatsapp", "phone"}
OPS = {
    "eq",
    "ne",
    "in",
    "not_in",
    "has",
    "not_has",
    "gt",
    "gte",
    "lt",
    "lte",
    "is_set",
    "is_not_set",
}
LIST_OPS = {"in", "not_in"}


class ConditionError(ValueError):
    """A condition that cannot be compiled; the message names the item and the reason."""


def check(conditions: Any) -> list[str]:
    """The problems in a condition list, as sentences (empty when it compiles)."""
    try:
        to_q(conditions)
    except ConditionError as error:
        return [str(error)]
    return []


def to_q(conditions: Any, today: date | None = None) -> Q:
    if conditions in (None, []):
        return Q()
    if not isinstance(conditions, list):
        raise ConditionError(_("conditions must be a list of {field, op, value}"))
    q = Q()
    for index, item in enumerate(conditions, start=1):
        if not isinstance(item, dict) or not {"field", "op"} <= item.keys():
            raise ConditionError(_("condition %(index)d: needs field and op") % {"index": index})
        unknown = item.keys() - {"field", "op", "value"}
        if unknown:
            raise ConditionError(
                _("condition %(index)d: unknown key %(key)r")
                % {"index": index, "key": sorted(unknown)[0]}
            )
        try:
            q &= condition_q(str(item["field"]), str(item["op"]), item.get("value"), today)
        except ConditionError as error:
            raise ConditionError(
                _("condition %(index)d: %(problem)s") % {"index": index, "problem": error}
            ) from None
    return q


def condition_q(field: str, op: str, value: Any, today: date | None) -> Q:
    """One contact condition as a Q (ConditionError when it does not compile)."""
    if "\x00" in field or has_nul(value):  # PostgreSQL refuses NUL in any text
        raise ConditionError(_("a condition may not hold a NUL character"))
    if field == "segment" or field.partition(".")[0] in EXTENDED_PREFIXES:
        # Orders, events, scores, companies, NPS and saved segments (segments.rules).
        from regua.segments.rules import extended_q

        return extended_q(field, op, value, today)
    if op not in OPS:
        raise ConditionError(_("unknown operator %(op)r") % {"op": op})
    if op in LIST_OPS and not isinstance(value, list):
        raise ConditionError(_("%(op)s needs a list of values") % {"op": op})
    if field == "tags":
        return _tags(op, value)
    if field.startswith("consent."):
        channel = field.removeprefix("consent.")
        if channel not in CONSENT_CHANNELS:
            raise ConditionError(_("unknown consent channel %(channel)r") % {"channel": channel})
        if op not in {"eq", "ne"} or value not in {"granted", "withdrawn"}:
            raise ConditionError(_("consent takes eq/ne with granted or withdrawn"))
        has = Exists(Consent.objects.filter(contact=OuterRef("pk"), channel=channel, status=value))
        return Q(has) if op == "eq" else ~Q(has)
    _check_value(op, value)
    if field == "owner":
        return _compare("owner__email", op, value)
    if field == "age":
        return _age(op, value, today or timezone.localdate())
    if field.startswith("attributes."):
        name = field.removeprefix("attributes.")
        if not name.replace("_", "").isalnum():
            raise ConditionError(_("bad attribute name %(name)r") % {"name": name})
        path = f"attributes__{name}"
        if op == "is_set":
            return Q(**{"attributes__has_key": name})
        if op == "is_not_set":
            return ~Q(**{"attributes__has_key": name})
        return _compare(path, op, value)
    if field not in PLAIN_FIELDS:
        raise ConditionError(_("unknown field %(field)r") % {"field": field})
    return _compare(field, op, value)


# The largest whole number a database column holds (SQLite and PostgreSQL bigint).
MAX_INT = 2**63 - 1
MAX_AGE = 150


def _scalar(value: Any) -> bool:
    """A value a column can be compared with: text, a finite number, true/false, null."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int):
        return abs(value) <= MAX_INT
    return value is None or isinstance(value, str)


def _check_value(op: str, value: Any) -> None:
    """Refuse what no column compares with (found by fuzzing: a dict, NaN, 2**70, a
    None to be greater than): as the rule's own error, not the database's."""
    values = value if op in LIST_OPS else [value]
    ordered = op in {"gt", "gte", "lt", "lte"}
    for item in values:
        if not _scalar(item) or (ordered and (item is None or isinstance(item, bool))):
            raise ConditionError(
                _("%(value)r cannot be compared with %(op)s") % {"value": item, "op": op}
            )


def _compare(path: str, op: str, value: Any) -> Q:
    if op == "eq":
        return Q(**{path: value})
    if op == "ne":
        return ~Q(**{path: value})
    if op == "in":
        return Q(**{f"{path}__in": value})
    if op == "not_in":
        return ~Q(**{f"{path}__in": value})
    if op in {"gt", "gte", "lt", "lte"}:
        return Q(**{f"{path}__{op}": value})
    if op == "is_set":
        return ~Q(**{path: ""}) & Q(**{f"{path}__isnull": False})
    if op == "is_not_set":
        return Q(**{path: ""}) | Q(**{f"{path}__isnull": True})
    raise ConditionError(_("%(op)s does not apply here") % {"op": op})


def _tags(op: str, value: Any) -> Q:
    if op not in {"has", "not_has"} or not isinstance(value, str):
        raise ConditionError(_("tags take has/not_has with one tag"))
    tagged = Exists(
        ContactTag.objects.filter(
            contact=OuterRef("pk"), tag__in=Tag.objects.filter(key=Tag.key_for(value))
        )
    )
    return Q(tagged) if op == "has" else ~Q(tagged)


def _age(op: str, value: Any, today: date) -> Q:
    if op not in {"gt", "gte", "lt", "lte", "eq"} or not isinstance(value, int):
        raise ConditionError(_("age takes eq/gt/gte/lt/lte with a whole number"))
    if isinstance(value, bool) or not 0 <= value <= MAX_AGE:
        raise ConditionError(_("an age is a whole number from 0 to %(max)d") % {"max": MAX_AGE})

    def born_before(years: int) -> date:
        try:
            return today.replace(year=today.year - years)
        except ValueError:  # 29 February
            return today.replace(year=today.year - years, day=28)

    # age >= n  <=>  born on or before today − n years
    if op == "gte":
        return Q(birth_date__lte=born_before(value))
    if op == "gt":
        return Q(birth_date__lte=born_before(value + 1))
    if op == "lt":
        return Q(birth_date__gt=born_before(value))
    if op == "lte":
        return Q(birth_date__gt=born_before(value + 1))
    return Q(birth_date__lte=born_before(value), birth_date__gt=born_before(value + 1))

"""Who enters a régua between two instants: one query per trigger (and time zone).

Each function returns candidate entries (contact id, occurrence, entered_at) for the
interval (since, until] (the event trigger, the events themselves: the tick enrolls
them without reading them out); the tick filters them by the audience and the re-entry
policy in the same query and inserts them under the unique key (cadence, contact,
occurrence), so looking at an instant twice enrolls nobody twice.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Max, Min, Q, QuerySet
from django.utils.translation import gettext as _

from regua.customers.models import Contact
from regua.events.models import Event
from regua.lib import dates_br
from regua.lib.bulk import db_datetime_adapter

# Events reach us late (a shop's batch, a retried call): an event trigger looks this far
# behind its watermark. Later than that, an event is history and starts nothing.
EVENT_LATENESS = timedelta(hours=1)
# What another process writes is seen when it commits, a moment after the time it
# stamped (an API batch, an import's chunk: seconds; a broadcast waits for the tick that
# holds its régua), and machines' clocks differ a little: a tick looks this far behind
# its watermarks for rows it cannot have seen yet. Behind that, only rows received since.
RECENT = timedelta(minutes=2)

CALENDAR_RULES = {
    "mothers_day": dates_br.mothers_day,
    "fathers_day": dates_br.fathers_day,
    "customer_day": dates_br.customer_day,
    "black_friday": dates_br.black_friday,
    "christmas": dates_br.christmas,
    "valentines_day": dates_br.valentines_day,
    "childrens_day": dates_br.childrens_day,
}
DATETIME_ATTRIBUTES = {"created_at"}
DATE_ATTRIBUTES = {"birth_date"} | DATETIME_ATTRIBUTES


@dataclass(frozen=True)
class Entry:
    contact_id: int
    occurrence: str
    entered_at: datetime


def calendar_date(rule: str, year: int) -> date:
    """The date a calendar rule names in a year: a named Brazilian date or "MM-DD"."""
    if rule in CALENDAR_RULES:
        return CALENDAR_RULES[rule](year)
    month, day = (int(part) for part in rule.split("-"))
    return date(year, month, day)


def check_trigger(trigger: object) -> list[str]:
    """The problems in a trigger definition (empty when it is usable)."""
    if not isinstance(trigger, dict):
        return [_("the trigger must be a mapping with a kind")]
    kind = trigger.get("kind")
    allowed = {
        "event": {"event", "where"},
        "date": {"attribute", "hour"},
        "inactivity": {"days", "events"},
        "attribute": set(),
        "calendar": {"rule", "hour"},
        "manual": set(),
    }
    if kind not in allowed:
        return [
            _("unknown trigger kind %(kind)r: use one of %(kinds)s")
            % {"kind": kind, "kinds": ", ".join(allowed)}
        ]
    problems = [
        _("trigger %(kind)s: unknown option %(option)r") % {"kind": kind, "option": key}
        for key in sorted(trigger.keys() - allowed[kind] - {"kind"})
    ]
    if kind == "event":
        if not isinstance(trigger.get("event"), str) or not trigger["event"]:
            problems.append(_("trigger event: name the event"))
        if not isinstance(trigger.get("where", {}), dict):
            problems.append(_("trigger event: where must map property names to values"))
    if kind in {"date", "calendar"}:
        hour = trigger.get("hour", 9)
        if not isinstance(hour, int) or not 0 <= hour <= 23:
            problems.append(_("trigger %(kind)s: hour must be 0–23") % {"kind": kind})
    if kind == "date" and trigger.get("attribute") not in DATE_ATTRIBUTES:
        problems.append(_("trigger date: attribute must be birth_date or created_at"))
    if kind == "calendar":
        rule = str(trigger.get("rule", ""))
        try:
            calendar_date(rule, 2024)
        except (ValueError, TypeError):
            problems.append(
                _("trigger calendar: %(rule)r is neither a named date (%(names)s) nor MM-DD")
                % {"rule": rule, "names": ", ".join(CALENDAR_RULES)}
            )
    if kind == "inactivity":
        days = trigger.get("days")
        if not isinstance(days, int) or days < 1:
            problems.append(_("trigger inactivity: days must be a whole number ≥ 1"))
        events = trigger.get("events")
        if (
            not isinstance(events, list)
            or not events
            or not all(isinstance(e, str) for e in events)
        ):
            problems.append(_("trigger inactivity: events must list the event names that count"))
    return problems


def trigger_events(trigger: dict, since: datetime, until: datetime) -> QuerySet[Event]:
    """The events that start an event trigger in (since, until], late ones included: those
    that happened up to EVENT_LATENESS before `since` and were received after it. (Not
    every event of that hour: a tick runs every second, and it would read them all again
    each time, a burst of 300,000 sign-ups for a whole hour.)"""
    events = Event.objects.filter(
        Q(occurred_at__gt=since - RECENT) | Q(created_at__gt=since - RECENT),
        name=trigger["event"],
        occurred_at__gt=since - EVENT_LATENESS,
        occurred_at__lte=until,
    )
    for key, value in (trigger.get("where") or {}).items():
        events = events.filter(**{f"properties__{key}": value})
    return events


def _local_days(since: datetime, until: datetime, zone: ZoneInfo) -> Iterator[date]:
    day = since.astimezone(zone).date()
    last = until.astimezone(zone).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def _instant(day: date, hour: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=zone)


def _near_days(since: datetime, until: datetime) -> list[date]:
    """Every calendar day that is local somewhere on Earth during (since, until]."""
    first = (since - timedelta(hours=14)).astimezone(UTC).date()
    last = (until + timedelta(hours=14)).astimezone(UTC).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class _Anniversaries:
    """Per time zone: which (month, day) is celebrated at `hour` in (since, until], and on
    which local day. Born on 29 February: celebrated on 28 February in common years."""

    def __init__(self, since: datetime, until: datetime, hour: int) -> None:
        self.since, self.until, self.hour = since, until, hour
        self._zones: dict[str, tuple[ZoneInfo, dict[tuple[int, int], date]]] = {}

    def zone(self, name: str) -> tuple[ZoneInfo, dict[tuple[int, int], date]]:
        if name not in self._zones:
            zone = ZoneInfo(name)
            due: dict[tuple[int, int], date] = {}
            for day in _local_days(self.since, self.until, zone):
                if self.since < _instant(day, self.hour, zone) <= self.until:
                    due[day.month, day.day] = day
                    if (day.month, day.day) == (2, 28) and not _leap(day.year):
                        due[2, 29] = day
            self._zones[name] = (zone, due)
        return self._zones[name]


def date_entries(
    trigger: dict, since: datetime, until: datetime, contacts: QuerySet[Contact]
) -> Iterator[Entry]:
    """Anniversaries of a date attribute at a local hour, in each contact's time zone.

    One indexed query: the attribute is one of the few dates (every past year of the
    month-days local somewhere in the interval) or, for a moment such as created_at, in
    one of the few ranges around them; the contact's own zone decides in Python.
    """
    attribute, hour = trigger["attribute"], trigger.get("hour", 9)
    near = _near_days(since, until)
    month_days = {(day.month, day.day) for day in near}
    if (2, 28) in month_days:
        month_days.add((2, 29))
    oldest = Contact.objects.aggregate(oldest=Min(attribute))["oldest"]
    if oldest is None:
        return
    years = range(max(oldest.year, until.year - 150), until.year + 1)
    if len(month_days) > 31:  # a catch-up of more than a month: most of the base is due
        rows = contacts.filter(**{f"{attribute}__isnull": False})
    elif attribute in DATETIME_ATTRIBUTES:
        spans = Q()
        for year in years:
            for month, day in month_days:
                if (month, day) == (2, 29) and not _leap(year):
                    continue
                start = datetime.combine(date(year, month, day), time(), tzinfo=UTC)
                spans |= Q(**{f"{attribute}__gte": start - timedelta(hours=14)}) & Q(
                    **{f"{attribute}__lt": start + timedelta(hours=38)}
                )
        rows = contacts.filter(spans)
    else:
        values = [
            date(year, month, day)
            for year in years
            for month, day in month_days
            if (month, day) != (2, 29) or _leap(year)
        ]
        rows = contacts.filter(**{f"{attribute}__in": values})
    anniversaries = _Anniversaries(since, until, hour)
    for contact_id, zone_name, value in rows.values_list("pk", "time_zone", attribute).iterator(
        chunk_size=5000
    ):
        zone, due = anniversaries.zone(zone_name)
        start = value.astimezone(zone).date() if isinstance(value, datetime) else value
        day = due.get((start.month, start.day))
        if day is None or start.year >= day.year:  # no anniversary in the year it happened
            continue
        yield Entry(contact_id, str(day.year), _instant(day, hour, zone))


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def calendar_entries(
    trigger: dict, since: datetime, until: datetime, contacts: QuerySet[Contact]
) -> Iterator[Entry]:
    """Everyone, on a calendar date at a local hour in their own time zone. Outside the
    day or so around the date nothing is read at all."""
    rule, hour = str(trigger["rule"]), trigger.get("hour", 9)
    near = _near_days(since, until)
    dates = {calendar_date(rule, year) for year in {day.year for day in near}}
    if not dates & set(near):
        return
    entered: dict[str, tuple[date, datetime] | None] = {}
    rows = contacts.values_list("pk", "time_zone").iterator(chunk_size=5000)
    for contact_id, zone_name in rows:
        if zone_name not in entered:
            entered[zone_name] = None
            zone = ZoneInfo(zone_name)
            for year in range(since.astimezone(zone).year, until.astimezone(zone).year + 1):
                day = calendar_date(rule, year)
                if since < _instant(day, hour, zone) <= until:
                    entered[zone_name] = (day, _instant(day, hour, zone))
        if (found := entered[zone_name]) is not None:
            yield Entry(contact_id, found[0].isoformat(), found[1])


def inactivity_last(
    trigger: dict, since: datetime, until: datetime, who: Q
) -> tuple[QuerySet[Any], str, list[Any]]:
    """Contacts whose last event of the chosen kinds is exactly `days` old in (since,
    until]: the query of each one's last event in the window that reaches `days` of
    silence now (`contact_id`, `last`), and the condition over it, as `s`, that no later
    such event exists up to `until` (SQL and params). The tick enrolls what passes
    without reading it out (entered = last + days).

    The window is read through the (name, occurred_at) index; the condition looks once
    per contact, in contact order, into the (contact, name, occurred_at) index:
    proportional to the window, not the history. (Looking once per event of the window,
    in time order, read the same index pages again and again: 1.5x slower.)
    """
    silence = timedelta(days=trigger["days"])
    kinds = list(trigger["events"])
    last = (
        Event.objects.filter(
            who, name__in=kinds, occurred_at__gt=since - silence, occurred_at__lte=until - silence
        )
        .values("contact_id")
        .annotate(last=Max("occurred_at"))
        .order_by("contact_id")
    )
    table = connection.ops.quote_name(Event._meta.db_table)
    later = (
        f"NOT EXISTS (SELECT 1 FROM {table} later WHERE later.contact_id = s.contact_id "
        f"AND later.name IN ({', '.join(['%s'] * len(kinds))}) "
        "AND later.occurred_at > s.last AND later.occurred_at <= %s)"
    )
    return last, later, [*kinds, db_datetime_adapter()(until)]


def attribute_entries(until: datetime, contacts: QuerySet[Contact]) -> Iterator[Entry]:
    """Everyone matching the audience who is not in the régua (re-entry decides who is)."""
    rows = contacts.values_list("pk", flat=True)
    occurrence = f"a{until:%Y%m%d}"
    for contact_id in rows.iterator(chunk_size=5000):
        yield Entry(contact_id, occurrence, until)

"""Who enters a régua between two instants: one query per trigger (and time zone).

Each function returns candidate entries (contact id, occurrence, entered_at, event id)
for the interval (since, until]; the tick filters them by the audience and the re-entry
policy in the same query and inserts them under the unique key (cadence, contact,
occurrence), so looking at an instant twice enrolls nobody twice.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import ExtractDay, ExtractMonth

from regua.customers.models import Contact
from regua.events.models import Event
from regua.lib import dates_br

# Events reach us late (a shop's batch, a retried call): an event trigger looks this far
# behind its watermark. Later than that, an event is history and starts nothing.
EVENT_LATENESS = timedelta(hours=1)

CALENDAR_RULES = {
    "mothers_day": dates_br.mothers_day,
    "fathers_day": dates_br.fathers_day,
    "customer_day": dates_br.customer_day,
    "black_friday": dates_br.black_friday,
    "christmas": dates_br.christmas,
    "valentines_day": dates_br.valentines_day,
    "childrens_day": dates_br.childrens_day,
}
DATE_ATTRIBUTES = {"birth_date", "created_at"}


@dataclass(frozen=True)
class Entry:
    contact_id: int
    occurrence: str
    entered_at: datetime
    event_id: int | None = None


def calendar_date(rule: str, year: int) -> date:
    """The date a calendar rule names in a year: a named Brazilian date or "MM-DD"."""
    if rule in CALENDAR_RULES:
        return CALENDAR_RULES[rule](year)
    month, day = (int(part) for part in rule.split("-"))
    return date(year, month, day)


def check_trigger(trigger: object) -> list[str]:
    """The problems in a trigger definition (empty when it is usable)."""
    if not isinstance(trigger, dict):
        return ["the trigger must be a mapping with a kind"]
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
        return [f"unknown trigger kind {kind!r}: use one of {', '.join(allowed)}"]
    problems = [
        f"trigger {kind}: unknown option {key!r}"
        for key in sorted(trigger.keys() - allowed[kind] - {"kind"})
    ]
    if kind == "event":
        if not isinstance(trigger.get("event"), str) or not trigger["event"]:
            problems.append("trigger event: name the event")
        if not isinstance(trigger.get("where", {}), dict):
            problems.append("trigger event: where must map property names to values")
    if kind in {"date", "calendar"}:
        hour = trigger.get("hour", 9)
        if not isinstance(hour, int) or not 0 <= hour <= 23:
            problems.append(f"trigger {kind}: hour must be 0–23")
    if kind == "date" and trigger.get("attribute") not in DATE_ATTRIBUTES:
        problems.append("trigger date: attribute must be birth_date or created_at")
    if kind == "calendar":
        rule = str(trigger.get("rule", ""))
        try:
            calendar_date(rule, 2024)
        except (ValueError, TypeError):
            problems.append(
                f"trigger calendar: {rule!r} is neither a named date "
                f"({', '.join(CALENDAR_RULES)}) nor MM-DD"
            )
    if kind == "inactivity":
        days = trigger.get("days")
        if not isinstance(days, int) or days < 1:
            problems.append("trigger inactivity: days must be a whole number ≥ 1")
        events = trigger.get("events")
        if (
            not isinstance(events, list)
            or not events
            or not all(isinstance(e, str) for e in events)
        ):
            problems.append("trigger inactivity: events must list the event names that count")
    return problems


def event_entries(trigger: dict, since: datetime, until: datetime, who: Q) -> Iterator[Entry]:
    """`who` filters the events by their contact (OuterRef("contact_id")): audience, re-entry."""
    events = Event.objects.filter(
        name=trigger["event"], occurred_at__gt=since - EVENT_LATENESS, occurred_at__lte=until
    )
    for key, value in (trigger.get("where") or {}).items():
        events = events.filter(**{f"properties__{key}": value})
    rows = events.filter(who).order_by().values_list("contact_id", "id", "occurred_at")
    for contact_id, event_id, occurred_at in rows.iterator(chunk_size=5000):
        yield Entry(contact_id, f"e{event_id}", occurred_at, event_id)


def _local_days(since: datetime, until: datetime, zone: ZoneInfo) -> Iterator[date]:
    day = since.astimezone(zone).date()
    last = until.astimezone(zone).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def _instant(day: date, hour: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=zone)


def _zones(contacts: QuerySet[Contact]) -> list[str]:
    return list(contacts.order_by().values_list("time_zone", flat=True).distinct())


def date_entries(
    trigger: dict, since: datetime, until: datetime, contacts: QuerySet[Contact]
) -> Iterator[Entry]:
    """Anniversaries of a date attribute at a local hour, in each contact's time zone.

    Born on 29 February: celebrated on 28 February in common years.
    """
    attribute, hour = trigger["attribute"], trigger.get("hour", 9)
    for zone_name in _zones(contacts):
        zone = ZoneInfo(zone_name)
        due: dict[int, date] = {}  # month*100+day → the local day it is celebrated
        for day in _local_days(since, until, zone):
            if since < _instant(day, hour, zone) <= until:
                due[day.month * 100 + day.day] = day
                if (day.month, day.day) == (2, 28) and not _leap(day.year):
                    due[229] = day
        if not due:
            continue
        rows = (
            contacts.filter(time_zone=zone_name, **{f"{attribute}__isnull": False})
            .annotate(
                md=ExtractMonth(attribute) * 100 + ExtractDay(attribute),
            )
            .filter(md__in=list(due))
            .values_list("pk", "md", attribute)
        )
        for contact_id, md, value in rows.iterator(chunk_size=5000):
            day = due[md]
            start = value.date() if isinstance(value, datetime) else value
            if start.year >= day.year:  # no anniversary in the year it happened
                continue
            yield Entry(contact_id, str(day.year), _instant(day, hour, zone))


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def calendar_entries(
    trigger: dict, since: datetime, until: datetime, contacts: QuerySet[Contact]
) -> Iterator[Entry]:
    rule, hour = str(trigger["rule"]), trigger.get("hour", 9)
    for zone_name in _zones(contacts):
        zone = ZoneInfo(zone_name)
        years = range(since.astimezone(zone).year, until.astimezone(zone).year + 1)
        for year in years:
            day = calendar_date(rule, year)
            entered = _instant(day, hour, zone)
            if not since < entered <= until:
                continue
            rows = contacts.filter(time_zone=zone_name).values_list("pk", flat=True)
            for contact_id in rows.iterator(chunk_size=5000):
                yield Entry(contact_id, day.isoformat(), entered)


def inactivity_entries(trigger: dict, since: datetime, until: datetime, who: Q) -> Iterator[Entry]:
    """Contacts whose last event of the chosen kinds is exactly `days` old in (since, until].

    Driven from the events in the window that reaches `days` of silence now (the
    (name, occurred_at) index) and kept only when no later such event exists (the
    (contact, name, occurred_at) index): proportional to the window, not the history.
    """
    silence = timedelta(days=trigger["days"])
    kinds = trigger["events"]
    later = Event.objects.filter(
        contact_id=OuterRef("contact_id"),
        name__in=kinds,
        occurred_at__gt=OuterRef("occurred_at"),
        occurred_at__lte=until,
    )
    events = Event.objects.filter(
        name__in=kinds, occurred_at__gt=since - silence, occurred_at__lte=until - silence
    ).filter(~Exists(later), who)
    last: dict[int, datetime] = {}
    rows = events.order_by().values_list("contact_id", "occurred_at")
    for contact_id, occurred_at in rows.iterator(chunk_size=5000):
        if contact_id not in last or occurred_at > last[contact_id]:
            last[contact_id] = occurred_at
    for contact_id, occurred_at in last.items():
        entered = occurred_at + silence
        yield Entry(contact_id, f"i{entered:%Y%m%d%H%M}", entered)


def attribute_entries(until: datetime, contacts: QuerySet[Contact]) -> Iterator[Entry]:
    """Everyone matching the audience who is not in the régua (re-entry decides who is)."""
    rows = contacts.values_list("pk", flat=True)
    occurrence = f"a{until:%Y%m%d}"
    for contact_id in rows.iterator(chunk_size=5000):
        yield Entry(contact_id, occurrence, until)

"""SLA clocks: which policy a ticket falls under, and when its answers are due.

Due times are business time over the policy's calendar (regua/lib/business_time.py):
due = the instant at which the business time since opening, pauses left out, reaches
the target. Pausing (waiting on the customer) adds the paused business time to the
target, so the due times move exactly as far as the clock stood still.
"""

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from regua.lib.business_time import Calendar, brazil_closed_dates, business_add, business_between

from .models import WEEKDAYS, BusinessCalendar, SlaPolicy, Ticket

if TYPE_CHECKING:
    from regua.customers.models import Contact

# Holidays are loaded for this many years around the clock's instants.
YEARS_AROUND = 2


def calendar_problem(calendar: BusinessCalendar) -> str:
    """What is wrong with a calendar's hours or time zone, or ""."""
    try:
        _build(calendar.time_zone, _hours_tuple(calendar.hours), frozenset())
    except (ValueError, TypeError, KeyError) as error:
        return str(error)
    if not any(str(calendar.hours.get(day, "")).strip() for day in WEEKDAYS):
        return _("The calendar needs working hours on at least one day.")
    return ""


def subdivision_problem(calendar: BusinessCalendar) -> str:
    """What is wrong with the calendar's state, or "": checked when it is saved, since
    an unknown state would stop every ticket's clock from being computed."""
    if not (calendar.national_holidays and calendar.subdivision):
        return ""
    try:
        brazil_closed_dates([2000], calendar.subdivision)
    except ValueError as error:
        return str(error)
    return ""


def _hours_tuple(hours: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(hours, dict):
        raise ValueError(_("Working hours must name each weekday (mon … sun)."))
    unknown = set(hours) - set(WEEKDAYS)
    if unknown:
        raise ValueError(
            _("Unknown weekday: %(days)s (use mon … sun).") % {"days": ", ".join(sorted(unknown))}
        )
    return tuple((day, str(hours.get(day) or "")) for day in WEEKDAYS)


def _build(time_zone: str, hours: tuple[tuple[str, str], ...], closed: frozenset) -> Calendar:
    return Calendar.from_text(time_zone, dict(hours), closed)


@functools.lru_cache(maxsize=64)
def _calendar(
    pk: int,
    version: datetime,
    time_zone: str,
    hours: tuple[tuple[str, str], ...],
    national: bool,
    subdivision: str,
    extra: tuple,
    first_year: int,
) -> Calendar:
    years = range(first_year, first_year + 2 * YEARS_AROUND + 1)
    closed = (
        brazil_closed_dates(years, subdivision or None, extra) if national else frozenset(extra)
    )
    return _build(time_zone, hours, closed)


def calendar_of(calendar: BusinessCalendar, around: datetime) -> Calendar:
    """The calendar as business-time arithmetic takes it, cached until it is edited."""
    extra = tuple(sorted(calendar.closed_days.values_list("day", flat=True)))
    return _calendar(
        calendar.pk,
        calendar.updated_at,
        calendar.time_zone,
        _hours_tuple(calendar.hours),
        calendar.national_holidays,
        calendar.subdivision,
        extra,
        around.year - YEARS_AROUND,
    )


def policy_for(kind: str, priority: int, contact: "Contact | None") -> SlaPolicy | None:
    """The first active policy, by position, whose conditions the ticket meets."""
    for policy in SlaPolicy.objects.filter(active=True).select_related("calendar", "segment"):
        if policy.kind and policy.kind != kind:
            continue
        if policy.priority and policy.priority != priority:
            continue
        if policy.segment is not None and (
            contact is None or not policy.segment.members().filter(pk=contact.pk).exists()
        ):
            continue
        return policy
    return None


@dataclass(frozen=True)
class Clocks:
    first_response_due: datetime
    resolution_due: datetime | None
    warn_at: datetime


def clocks(policy: SlaPolicy, calendar: Calendar, opened_at: datetime, paused: timedelta) -> Clocks:
    """The due instants of a ticket opened at `opened_at` whose clock stood still for
    `paused` business time so far; warn_at is `warn_before` business minutes earlier."""
    first = timedelta(minutes=policy.first_response_minutes)
    warn = max(first - timedelta(minutes=policy.warn_before_minutes), timedelta(0))
    resolution = (
        business_add(calendar, opened_at, timedelta(minutes=policy.resolution_minutes) + paused)
        if policy.resolution_minutes
        else None
    )
    return Clocks(
        first_response_due=business_add(calendar, opened_at, first + paused),
        resolution_due=resolution,
        warn_at=business_add(calendar, opened_at, warn + paused),
    )


def resolution_warn_at(
    policy: SlaPolicy, calendar: Calendar, opened_at: datetime, paused: timedelta
) -> datetime | None:
    if not policy.resolution_minutes:
        return None
    target = timedelta(minutes=policy.resolution_minutes - policy.warn_before_minutes)
    return business_add(calendar, opened_at, max(target, timedelta(0)) + paused)


def elapsed(ticket: Ticket, calendar: Calendar, until: datetime) -> timedelta:
    """Business time the ticket's clock has run from opening to `until`."""
    return max(business_between(calendar, ticket.created_at, until) - ticket.paused, timedelta(0))


def remaining(ticket: Ticket, calendar: Calendar, now: datetime) -> timedelta | None:
    """Business time left before the current deadline (negative once it has passed)."""
    if ticket.due_at is None:
        return None
    if ticket.due_at >= now:
        return business_between(calendar, now, ticket.due_at)
    return -business_between(calendar, ticket.due_at, now)

from datetime import datetime, timedelta

from django import template

from regua.desk import selectors
from regua.desk.models import Ticket

register = template.Library()


@register.filter
def business_hours(value: timedelta | None) -> str:
    """A business-time span as "3 h 05 min" (negative: overdue by)."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    sign = "−" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours} h {rest:02d} min" if hours else f"{sign}{rest} min"


@register.filter
def minutes_hours(value: float | None) -> str:
    if value is None:
        return "—"
    return business_hours(timedelta(minutes=value))


@register.filter
def sla_state(ticket: Ticket, now: datetime) -> str:
    return selectors.sla_state(ticket, now)

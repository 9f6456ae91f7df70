"""When a step falls due for an enrollment: entry + offset, moved to the reschedule
moment if an edit made it earlier, then into the step's daily send window in the
contact's own time zone.

The tick computes it inside INSERT ... SELECT, so the rows never come out of the
database: PostgreSQL in SQL (interval arithmetic and AT TIME ZONE), SQLite through a
deterministic function registered on each connection (SQLite has no time zone data).
Both give what `due()` gives in Python; the tests hold them to it.
"""

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from .offsets import Offset

SQL_UNITS = {"min": "minutes", "h": "hours", "d": "days", "mo": "months"}


def into_window(moment: datetime, zone: ZoneInfo, window: tuple[time, time]) -> datetime:
    """The first instant at or after `moment` inside the daily window (contact's local time)."""
    start, end = window
    local = moment.astimezone(zone)
    clock = local.time()
    if start <= end:
        if start <= clock < end:
            return moment
        day = local.date() if clock < start else local.date() + timedelta(days=1)
    else:  # a window across midnight, e.g. 22:00–02:00
        if clock >= start or clock < end:
            return moment
        day = local.date()
    return datetime.combine(day, start, tzinfo=zone)


def due(
    entered_at: datetime,
    offset: Offset,
    *,
    rescheduled_at: datetime | None = None,
    zone: ZoneInfo | None = None,
    window: tuple[time, time] | None = None,
) -> datetime:
    moment = offset.after(entered_at)
    if rescheduled_at is not None and moment < rescheduled_at:
        moment = rescheduled_at
    if window and zone is not None:
        moment = into_window(moment, zone, window)
    return moment


def due_sql(
    vendor: str,
    offset: Offset,
    rescheduled_at: datetime | None,
    window: tuple[time, time] | None,
    entered: str = "s.entered_at",
    zone: str = "s.zone",
) -> str:
    """due() as an SQL expression over the columns `entered` and `zone`.

    Everything inlined is typed (an offset, times, a datetime), never user text."""
    if vendor == "sqlite":
        args = [
            entered,
            str(offset.amount),
            f"'{offset.unit}'",
            f"'{_naive_utc(rescheduled_at)}'" if rescheduled_at else "NULL",
            zone if window else "NULL",
            f"'{window[0].isoformat()}'" if window else "NULL",
            f"'{window[1].isoformat()}'" if window else "NULL",
        ]
        return f"regua_due({', '.join(args)})"
    moment = f"({entered} + INTERVAL '{offset.amount} {SQL_UNITS[offset.unit]}')"
    if rescheduled_at:
        moment = f"GREATEST({moment}, TIMESTAMPTZ '{rescheduled_at.isoformat()}')"
    if not window:
        return moment
    start, end = (f"TIME '{t.isoformat()}'" for t in window)
    local = f"({moment} AT TIME ZONE {zone})"
    clock = f"{local}::time"
    if window[0] <= window[1]:
        inside = f"{clock} >= {start} AND {clock} < {end}"
        day = f"({local}::date + CASE WHEN {clock} < {start} THEN 0 ELSE 1 END)"
    else:
        inside = f"{clock} >= {start} OR {clock} < {end}"
        day = f"{local}::date"
    return f"CASE WHEN {inside} THEN {moment} ELSE ({day} + {start}) AT TIME ZONE {zone} END"


def _naive_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ")


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=64)
def _window(start: str, end: str) -> tuple[time, time]:
    return time.fromisoformat(start), time.fromisoformat(end)


@lru_cache(maxsize=64)
def _delta(amount: int, unit: str) -> Any:
    return Offset(amount, unit)._delta()


def _sqlite_due(
    entered: str,
    amount: int,
    unit: str,
    rescheduled: str | None,
    zone: str | None,
    start: str | None,
    end: str | None,
) -> str:
    """due() over SQLite's naive UTC text, once per row of the tick's INSERT: the offset
    and the reschedule in naive UTC (the same arithmetic, UTC having no daylight saving
    time), the contact's zone only for a send window."""
    moment = datetime.fromisoformat(entered) + _delta(amount, unit)
    if rescheduled:
        moment = max(moment, datetime.fromisoformat(rescheduled))
    if zone and start and end:
        instant = moment.replace(tzinfo=UTC)
        inside = into_window(instant, _zone(zone), _window(start, end))
        if inside is not instant:
            return _naive_utc(inside)
    return moment.isoformat(" ")


def register_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    """connection_created: give SQLite the due() function the tick's SQL calls."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("regua_due", 7, _sqlite_due, deterministic=True)

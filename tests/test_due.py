"""The due moment the tick computes in SQL (PostgreSQL's SQL, SQLite's registered
function) is the one Python computes: entry + offset, the reschedule moment, the send
window in the contact's time zone, across midnight and month ends."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regua.cadences.due import due, due_sql
from regua.cadences.offsets import Offset
from regua.lib.bulk import db_datetime_adapter

pytestmark = pytest.mark.django_db

ZONES = ["America/Sao_Paulo", "America/Manaus", "America/Rio_Branco", "America/Noronha", "UTC"]
OFFSETS = st.builds(Offset, st.integers(0, 400), st.sampled_from(["min", "h", "d"])) | st.builds(
    Offset, st.integers(0, 12), st.just("mo")
)
MOMENTS = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
CLOCK = st.times().map(lambda t: t.replace(second=0, microsecond=0))
WINDOWS = st.none() | st.tuples(CLOCK, CLOCK).filter(lambda w: w[0] != w[1])


def sql_due(
    entered: datetime,
    offset: Offset,
    rescheduled: datetime | None,
    window: tuple[time, time] | None,
    zone: str,
) -> datetime:
    expression = due_sql(connection.vendor, offset, rescheduled, window)
    if connection.vendor == "sqlite":
        source = "SELECT %s AS entered_at, %s AS zone"
        params = [db_datetime_adapter()(entered), zone]
    else:
        source = "SELECT CAST(%s AS timestamptz) AS entered_at, CAST(%s AS text) AS zone"
        params = [entered, zone]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {expression} FROM ({source}) AS s", params)
        value = cursor.fetchone()[0]
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    entered=MOMENTS,
    offset=OFFSETS,
    window=WINDOWS,
    zone=st.sampled_from(ZONES),
    rescheduled=st.none() | MOMENTS,
)
def test_sql_and_python_agree_on_the_due_moment(
    entered: datetime,
    offset: Offset,
    window: tuple[time, time] | None,
    zone: str,
    rescheduled: datetime | None,
) -> None:
    expected = due(entered, offset, rescheduled_at=rescheduled, zone=ZoneInfo(zone), window=window)
    assert sql_due(entered, offset, rescheduled, window, zone) == expected


def test_month_offsets_end_on_the_last_day_of_a_shorter_month() -> None:
    entered = datetime(2026, 1, 31, 15, 0, tzinfo=UTC)
    assert sql_due(entered, Offset(1, "mo"), None, None, "UTC") == datetime(
        2026, 2, 28, 15, 0, tzinfo=UTC
    )


def test_a_window_moves_the_moment_to_the_next_local_morning() -> None:
    # 23:30 in São Paulo (02:30 UTC) with a 09:00–20:00 window: 09:00 São Paulo next day.
    entered = datetime(2026, 3, 3, 2, 30, tzinfo=UTC)
    window = (time(9), time(20))
    assert sql_due(entered, Offset(0), None, window, "America/Sao_Paulo") == datetime(
        2026, 3, 3, 12, 0, tzinfo=UTC
    )

"""Business time for SLA clocks: due times over working hours, holidays and time zones.

The examples use the desk's default calendar (São Paulo, 08:00-12:00 and 13:30-18:00 on
weekdays); the properties compare business_add and business_between with a count made
minute by minute from the definition, over random calendars in zones with and without
daylight saving time.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from regua.lib.business_time import (
    Calendar,
    brazil_closed_dates,
    business_add,
    business_between,
    is_open,
)

SP = ZoneInfo("America/Sao_Paulo")
MINUTE = timedelta(minutes=1)
MICROSECOND = timedelta(microseconds=1)
WEEKDAY = "08:00-12:00, 13:30-18:00"
DESK_HOURS = dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), WEEKDAY) | {"sat": "", "sun": ""}


def desk_calendar(*years: int, extra: tuple[date, ...] = ()) -> Calendar:
    return Calendar.from_text(
        "America/Sao_Paulo", DESK_HOURS, brazil_closed_dates(years, None, extra)
    )


def sp(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SP)


def every_day(*spans: tuple[int, int]) -> tuple[tuple[tuple[int, int], ...], ...]:
    return (spans,) * 7


def only_weekdays(*spans: tuple[int, int]) -> tuple[tuple[tuple[int, int], ...], ...]:
    return (spans,) * 5 + ((), ())


def only_on(weekday: int, *spans: tuple[int, int]) -> tuple[tuple[tuple[int, int], ...], ...]:
    return tuple(spans if day == weekday else () for day in range(7))


# The desk's calendar.


def test_it_carries_the_clock_over_the_night() -> None:
    cal = desk_calendar(2026)
    assert business_add(cal, sp(2026, 3, 9, 17), timedelta(hours=2)) == sp(2026, 3, 10, 9)


def test_it_carries_the_clock_over_the_weekend() -> None:
    cal = desk_calendar(2026)
    assert business_add(cal, sp(2026, 3, 13, 17), timedelta(hours=2)) == sp(2026, 3, 16, 9)


def test_the_lunch_break_does_not_count() -> None:
    cal = desk_calendar(2026)
    assert business_add(cal, sp(2026, 3, 9, 11), timedelta(hours=2)) == sp(2026, 3, 9, 14, 30)
    assert business_between(cal, sp(2026, 3, 9, 11), sp(2026, 3, 9, 14)) == timedelta(hours=1.5)


def test_ten_business_hours_take_the_next_morning() -> None:
    cal = desk_calendar(2026)
    # 8.5 hours on Monday from 08:00, then 1.5 on Tuesday.
    assert business_add(cal, sp(2026, 3, 9, 8), timedelta(hours=10)) == sp(2026, 3, 10, 9, 30)


def test_black_awareness_day_is_closed() -> None:
    # given Friday 20 November 2026, a national holiday since 2024
    cal = desk_calendar(2026)
    assert date(2026, 11, 20) in cal.closed
    # when a ticket opens late on Thursday
    due = business_add(cal, sp(2026, 11, 19, 17), timedelta(hours=2))
    # then the clock resumes on Monday
    assert due == sp(2026, 11, 23, 9)
    assert not is_open(cal, sp(2026, 11, 20, 10))


def test_carnival_is_not_a_national_holiday_unless_the_team_closes() -> None:
    carnival = (date(2026, 2, 16), date(2026, 2, 17))
    assert not set(carnival) & brazil_closed_dates([2026])
    assert is_open(desk_calendar(2026), sp(2026, 2, 16, 10))

    cal = desk_calendar(2026, extra=carnival)
    assert business_add(cal, sp(2026, 2, 13, 17), timedelta(hours=2)) == sp(2026, 2, 18, 9)


def test_a_state_adds_its_own_holidays() -> None:
    assert date(2026, 7, 9) in brazil_closed_dates([2026], "SP")
    assert date(2026, 7, 9) not in brazil_closed_dates([2026])
    with pytest.raises(ValueError, match="XX"):
        brazil_closed_dates([2026], "XX")


def test_a_start_outside_hours_waits_for_the_opening() -> None:
    cal = desk_calendar(2026)
    assert business_add(cal, sp(2026, 3, 8, 15), timedelta(minutes=30)) == sp(2026, 3, 9, 8, 30)
    assert business_add(cal, sp(2026, 3, 9, 6), timedelta(minutes=30)) == sp(2026, 3, 9, 8, 30)
    assert business_add(cal, sp(2026, 3, 9, 12, 10), timedelta(minutes=1)) == sp(2026, 3, 9, 13, 31)


def test_a_start_at_the_close_counts_from_the_next_opening() -> None:
    cal = desk_calendar(2026)
    closing = sp(2026, 3, 9, 18)
    assert not is_open(cal, closing)
    assert is_open(cal, closing - MICROSECOND)
    assert business_add(cal, closing, MICROSECOND) == sp(2026, 3, 10, 8) + MICROSECOND


def test_a_target_met_at_the_close_is_due_at_the_close() -> None:
    # The earliest instant with the full target counted, not the next morning.
    cal = desk_calendar(2026)
    assert business_add(cal, sp(2026, 3, 9, 8), timedelta(hours=8.5)) == sp(2026, 3, 9, 18)


def test_the_clock_crosses_the_new_year() -> None:
    # Thursday 31 December 2026, then New Year's Day (a Friday) and the weekend.
    cal = desk_calendar(2026, 2027)
    due = business_add(cal, sp(2026, 12, 31, 17), timedelta(hours=2))
    assert due == sp(2027, 1, 4, 9)
    assert business_between(cal, sp(2026, 12, 31, 17), due) == timedelta(hours=2)


def test_a_long_target_skips_a_closed_month() -> None:
    # given 8 hours a weekday in UTC and July 2026 closed
    july = [date(2026, 7, 1) + timedelta(days=n) for n in range(31)]
    cal = Calendar(ZoneInfo("UTC"), only_weekdays((540, 1020)), frozenset(july))
    # when 400 hours (50 days) start on Monday 1 June: 22 days in June, 21 in August
    due = business_add(cal, datetime(2026, 6, 1, 9, tzinfo=UTC), timedelta(hours=400))
    # then the last 7 days are 1-9 September
    assert due == datetime(2026, 9, 9, 17, tzinfo=UTC)


def test_a_target_of_exactly_a_week_is_due_at_fridays_close() -> None:
    cal = desk_calendar(2026)
    assert business_add(cal, sp(2026, 3, 8, 12), timedelta(hours=42.5)) == sp(2026, 3, 13, 18)


def test_a_closed_sunday_counts_in_a_week_open_every_day() -> None:
    # given 8 hours every day and Sunday 15 March 2026 closed: 48 hours that week
    cal = Calendar(ZoneInfo("UTC"), every_day((540, 1020)), frozenset([date(2026, 3, 15)]))
    sunday_before = datetime(2026, 3, 8, 18, tzinfo=UTC)
    # when 60 hours start the Sunday before: 48 that week, 8 on Monday 16, 4 on Tuesday
    due = business_add(cal, sunday_before, timedelta(hours=60))
    assert due == datetime(2026, 3, 17, 13, tzinfo=UTC)


def test_due_times_are_in_utc() -> None:
    cal = desk_calendar(2026)
    due = business_add(cal, sp(2026, 3, 9, 8), timedelta(hours=1))
    assert due.tzinfo is UTC
    assert due == datetime(2026, 3, 9, 12, tzinfo=UTC)
    assert business_add(cal, sp(2026, 3, 9, 3), timedelta(0)) == sp(2026, 3, 9, 3)


def test_it_refuses_what_it_cannot_count() -> None:
    cal = desk_calendar(2026)
    with pytest.raises(ValueError, match="aware"):
        business_add(cal, datetime(2026, 3, 9, 8), timedelta(hours=1))
    with pytest.raises(ValueError, match="aware"):
        is_open(cal, datetime(2026, 3, 9, 8))
    with pytest.raises(ValueError, match="backwards"):
        business_add(cal, sp(2026, 3, 9, 8), -MINUTE)


def test_a_calendar_without_hours_never_reaches_a_target() -> None:
    cal = Calendar.from_text("America/Sao_Paulo", {})
    with pytest.raises(ValueError, match="no working hours"):
        business_add(cal, sp(2026, 3, 9, 8), MINUTE)
    assert business_add(cal, sp(2026, 3, 9, 8), timedelta(0)) == sp(2026, 3, 9, 8)
    assert business_between(cal, sp(2026, 1, 1), sp(2027, 1, 1)) == timedelta(0)


# Daylight saving time: the clock on the wall decides.


def test_the_hour_skipped_in_spring_does_not_count() -> None:
    # São Paulo jumped from 00:00 to 01:00 on Sunday 4 November 2018.
    cal = Calendar(SP, only_on(6, (0, 120)))
    day = (datetime(2018, 11, 3, 12, tzinfo=UTC), datetime(2018, 11, 5, 12, tzinfo=UTC))
    assert business_between(cal, *day) == timedelta(hours=1)
    due = business_add(cal, day[0], timedelta(minutes=30))
    assert due == datetime(2018, 11, 4, 1, 30, tzinfo=SP)


def test_the_hour_repeated_in_autumn_counts_twice() -> None:
    # São Paulo went back from 24:00 to 23:00 on Saturday 17 February 2018.
    cal = Calendar(SP, only_on(5, (1380, 1440)))
    saturday = datetime(2018, 2, 17, 12, tzinfo=UTC)
    assert business_between(cal, saturday, saturday + timedelta(days=1)) == timedelta(hours=2)
    due = business_add(cal, saturday, timedelta(minutes=90))
    assert due == datetime(2018, 2, 18, 2, 30, tzinfo=UTC)
    assert due.astimezone(SP).replace(tzinfo=None) == datetime(2018, 2, 17, 23, 30)
    assert is_open(cal, due)


def test_lisbon_loses_an_hour_in_march_and_gains_one_in_october() -> None:
    lisbon = ZoneInfo("Europe/Lisbon")
    cal = Calendar(lisbon, only_on(6, (30, 150)))
    march = datetime(2018, 3, 24, tzinfo=UTC)
    assert business_between(cal, march, march + timedelta(days=2)) == timedelta(hours=1)
    october = datetime(2018, 10, 27, tzinfo=UTC)
    assert business_between(cal, october, october + timedelta(days=2)) == timedelta(hours=3)


def test_a_fall_back_past_midnight_repeats_the_end_of_the_day_before() -> None:
    # given St. John's, which until 2011 went back from Sunday 00:01 to Saturday 23:01,
    # and a team that works late on Saturdays
    cal = Calendar(ZoneInfo("America/St_Johns"), only_on(5, (1380, 1440)))
    saturday = datetime(2008, 11, 1, 12, tzinfo=UTC)
    # then Saturday's last hour counts once, then a minute of Sunday passes, then its
    # last 59 minutes count again
    assert business_between(cal, saturday, saturday + timedelta(days=1)) == timedelta(minutes=119)
    due = business_add(cal, saturday, timedelta(minutes=90))
    assert due == datetime(2008, 11, 2, 3, 1, tzinfo=UTC)
    # and a ticket opened during the repeat (Saturday 23:29, after Sunday began once)
    repeat = datetime(2008, 11, 2, 3, tzinfo=UTC)
    assert business_add(cal, repeat, timedelta(minutes=30)) == datetime(
        2008, 11, 2, 3, 30, tzinfo=UTC
    )
    assert business_between(cal, repeat, repeat + timedelta(hours=1)) == timedelta(minutes=30)


def test_a_week_with_a_skipped_hour_is_an_hour_short() -> None:
    # given a team open 00:00-02:00 every day, 14 hours a week, and the week to Sunday
    # 4 November 2018, when São Paulo skipped 00:00-01:00
    cal = Calendar(SP, every_day((0, 120)))
    sunday_before = sp(2018, 10, 28, 12)
    assert business_between(cal, sunday_before, sp(2018, 11, 5)) == timedelta(hours=13)
    # when a 20-hour target runs through it: 13 hours that week, then 2 hours a day
    due = business_add(cal, sunday_before, timedelta(hours=20))
    # then it is due on Thursday
    assert due == sp(2018, 11, 8, 1)


# Calendars from text.


def test_it_reads_split_shifts_from_text() -> None:
    cal = Calendar.from_text(
        "America/Sao_Paulo", ["8:00 - 12:00,13:30-18:00", "", "", "", "", "", "09:00–24:00"]
    )
    assert cal.hours[0] == ((480, 720), (810, 1080))
    assert cal.hours[6] == ((540, 1440),)
    assert cal.tz == SP


@pytest.mark.parametrize(
    ("hours", "problem"),
    [
        ({"mon": "08:00-12:00, 11:00-13:00"}, "overlaps"),
        ({"mon": "25:00-26:00"}, "25:00 is not a time of day"),
        ({"mon": "08:60-09:00"}, "not a time of day"),
        ({"mon": "24:30-24:45"}, "not a time of day"),
        ({"mon": "12:00-08:00"}, "must end after it starts"),
        ({"mon": "08:00-08:00"}, "must end after it starts"),
        ({"mon": "8h-12h"}, "not a span of hours"),
        ({"segunda": "08:00-12:00"}, "Unknown weekday: segunda"),
        (["08:00-12:00"] * 5, "seven days"),
    ],
)
def test_it_refuses_hours_that_make_no_sense(hours: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Calendar.from_text("America/Sao_Paulo", hours)  # type: ignore[arg-type]


def test_it_refuses_an_unknown_time_zone() -> None:
    with pytest.raises(ValueError, match="Unknown time zone: America/Sao Paulo"):
        Calendar.from_text("America/Sao Paulo", DESK_HOURS)


def test_a_calendar_built_by_hand_is_checked_too() -> None:
    with pytest.raises(ValueError, match="seven days"):
        Calendar(SP, ((),))
    with pytest.raises(ValueError, match="pairs of minutes"):
        Calendar(SP, ((0, 60),) * 7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="overlaps"):
        Calendar(SP, every_day((0, 60), (30, 90)))
    with pytest.raises(ValueError, match="00:00-24:01 ends after midnight"):
        Calendar(SP, every_day((0, 1441)))
    with pytest.raises(ValueError, match="must end after it starts"):
        Calendar(SP, every_day((-30, 60)))
    with pytest.raises(ValueError, match="dates"):
        Calendar(SP, every_day((0, 60)), frozenset([datetime(2026, 1, 1)]))


# Properties over random calendars, closed dates and instants.

# Zones, each with dates around its offset changes (none for UTC and Manaus).
ZONES = {
    "UTC": [date(2026, 12, 28)],
    "America/Manaus": [date(2018, 11, 4), date(2026, 11, 20)],
    "America/Sao_Paulo": [date(2017, 10, 15), date(2018, 2, 17), date(2018, 11, 4)],
    "Europe/Lisbon": [date(2018, 3, 25), date(2018, 10, 28)],
    "America/St_Johns": [date(2008, 3, 9), date(2008, 11, 1)],
}
# Span bounds near midnight and the hours the zones above change their clocks.
BOUNDS = [0, 1, 30, 59, 60, 61, 90, 120, 150, 480, 720, 1380, 1381, 1410, 1439, 1440]
HORIZON = timedelta(days=6)


def in_pairs(bounds: list[int]) -> tuple[tuple[int, int], ...]:
    ordered = sorted(set(bounds))
    return tuple(zip(ordered[::2], ordered[1::2], strict=False))


# Strategies are built once: hypothesis spends most of its time on new ones.
DAY = st.lists(st.one_of(st.sampled_from(BOUNDS), st.integers(0, 1440)), max_size=4).map(in_pairs)
WEEK = st.tuples(*[DAY] * 7)
ANCHORS = st.sampled_from([(zone, day) for zone, days in ZONES.items() for day in days])
CLOSED = st.lists(st.integers(-6, 6), max_size=3)
FOUR_DAYS = st.integers(-4 * 1440, 4 * 1440)
WITHIN_A_MINUTE = st.integers(0, 59_999_999)


@st.composite
def situations(draw: st.DrawFn, *, exact: bool = False) -> tuple[Calendar, datetime]:
    """A random calendar and a start instant within four days of an offset change;
    `exact` keeps the start on a whole minute."""
    zone, anchor = draw(ANCHORS)
    closed = frozenset(anchor + timedelta(days=n) for n in draw(CLOSED))
    start = datetime.combine(anchor, time(12), UTC) + draw(FOUR_DAYS) * MINUTE
    if not exact:
        start += draw(WITHIN_A_MINUTE) * MICROSECOND
    return Calendar(ZoneInfo(zone), draw(WEEK), closed), start


def durations(most: timedelta) -> st.SearchStrategy[timedelta]:
    whole = st.integers(0, most // MINUTE).map(lambda minutes: minutes * MINUTE)
    exact = st.integers(0, most // MICROSECOND).map(lambda micro: micro * MICROSECOND)
    return st.one_of(whole, exact)


def reference_open(cal: Calendar, minute: datetime) -> bool:
    """Whether business time runs in the real minute starting at `minute`, read from the
    definition. The zones above change offset on whole minutes, and the spans start and
    end on them, so a minute is open or closed throughout."""
    local = minute.astimezone(cal.tz)
    since_midnight = local.hour * 60 + local.minute
    spans = cal.hours[local.weekday()]
    return local.date() not in cal.closed and any(s <= since_midnight < e for s, e in spans)


def reference_between(cal: Calendar, start: datetime, end: datetime) -> timedelta:
    total = timedelta(0)
    minute = start.replace(second=0, microsecond=0)
    while minute < end:
        if reference_open(cal, minute):
            total += min(end, minute + MINUTE) - max(start, minute)
        minute += MINUTE
    return total


def reference_add(cal: Calendar, start: datetime, delta: timedelta) -> datetime | None:
    """business_add counted minute by minute; None when beyond HORIZON."""
    if not delta:
        return start
    remaining, minute = delta, start.replace(second=0, microsecond=0)
    while minute < start + HORIZON:
        if reference_open(cal, minute):
            since = max(start, minute)
            if remaining <= minute + MINUTE - since:
                return since + remaining
            remaining -= minute + MINUTE - since
        minute += MINUTE
    return None


@settings(max_examples=60, deadline=None)
@given(situations(exact=True), durations(timedelta(hours=40)))
def test_business_add_agrees_with_a_minute_by_minute_count(
    situation: tuple[Calendar, datetime], delta: timedelta
) -> None:
    cal, start = situation
    assume(any(cal.hours))
    expected = reference_add(cal, start, delta)
    due = business_add(cal, start, delta)
    if expected is None:
        assert due > start + HORIZON
    else:
        assert due == expected


@settings(max_examples=60, deadline=None)
@given(situations(), durations(HORIZON))
def test_business_between_agrees_with_a_minute_by_minute_count(
    situation: tuple[Calendar, datetime], length: timedelta
) -> None:
    cal, start = situation
    assert business_between(cal, start, start + length) == reference_between(
        cal, start, start + length
    )


@settings(max_examples=80, deadline=None)
@given(situations(), durations(timedelta(hours=400)))
def test_business_between_measures_back_what_business_add_added(
    situation: tuple[Calendar, datetime], delta: timedelta
) -> None:
    cal, start = situation
    assume(any(cal.hours))
    due = business_add(cal, start, delta)
    assert business_between(cal, start, due) == delta
    # and no earlier instant has the target counted
    if delta:
        assert business_between(cal, start, due - MICROSECOND) < delta


@settings(max_examples=80, deadline=None)
@given(situations(), durations(timedelta(hours=100)), durations(timedelta(hours=100)))
def test_a_later_start_or_a_longer_target_is_never_due_earlier(
    situation: tuple[Calendar, datetime], delta: timedelta, later: timedelta
) -> None:
    cal, start = situation
    assume(any(cal.hours))
    due = business_add(cal, start, delta)
    assert start <= due <= business_add(cal, start, delta + later)
    assert due <= business_add(cal, start + later, delta)


@settings(max_examples=80, deadline=None)
@given(situations(), durations(timedelta(days=16)), durations(timedelta(days=16)))
def test_business_time_adds_up_over_consecutive_spans(
    situation: tuple[Calendar, datetime], first: timedelta, second: timedelta
) -> None:
    cal, a = situation
    b, c = a + first, a + first + second
    ab, bc = business_between(cal, a, b), business_between(cal, b, c)
    assert business_between(cal, a, c) == ab + bc
    assert timedelta(0) <= ab <= first
    assert business_between(cal, b, a) == timedelta(0)


@settings(max_examples=80, deadline=None)
@given(situations())
def test_is_open_says_whether_the_clock_runs(situation: tuple[Calendar, datetime]) -> None:
    cal, at = situation
    runs = business_between(cal, at, at + MICROSECOND) == MICROSECOND
    assert is_open(cal, at) == runs


@settings(max_examples=50)
@given(WEEK)
def test_hours_written_as_text_read_back_the_same(
    hours: tuple[tuple[tuple[int, int], ...], ...],
) -> None:
    def clock(minute: int) -> str:
        return f"{minute // 60:02d}:{minute % 60:02d}"

    texts = [", ".join(f"{clock(s)}-{clock(e)}" for s, e in day) for day in hours]
    assert Calendar.from_text("UTC", texts).hours == hours

"""Business days in Brazil: weekdays that are not national holidays.

The national holidays come from the `holidays` package (kept up to date by its
maintainers, including new ones such as Black Awareness Day since 2024). The service
desk's SLA calendar builds on this with working hours and custom dates.
"""

import functools
from datetime import date, timedelta

import holidays


@functools.cache
def _national(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("BR", years=year))


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _national(day.year)


def next_business_day(day: date) -> date:
    """The first business day after `day` (a detractor's call is due by then)."""
    following = day + timedelta(days=1)
    while not is_business_day(following):
        following += timedelta(days=1)
    return following

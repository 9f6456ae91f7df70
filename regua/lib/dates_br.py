"""Brazilian commemorative dates that drive seasonal sales and seasonal réguas."""

from datetime import date, timedelta


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th `weekday` (Monday=0) of a month: nth_weekday(2025, 5, 6, 2) = 2nd Sunday."""
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def mothers_day(year: int) -> date:
    """Dia das Mães: the second Sunday of May."""
    return nth_weekday(year, 5, 6, 2)


def valentines_day(year: int) -> date:
    """Dia dos Namorados: 12 June in Brazil."""
    return date(year, 6, 12)


def fathers_day(year: int) -> date:
    """Dia dos Pais: the second Sunday of August."""
    return nth_weekday(year, 8, 6, 2)


def customer_day(year: int) -> date:
    """Dia do Cliente: 15 September."""
    return date(year, 9, 15)


def childrens_day(year: int) -> date:
    """Dia das Crianças: 12 October."""
    return date(year, 10, 12)


def black_friday(year: int) -> date:
    """The Friday after the fourth Thursday of November."""
    return nth_weekday(year, 11, 3, 4) + timedelta(days=1)


def christmas(year: int) -> date:
    return date(year, 12, 25)

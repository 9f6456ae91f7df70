"""Parsers for the values found in Brazilian spreadsheets and shop exports.

Each parser takes what a CSV cell or a JSON field holds and returns a clean Python value,
or raises ValueError with a message fit to show the person who sent the data.
"""

import json
import re
from datetime import date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

_CURRENCY = re.compile(r"^\s*(?:R\$|BRL)?\s*", re.IGNORECASE)
_DATE_BR = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DATE_ISO_SLASH = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$")
_DATETIME_BR = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")
_THOUSANDS_ONLY = re.compile(r"[1-9]\d{0,2}\.\d{3}")
_TRUE = {"1", "true", "t", "yes", "y", "sim", "s", "x", "granted", "opt-in", "optin"}
_FALSE = {"0", "false", "f", "no", "n", "nao", "não", "denied", "opt-out", "optout"}


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def parse_decimal(value: Any) -> Decimal:
    """'1.234,56', '1234,56', '1,234.56', '1234.56', 'R$ 12,90' and numbers → Decimal.

    When both ',' and '.' appear, the last one is the decimal mark. A single ',' is a
    decimal comma; several are thousands separators. A single '.' followed by exactly three
    digits ('1.234') is a thousands separator, as Brazilian exports write it (money never
    has three decimals); other single dots are decimal points.
    """
    if isinstance(value, bool):
        raise ValueError(_("expected a number"))
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = _CURRENCY.sub("", str(value)).replace("\u00a0", "").replace(" ", "")
    sign = -1 if text.startswith("-") else 1
    text = text.removeprefix("-").removeprefix("+")
    commas, dots = text.count(","), text.count(".")
    if commas and dots:
        mark = "," if text.rfind(",") > text.rfind(".") else "."
    elif commas:
        mark = "," if commas == 1 else None
    elif dots == 1:
        mark = None if _THOUSANDS_ONLY.fullmatch(text) else "."
    else:
        mark = None
    integer, _sep, fraction = text.partition(mark) if mark else (text, "", "")
    separator = "." if mark == "," else ","
    if mark is None:
        separator = "," if commas else "."
    if separator in integer:
        if not re.fullmatch(rf"\d{{1,3}}(?:\{separator}\d{{3}})+", integer):
            raise ValueError(_("%(value)s is not a number") % {"value": value})
        integer = integer.replace(separator, "")
    if not (integer.isdigit() or (integer == "" and fraction)) or not (
        fraction == "" or fraction.isdigit()
    ):
        raise ValueError(_("%(value)s is not a number") % {"value": value})
    try:
        return sign * Decimal(f"{integer or '0'}.{fraction or '0'}")
    except InvalidOperation:
        raise ValueError(_("%(value)s is not a number") % {"value": value}) from None


def _checked_date(year: int, month: int, day: int, value: Any) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(_("%(value)s is not a valid date") % {"value": value}) from None


def parse_date(value: Any) -> date:
    """'31/12/1990', '31-12-1990', '1990-12-31' or a date → date. Day first, never US order."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if match := _DATE_BR.match(text):
        day, month, year = (int(part) for part in match.groups())
        return _checked_date(year, month, day, value)
    if match := _DATE_ISO.match(text) or _DATE_ISO_SLASH.match(text):
        year, month, day = (int(part) for part in match.groups())
        return _checked_date(year, month, day, value)
    if "T" in text or " " in text:
        return parse_datetime(text, ZoneInfo("UTC")).date()
    raise ValueError(_("%(value)s is not a date (use dd/mm/aaaa or aaaa-mm-dd)") % {"value": value})


def parse_datetime(value: Any, default_tz: tzinfo) -> datetime:
    """ISO 8601 (with or without offset), 'dd/mm/aaaa hh:mm[:ss]' or a date → aware datetime.

    A value without an offset is read in `default_tz` (the account's time zone).
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = _parse_br_datetime(text, value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed


def _parse_br_datetime(text: str, value: Any) -> datetime:
    if match := _DATETIME_BR.match(text):
        day, month, year, hour, minute = (int(part) for part in match.groups()[:5])
        second = int(match.group(6) or 0)
        try:
            return datetime(year, month, day, hour, minute, second)  # noqa: DTZ001
        except ValueError:
            pass
    elif _DATE_BR.match(text):
        return datetime.combine(parse_date(text), time())
    raise ValueError(
        _("%(value)s is not a date and time (use ISO 8601 or dd/mm/aaaa hh:mm)") % {"value": value}
    )


# A strict subset of what Django's EmailValidator accepts, checked first because it is
# several times cheaper; anything it does not match goes to Django's validator.
_SIMPLE_EMAIL = re.compile(
    r"[a-z0-9_%+\-]+(?:\.[a-z0-9_%+\-]+)*@(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)


def normalize_email(value: Any) -> str:
    """Trim and lower-case an address and check its form."""
    text = str(value).strip().lower()
    if len(text) <= 254 and _SIMPLE_EMAIL.fullmatch(text):
        return text
    try:
        validate_email(text)
    except ValidationError:
        raise ValueError(_("%(value)s is not a valid e-mail address") % {"value": value}) from None
    return text


# Brazil's area codes (DDD). A national number is DDD + 8 digits starting 2–5 (fixed
# line) or DDD + 9 digits starting with 9 (mobile): Anatel's numbering plan.
_BR_AREA_CODES = frozenset(
    "11 12 13 14 15 16 17 18 19 21 22 24 27 28 31 32 33 34 35 37 38 41 42 43 44 45 46 47 48 "  # noqa: SIM905
    "49 51 53 54 55 61 62 63 64 65 66 67 68 69 71 73 74 75 77 79 81 82 83 84 85 86 87 88 89 "
    "91 92 93 94 95 96 97 98 99".split()
)
_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")


def _brazilian_e164(text: str) -> str | None:
    """The E.164 form of a plainly written Brazilian number, or None to ask phonenumbers."""
    digits = _PHONE_PUNCTUATION.sub("", text)
    if digits.startswith("+55"):
        digits = digits[3:]
    elif digits.startswith("0") and len(digits) in (11, 12):
        digits = digits[1:]  # trunk prefix: 0 11 98765-4321
    if not (digits.isascii() and digits.isdigit()) or digits[:2] not in _BR_AREA_CODES:
        return None
    subscriber = digits[2:]
    if (len(subscriber) == 9 and subscriber[0] == "9") or (
        len(subscriber) == 8 and subscriber[0] in "2345"
    ):
        return "+55" + digits
    return None


def normalize_phone(value: Any, region: str = "BR") -> str:
    """A phone number in any usual writing → E.164 ('(11) 98765-4321' → '+5511987654321')."""
    text = str(value).strip()
    if region == "BR" and (fast := _brazilian_e164(text)):
        return fast
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValueError(_("%(value)s is not a phone number") % {"value": value}) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(_("%(value)s is not a valid phone number") % {"value": value})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(_("%(value)s is not yes or no") % {"value": value})


def parse_json_object(value: Any) -> dict[str, Any]:
    """A JSON object given as text (a CSV cell) or already decoded (an API body)."""
    if isinstance(value, dict):
        return value
    try:
        decoded = json.loads(str(value))
    except json.JSONDecodeError as exc:
        raise ValueError(_("invalid JSON: %(error)s") % {"error": exc.msg}) from None
    except (ValueError, RecursionError) as exc:
        # Valid JSON Python will not hold: an integer of more than 4,300 digits, arrays
        # nested thousands deep (found fuzzing the importers).
        raise ValueError(_("invalid JSON: %(error)s") % {"error": type(exc).__name__}) from None
    if not isinstance(decoded, dict):
        raise ValueError(_("expected a JSON object"))
    return decoded

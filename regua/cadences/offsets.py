"""A step's offset from entry: "0", "30min", "2h", "15d", "3mo" (calendar months)."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.utils.translation import gettext as _

UNITS = {"min": "minutes", "h": "hours", "d": "days", "mo": "months"}
PATTERN = re.compile(r"^\s*(\d{1,4})\s*(min|h|d|mo)?\s*$")
MAX_MINUTES = 2 * 366 * 24 * 60  # two years: longer than any journey we plan


@dataclass(frozen=True, order=True)
class Offset:
    amount: int
    unit: str = "min"  # one of UNITS

    @classmethod
    def parse(cls, text: str | int) -> "Offset":
        match = PATTERN.match(str(text))
        if not match:
            raise ValueError(
                _("%(text)r is not an offset: write 0, 30min, 2h, 15d or 3mo") % {"text": text}
            )
        amount, unit = int(match[1]), match[2] or "min"
        if amount and not unit:
            raise ValueError(_("%(text)r: say the unit (min, h, d or mo)") % {"text": text})
        offset = cls(amount, unit)
        if offset.approx_minutes > MAX_MINUTES:
            raise ValueError(_("%(text)r is longer than two years") % {"text": text})
        return offset

    def __str__(self) -> str:
        return "0" if self.amount == 0 else f"{self.amount}{self.unit}"

    def _delta(self) -> timedelta | relativedelta:
        if self.unit == "mo":
            return relativedelta(months=self.amount)
        return timedelta(minutes=self.approx_minutes)

    def after(self, moment: datetime) -> datetime:
        return moment + self._delta()

    def before(self, moment: datetime) -> datetime:
        return moment - self._delta()

    @property
    def approx_minutes(self) -> int:
        """For ordering steps on the ruler (a month counts as 30 days)."""
        per = {"min": 1, "h": 60, "d": 1440, "mo": 30 * 1440}[self.unit]
        return self.amount * per

    @property
    def days(self) -> float:
        return self.approx_minutes / 1440

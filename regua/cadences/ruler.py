"""The régua drawn as what it is: a ruler with each step at its offset."""

import math
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import Step
from .offsets import Offset


@dataclass(frozen=True)
class Mark:
    step: Step
    left: float  # % along the ruler
    label: str


def offset_label(offset: Offset) -> str:
    if offset.amount == 0:
        return _("Day 0")
    if offset.unit == "min":
        return _("%(n)d min") % {"n": offset.amount}
    if offset.unit == "h":
        return ngettext("%(n)d hour", "%(n)d hours", offset.amount) % {"n": offset.amount}
    if offset.unit == "d":
        return _("Day %(n)d") % {"n": offset.amount}
    return _("Month %(n)d") % {"n": offset.amount}


def ruler_marks(steps: list[Step]) -> list[Mark]:
    """Positions on a square-root scale, so day 0, 2 hours and day 15 do not pile up
    while month 6 still sits at the far end."""
    longest = max((s.parsed_offset.approx_minutes for s in steps), default=0) or 1
    marks = []
    for step in steps:
        minutes = step.parsed_offset.approx_minutes
        left = 3 + 94 * math.sqrt(minutes / longest)
        marks.append(Mark(step=step, left=round(left, 1), label=offset_label(step.parsed_offset)))
    return marks

"""The NPS report: overall, by month and by régua, with the latest comments.

NPS = % promoters (9–10) − % detractors (0–6), over the `nps_answered` events of the
period (kpis.py). Each table is one aggregate query over the answers — one GROUP BY —
so the report costs the same for a hundred answers or a million; only the few comments
shown travel as rows. An answer's régua is its event's `regua` property (the cadence
key the survey link came from); answers sent in by the API or the demo have none.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import TruncMonth

from regua.customers.models import Contact
from regua.events.models import Event

from . import frames, kpis

VERBATIMS = 25
CONTACT_FIELDS = ["id", "first_name", "last_name", "email", "phone"]  # what str(contact) reads


@dataclass(frozen=True)
class NpsCounts:
    answers: int
    promoters: int
    detractors: int

    @property
    def passives(self) -> int:
        return self.answers - self.promoters - self.detractors

    @property
    def nps(self) -> float | None:
        return kpis.nps(self.promoters, self.detractors, self.answers)

    @property
    def promoter_share(self) -> float | None:
        return kpis.rate(self.promoters, self.answers)

    @property
    def detractor_share(self) -> float | None:
        return kpis.rate(self.detractors, self.answers)


@dataclass(frozen=True)
class MonthRow:
    month: date
    counts: NpsCounts


@dataclass(frozen=True)
class ReguaRow:
    key: str | None  # None: answers that came from no régua
    name: str
    exists: bool  # a régua with this key is still there to link to
    counts: NpsCounts


@dataclass(frozen=True)
class Verbatim:
    at: datetime
    score: int
    category: str
    comment: str
    contact_id: int
    contact_name: str
    regua: str | None


@dataclass(frozen=True)
class NpsReport:
    start: date
    end: date
    overall: NpsCounts
    months: list[MonthRow]
    reguas: list[ReguaRow]
    verbatims: list[Verbatim]


def _counted() -> dict[str, Count]:
    return {
        "answers": Count("pk"),
        "promoters": Count("pk", filter=Q(properties__score__gte=9)),
        "detractors": Count("pk", filter=Q(properties__score__lte=6)),
    }


def _counts(row: Mapping[str, Any]) -> NpsCounts:
    return NpsCounts(
        int(row["answers"] or 0), int(row["promoters"] or 0), int(row["detractors"] or 0)
    )


def answers(*, start: date, end: date, contacts: Q | None = None) -> QuerySet[Event]:
    """The NPS answers of the days start..end (inclusive, business time zone). An
    answer without a numeric score (a malformed import) counts nowhere."""
    found = Event.objects.filter(
        name="nps_answered",
        occurred_at__gte=frames.day_start(start),
        occurred_at__lt=frames.day_start(end + timedelta(days=1)),
        properties__score__gte=0,
    )
    if contacts is not None:
        found = found.filter(contact__in=Contact.objects.filter(contacts).values("pk"))
    return found.order_by()


def nps_report(
    *, start: date, end: date, contacts: Q | None = None, verbatims: int = VERBATIMS
) -> NpsReport:
    """NPS for the period and the filter (a segment, an agent's portfolio)."""
    from regua.cadences.models import Cadence

    found = answers(start=start, end=end, contacts=contacts)
    overall = _counts(found.aggregate(**_counted()))
    months = [
        MonthRow(row["month"].date(), _counts(row))
        for row in found.annotate(month=TruncMonth("occurred_at", tzinfo=frames.business_zone()))
        .values("month")
        .annotate(**_counted())
        .order_by("month")
    ]
    by_regua = list(found.values(regua=KT("properties__regua")).annotate(**_counted()))
    keys = [row["regua"] for row in by_regua if row["regua"]]
    names = dict(Cadence.objects.filter(key__in=keys).values_list("key", "name"))
    reguas = sorted(
        (
            ReguaRow(
                row["regua"] or None,
                names.get(row["regua"], row["regua"] or ""),
                row["regua"] in names,
                _counts(row),
            )
            for row in by_regua
        ),
        key=lambda r: (r.key is None, -r.counts.answers, r.name),
    )
    said = (
        found.filter(properties__has_key="comment")
        .exclude(properties__comment="")
        .select_related("contact")
        .only("occurred_at", "properties", *(f"contact__{f}" for f in CONTACT_FIELDS))
        .order_by("-occurred_at", "-id")[:verbatims]
    )
    return NpsReport(
        start=start,
        end=end,
        overall=overall,
        months=months,
        reguas=reguas,
        verbatims=[_verbatim(event, names) for event in said],
    )


def _verbatim(event: Event, names: dict[str, str]) -> Verbatim:
    score = int(event.properties["score"])
    key = event.properties.get("regua") or None
    return Verbatim(
        at=event.occurred_at,
        score=score,
        category=kpis.nps_category(score),
        comment=str(event.properties.get("comment", "")),
        contact_id=event.contact.pk,
        contact_name=str(event.contact),
        regua=names.get(key, key) if key else None,
    )

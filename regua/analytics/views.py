"""The dashboard: KPIs, RFM, activity, cohorts, NPS and CLV, served from a snapshot."""

from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from regua.lib.csv_safe import csv_response
from regua.privacy import audit
from regua.segments.models import Segment

from . import rfm
from .dashboard import COLUMN_LABELS, TABLE_TITLES, Filter, snapshot_for
from .kpis import KPI_TEXT, PART_LABELS
from .models import Snapshot
from .nps import nps_report
from .tasks import dashboard_refresh_job

PERIOD_DAYS = 30
NPS_PERIOD_DAYS = 90
STUCK_AFTER = timedelta(minutes=15)


def _date(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


def _filters(request: HttpRequest, *, days: int = PERIOD_DAYS) -> Filter:
    today = timezone.localdate()
    end = _date(request.GET.get("end"), today)
    start = _date(request.GET.get("start"), end - timedelta(days=days - 1))
    if start > end:
        start, end = end, start
    segment = request.GET.get("segment", "")
    segment_id = int(segment) if segment.isdigit() else None
    if segment_id and not Segment.objects.filter(pk=segment_id).exists():
        segment_id = None
    owner = None if request.user.sees_all_contacts else request.user.pk  # type: ignore[union-attr]
    return Filter(start, end, segment_id, owner)


def _enqueue(filters: Filter, as_of: date, *, again: bool = False) -> Snapshot:
    """Queue the computation of this snapshot unless it is queued already.

    The snapshot row is the marker: created empty here, filled by the job. A marker older
    than STUCK_AFTER (a job that died) is queued again, as is any on `again` (Recompute).
    """
    snapshot, created = Snapshot.objects.get_or_create(
        key=filters.key, as_of=as_of, defaults={"payload": None, "seconds": 0.0}
    )
    stuck = snapshot.payload is None and timezone.now() - snapshot.updated_at > STUCK_AFTER
    if created or stuck or again:
        Snapshot.objects.filter(pk=snapshot.pk).update(updated_at=timezone.now())
        dashboard_refresh_job.enqueue(
            filters.start.isoformat(),
            filters.end.isoformat(),
            filters.segment_id,
            filters.owner_id,
            as_of.isoformat(),
        )
        snapshot.refresh_from_db()
    return snapshot


def _labels() -> dict[str, dict[str, str]]:
    """How the keys stored in a snapshot read in the current language."""
    return {
        "columns": {k: str(v) for k, v in COLUMN_LABELS.items()},
        "tables": {k: str(v) for k, v in TABLE_TITLES.items()},
        "segment": {k: str(label) for k, (label, _cells) in rfm.SEGMENT_MAP.items()},
        "cell": {k: str(v) for k, v in rfm.ACTIVITY_CELLS.items()},
        "type": {k: str(v) for k, v in rfm.RELATIONSHIP_TYPES.items()},
        "kpi": {k: str(label) for k, (label, _formula) in KPI_TEXT.items()},
        "formula": {k: str(formula) for k, (_label, formula) in KPI_TEXT.items()},
    }


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    as_of = timezone.localdate()
    snapshot = snapshot_for(filters, as_of)
    if snapshot is None or snapshot.payload is None:
        snapshot = _enqueue(filters, as_of)  # computed already when jobs run inline
    query = request.GET.urlencode()
    kpi_cards = []
    scores_as_of = None
    if snapshot.payload is not None and snapshot.payload.get("scores_as_of"):
        scores_as_of = date.fromisoformat(snapshot.payload["scores_as_of"])
    if snapshot.payload is not None:
        parts = snapshot.payload.get("kpi_parts", {})
        for key, value, _formula in snapshot.payload["tables"]["kpis"]["rows"]:
            label, formula = KPI_TEXT[key]
            kpi_cards.append(
                {
                    "key": key,
                    "label": label,
                    "formula": formula,
                    "value": value,
                    "parts": [
                        (PART_LABELS.get(name, name), part)
                        for name, part in parts.get(key, {}).items()
                    ],
                }
            )
    return render(
        request,
        "analytics/dashboard.html",
        {
            "filters": filters,
            "snapshot": snapshot,
            "scores_as_of": scores_as_of,
            "kpis": kpi_cards,
            "segments": Segment.objects.all(),
            "labels": _labels(),
            "query": query,
            "tables": TABLE_TITLES,
        },
    )


@login_required
@require_POST
def dashboard_recompute(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    as_of = timezone.localdate()
    _enqueue(filters, as_of, again=True)
    messages.info(request, _("The dashboard is being recomputed; reload in a moment."))
    return redirect(f"{reverse('analytics:dashboard')}?{request.GET.urlencode()}")


@login_required
def dashboard_export(request: HttpRequest, table: str) -> HttpResponseBase:
    """One of the dashboard's tables, as CSV, from the same snapshot the page shows."""
    if table not in TABLE_TITLES:
        raise Http404
    snapshot = snapshot_for(_filters(request), timezone.localdate())
    if snapshot is None or snapshot.payload is None:
        raise Http404(_("The dashboard has not been computed yet."))
    data: dict[str, Any] = snapshot.payload["tables"][table]
    rows = data["rows"]
    if table == "kpis":  # the stored keys, as the words and formulas of this language
        rows = [[str(KPI_TEXT[k][0]), value, str(KPI_TEXT[k][1])] for k, value, _f in rows]
    header = [str(COLUMN_LABELS.get(c, c)) for c in data["columns"]]
    audit.record(
        request.user,
        audit.AuditAction.VIEWED_EXPORT,
        object_type="dashboard",
        object_id=table,
        detail={"rows": len(rows), "as_of": str(snapshot.as_of)},
        request=request,
    )
    return csv_response(f"{table}-{snapshot.as_of}.csv", header, rows, stream=False)


@login_required
def nps(request: HttpRequest) -> HttpResponse:
    """NPS by period, segment and régua, with the latest comments; computed live (a few
    aggregate queries over the answers, no snapshot needed)."""
    filters = _filters(request, days=NPS_PERIOD_DAYS)
    report = nps_report(start=filters.start, end=filters.end, contacts=filters.contacts())
    trend = {
        "labels": [row.month.strftime("%Y-%m") for row in report.months],
        "nps": [
            None if row.counts.nps is None else round(row.counts.nps, 1) for row in report.months
        ],
        "title": str(KPI_TEXT["nps"][0]),
    }
    return render(
        request,
        "analytics/nps.html",
        {
            "filters": filters,
            "report": report,
            "formula": KPI_TEXT["nps"][1],
            "segments": Segment.objects.all(),
            "trend": trend,
        },
    )

"""Segment pages: the list, the rule builder with its live count, members and export."""

from collections.abc import Iterator
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from regua.cadences.views import editor_required
from regua.customers.selectors import contacts_page, contacts_visible_to, count_capped
from regua.lib.csv_safe import csv_response
from regua.privacy import audit
from regua.users.models import User

from .catalog import fields, op_labels
from .forms import SegmentForm, rule_from_text
from .models import Segment
from .rules import RuleError, compile_rule


def _members(request: HttpRequest, rule_q: Q) -> Any:
    """The members this user may see: an agent's view stops at the own portfolio."""
    return contacts_visible_to(cast(User, request.user)).filter(rule_q)


@login_required
def segment_list(request: HttpRequest) -> HttpResponse:
    return render(request, "segments/list.html", {"segments": Segment.objects.all()})


def _words() -> dict[str, str]:
    return {
        "all": _("all of these"),
        "any": _("any of these"),
        "condition": _("condition"),
        "group": _("group"),
        "removeGroup": _("Remove group"),
        "remove": _("Remove"),
        "field": _("Field"),
        "operator": _("Operator"),
        "value": _("Value"),
        "match": _("Match"),
        "days": _("days"),
        "times": _("times"),
    }


@editor_required
def segment_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    segment = (
        get_object_or_404(Segment, pk=pk) if pk else Segment(created_by=cast(User, request.user))
    )
    form = SegmentForm(request.POST or None, instance=segment)
    if request.method == "POST" and form.is_valid():
        segment = form.save()
        messages.success(request, _("Segment saved."))
        return redirect("segments:edit", segment.pk)
    return render(
        request,
        "segments/edit.html",
        {
            "segment": segment if segment.pk else None,
            "form": form,
            "fields": fields(),
            "ops": op_labels(),
            "words": _words(),
            # Event conditions count archived months too; the page says how (retention).
            "event_retention_months": settings.REGUA_EVENT_RETENTION_MONTHS,
        },
    )


@login_required
@require_POST
def segment_count(request: HttpRequest) -> HttpResponse:
    """The live count while editing: how many contacts the posted rule selects."""
    try:
        rule_q = compile_rule(rule_from_text(request.POST.get("rule", "")))
    except (forms.ValidationError, RuleError) as error:
        problems = error.messages if isinstance(error, forms.ValidationError) else [str(error)]
        return render(request, "segments/_count.html", {"problems": problems})
    return render(request, "segments/_count.html", {"count": _members(request, rule_q).count()})


@login_required
def segment_saved_count(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    try:
        count = _members(request, segment.as_q()).count()
    except RuleError as error:
        return render(request, "segments/_count.html", {"problems": [str(error)]})
    return render(request, "segments/_count.html", {"count": count, "inline": True})


@login_required
def segment_members(request: HttpRequest, pk: int) -> HttpResponse:
    """The members, listed as the contact list lists contacts (same rows, same pager)."""
    segment = get_object_or_404(Segment, pk=pk)
    members = _members(request, segment.as_q())
    page = contacts_page(members, sort="name", cursor=request.GET.get("cursor", ""))
    page.count_label = count_capped(members)
    context = {"segment": segment, "page": page, "paged": bool(request.GET.get("cursor"))}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "customers/_contact_results.html", context)
    return render(request, "segments/members.html", context)


EXPORT_COLUMNS = ["id", "first_name", "last_name", "email", "phone", "city", "state", "stage"]


@login_required
def segment_export(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Every member this user may see, as CSV, streamed in pages of 2,000."""
    segment = get_object_or_404(Segment, pk=pk)
    members = _members(request, segment.as_q()).order_by("id")

    def rows() -> Iterator[tuple[Any, ...]]:
        last = 0
        while True:
            batch = list(members.filter(id__gt=last).values_list(*EXPORT_COLUMNS)[:2000])
            if not batch:
                return
            yield from batch
            last = batch[-1][0]

    audit.record(request.user, audit.AuditAction.VIEWED_EXPORT, target=segment, request=request)
    return csv_response(f"segment-{segment.pk}.csv", EXPORT_COLUMNS, rows())


@editor_required
@require_POST
def segment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    segment.delete()
    messages.success(request, _("Segment deleted."))
    return redirect("segments:list")

"""The data subject's page (summary, consent, export, erasure) and the audit log."""

from datetime import datetime, time, timedelta
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from regua.customers.models import Channel, Consent, ConsentChange, Contact
from regua.customers.selectors import contacts_visible_to
from regua.customers.services import consent_set
from regua.lib.csv_safe import csv_response
from regua.users.models import User
from regua.users.permissions import manager_required

from . import audit
from .erase import AlreadyErased, contact_erase
from .export import CSV_HEADER, export_csv_rows, export_json, subject_counts
from .forms import AuditFilterForm, ConsentForm, EraseForm
from .models import AuditAction, AuditEntry, Erasure

AUDIT_PER_PAGE = 50


def _visible_contact(request: HttpRequest, pk: int) -> Contact:
    """The contact if this user may see it (docs/security.md §Portfolio visibility),
    else 404."""
    contacts = contacts_visible_to(cast(User, request.user)).select_related("owner")
    return get_object_or_404(contacts, pk=pk)


def erase_phrase(contact: Contact) -> str:
    return _("ERASE %(number)s") % {"number": contact.pk}


@login_required
def subject(request: HttpRequest, pk: int) -> HttpResponse:
    """What Régua holds about one person, their consents and history, and the ways to
    hand it over (export) or remove it (erase)."""
    contact = _visible_contact(request, pk)
    context = {
        "contact": contact,
        "counts": subject_counts(contact),
        "consents": list(Consent.objects.filter(contact=contact)),
        "consent_history": list(
            ConsentChange.objects.filter(contact=contact).select_related("changed_by")[:100]
        ),
        "erasure": Erasure.objects.filter(contact=contact).select_related("erased_by").first(),
        "consent_form": ConsentForm(initial={"channel": Channel.EMAIL}),
        "can_erase": cast(User, request.user).manages,
    }
    return render(request, "privacy/subject.html", context)


@login_required
@require_POST
def consent_change(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _visible_contact(request, pk)
    form = ConsentForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        changed = consent_set(
            contact=contact,
            channel=data["channel"],
            status=data["status"],
            source=data["source"] or "staff",
            at=timezone.now(),
            purpose=data["purpose"],
            legal_basis=data["legal_basis"],
            text_version=data["text_version"],
            actor=cast(User, request.user),
            request=request,
        )
        if changed:
            messages.success(request, _("Consent recorded."))
        else:
            messages.info(request, _("Nothing changed: this consent was already on record."))
    else:
        messages.error(request, _("The consent was not recorded: check the fields."))
    return redirect("privacy:subject", pk=contact.pk)


def _export_audit(request: HttpRequest, contact: Contact, fmt: str) -> None:
    audit.record(
        request.user,
        AuditAction.EXPORTED_SUBJECT,
        contact=contact,
        detail={"format": fmt},
        request=request,
    )


@login_required
def export_json_view(request: HttpRequest, pk: int) -> HttpResponseBase:
    contact = _visible_contact(request, pk)
    _export_audit(request, contact, "json")
    response = StreamingHttpResponse(
        export_json(contact), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}.json"'
    return response


@login_required
def export_csv_view(request: HttpRequest, pk: int) -> HttpResponseBase:
    contact = _visible_contact(request, pk)
    _export_audit(request, contact, "csv")
    return csv_response(f"contact-{contact.pk}.csv", CSV_HEADER, export_csv_rows(contact))


@manager_required
def erase(request: HttpRequest, pk: int) -> HttpResponse:
    """Erasure, for managers and admins, after typing the phrase shown."""
    contact = _visible_contact(request, pk)
    phrase = erase_phrase(contact)
    erased = Erasure.objects.filter(contact=contact).exists()
    form = EraseForm(request.POST or None, phrase=phrase)
    if request.method == "POST" and not erased and form.is_valid():
        try:
            result = contact_erase(contact=contact, actor=request.user, request=request)
        except AlreadyErased:
            messages.info(request, _("This contact was erased already."))
        else:
            messages.success(
                request,
                _("Contact #%(number)s erased: %(rows)d rows anonymised or deleted.")
                % {"number": result.contact_id, "rows": sum(result.counts.values())},
            )
        return redirect("privacy:subject", pk=contact.pk)
    context = {"contact": contact, "form": form, "phrase": phrase, "erased": erased}
    return render(request, "privacy/erase.html", context)


@manager_required
def audit_log(request: HttpRequest) -> HttpResponse:
    """Who did what, newest first; filtered by action, user and period."""
    form = AuditFilterForm(request.GET or None)
    entries = AuditEntry.objects.select_related("actor")
    if form.is_valid():
        data = form.cleaned_data
        if data["action"]:
            entries = entries.filter(action=data["action"])
        if data["user"]:
            entries = entries.filter(actor=data["user"])
        zone = timezone.get_current_timezone()
        if data["start"]:
            entries = entries.filter(created_at__gte=datetime.combine(data["start"], time(), zone))
        if data["end"]:
            end = datetime.combine(data["end"] + timedelta(days=1), time(), zone)
            entries = entries.filter(created_at__lt=end)
    page = Paginator(entries, AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render(request, "privacy/audit.html", context)

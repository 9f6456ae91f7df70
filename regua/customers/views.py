from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from regua.lib.text import search_key
from regua.users.models import User

from .forms import ContactFilterForm, InteractionForm
from .models import Channel, Contact, StageChange
from .search import prefix_q
from .selectors import (
    ContactFilters,
    companies_page,
    companies_visible_to,
    contact_dossier,
    contact_timeline,
    contacts_search_page,
    contacts_visible_to,
)
from .services import interaction_log


def _owners() -> list[tuple[int, str]]:
    return [(u.pk, str(u)) for u in User.objects.filter(is_active=True)]


@login_required
def contact_list(request: HttpRequest) -> HttpResponse:
    form = ContactFilterForm(request.GET or None, owners=_owners())
    data = form.cleaned_data if form.is_valid() else {}
    filters = ContactFilters(
        q=data.get("q", ""),
        stage=data.get("stage", ""),
        owner=data.get("owner"),
        tag=data.get("tag", ""),
        city=data.get("city", ""),
        sort=data.get("sort") or "recent",
    )
    contacts = contacts_visible_to(request.user)  # type: ignore[arg-type]
    page = contacts_search_page(contacts, filters, cursor=request.GET.get("cursor", ""))
    context = {
        "form": form,
        "page": page,
        "filters": filters,
        "paged": bool(request.GET.get("cursor")),
    }
    template = "customers/_contact_results.html" if request.htmx else "customers/contact_list.html"  # type: ignore[attr-defined]
    return render(request, template, context)


def _visible_contact(request: HttpRequest, contact_id: int) -> Contact:
    contacts = contacts_visible_to(request.user).select_related("owner")  # type: ignore[arg-type]
    return get_object_or_404(contacts, pk=contact_id)


@login_required
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The dossier: everything about one contact, to read before a call."""
    contact = _visible_contact(request, contact_id)
    context = {
        "contact": contact,
        "timeline": contact_timeline(contact),
        "form": InteractionForm(),
        "stage_changes": list(StageChange.objects.filter(contact=contact)[:10]),
        "channels": Channel,
        "today": timezone.localdate(),
        **contact_dossier(contact, user=cast(User, request.user)),
    }
    return render(request, "customers/contact_detail.html", context)


@login_required
def contact_timeline_page(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _visible_contact(request, contact_id)
    page = contact_timeline(contact, cursor=request.GET.get("cursor", ""))
    return render(request, "customers/_timeline.html", {"contact": contact, "timeline": page})


@login_required
@require_POST
def interaction_create(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _visible_contact(request, contact_id)
    form = InteractionForm(request.POST)
    if form.is_valid():
        interaction_log(contact=contact, author=request.user, **form.cleaned_data)  # type: ignore[arg-type]
        if request.htmx:  # type: ignore[attr-defined]
            context = {
                "contact": contact,
                "timeline": contact_timeline(contact),
                "form": InteractionForm(),
                "saved": True,
            }
            return render(request, "customers/_activity.html", context)
        messages.success(request, _("Saved on the timeline."))
        return redirect("customers:contact_detail", contact_id=contact.pk)
    context = {"contact": contact, "timeline": contact_timeline(contact), "form": form}
    return render(request, "customers/_activity.html", context, status=422 if request.htmx else 200)  # type: ignore[attr-defined]


@login_required
def company_list(request: HttpRequest) -> HttpResponse:
    companies = companies_visible_to(request.user)  # type: ignore[arg-type]
    q = request.GET.get("q", "").strip()
    if q:
        companies = companies.filter(prefix_q("search_name", search_key(q)))
    page = companies_page(companies, cursor=request.GET.get("cursor", ""))
    return render(request, "customers/company_list.html", {"page": page, "q": q})


@login_required
def company_detail(request: HttpRequest, company_id: int) -> HttpResponse:
    user = cast(User, request.user)
    company = get_object_or_404(companies_visible_to(user).select_related("owner"), pk=company_id)
    roles = company.roles.select_related("contact").order_by("role", "contact__search_name")
    interactions = company.interactions.select_related("contact", "author")
    if not user.sees_all_contacts:
        # A company shared with a colleague: the colleague's contacts stay theirs.
        mine = contacts_visible_to(user).values("pk")
        roles = roles.filter(contact__in=mine)
        interactions = interactions.filter(contact__in=mine)
    return render(
        request,
        "customers/company_detail.html",
        {"company": company, "roles": roles, "interactions": interactions[:20]},
    )

"""Account pages: the ABC matrix and its company list, classification, the power map,
the account plan with its initiatives and review, and the list of plans."""

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from regua.agenda.models import TaskStatus
from regua.customers.models import Company, ContactRole, PowerRole
from regua.customers.search import prefix_q
from regua.customers.selectors import (
    ContactFilters,
    companies_page,
    companies_visible_to,
    contacts_search_page,
    contacts_visible_to,
)
from regua.lib.text import search_key
from regua.users.models import User

from . import services
from .classification import company_abc_class
from .forms import (
    ABC_PARAM,
    ClassificationForm,
    CompanyFilterForm,
    InitiativeForm,
    MatrixFilterForm,
    PlanForm,
    ReviewDoneForm,
    RoleForm,
    StatusForm,
)
from .models import AccountPlan, Initiative, InitiativeStatus
from .selectors import (
    LEVELS,
    CompanyFilters,
    abc_matrix,
    account_plan_timeline,
    companies_filter,
    company_power_map,
    plans_overview,
    private_portfolio,
)


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _visible_company(request: HttpRequest, company_id: int) -> Company:
    companies = companies_visible_to(_user(request)).select_related("owner")
    return get_object_or_404(companies, pk=company_id)


def _may_reassign(user: User) -> bool:
    """Giving an account to someone else is a manager's call (like a portfolio hand-over)."""
    return user.manages


def _query(request: HttpRequest, *drop: str) -> str:
    params = request.GET.copy()
    for key in ("cursor", *drop):
        params.pop(key, None)
    return params.urlencode()


# The ABC matrix and its company list ----------------------------------------------------


@login_required
def matrix(request: HttpRequest) -> HttpResponse:
    form = MatrixFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    filters = CompanyFilters(
        relationship_degree=data.get("relationship", ""), owner=data.get("owner")
    )
    context = {
        "form": form,
        "matrix": abc_matrix(companies_visible_to(_user(request)), filters),
        "levels": LEVELS,
        "query": _query(request),  # owner and degree, carried into every link
        "relationship": filters.relationship_degree,
        "owner": filters.owner,
    }
    return render(request, "accounts/matrix.html", context)


@login_required
def company_list(request: HttpRequest) -> HttpResponse:
    """The companies of a matrix cell, a class, an owner…; also searchable by name."""
    form = CompanyFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    filters = CompanyFilters(
        profitability=data.get("profitability", ""),
        purchase_potential=data.get("potential", ""),
        relationship_degree=data.get("relationship", ""),
        abc=ABC_PARAM.get(data.get("abc") or ""),
        owner=data.get("owner"),
    )
    companies = companies_filter(companies_visible_to(_user(request)), filters)
    q = data.get("q", "").strip()
    if q:
        companies = companies.filter(prefix_q("search_name", search_key(q)))
    page = companies_page(companies, cursor=request.GET.get("cursor", ""))
    context = {"form": form, "page": page, "query": _query(request)}
    return render(request, "accounts/company_list.html", context)


@login_required
def classify(request: HttpRequest, company_id: int) -> HttpResponse:
    company = _visible_company(request, company_id)
    may_reassign = _may_reassign(_user(request))
    initial = {
        "profitability": company.profitability,
        "purchase_potential": company.purchase_potential,
        "relationship_degree": company.relationship_degree,
        "owner": company.owner_id,
    }
    form = ClassificationForm(request.POST or None, initial=initial, owner_editable=may_reassign)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with transaction.atomic():  # the levels and the owner change together or not at all
            services.company_classify(
                company=company,
                profitability=data["profitability"],
                purchase_potential=data["purchase_potential"],
                relationship_degree=data["relationship_degree"],
            )
            if may_reassign and data["owner"] != company.owner:
                services.company_owner_set(company=company, owner=data["owner"])
        klass = company_abc_class(company)
        messages.success(
            request,
            _("Classification saved: %(class)s.") % {"class": klass.label},
        )
        return redirect("customers:company_detail", company_id=company.pk)
    context = {"company": company, "form": form, "abc": company_abc_class(company)}
    return render(request, "accounts/classify.html", context)


# The power map --------------------------------------------------------------------------


@login_required
def roles(request: HttpRequest, company_id: int) -> HttpResponse:
    """Edit the power map: change or remove a contact's role, find and add a contact."""
    company = _visible_company(request, company_id)
    contacts = contacts_visible_to(_user(request))
    q = request.GET.get("q", "").strip()
    form = RoleForm(request.POST or None)
    if request.method == "POST":
        contact_id = request.POST.get("contact", "")
        if not contact_id.isdigit():
            raise Http404
        contact = get_object_or_404(contacts, pk=int(contact_id))
        if form.is_valid():
            services.contact_role_set(company=company, contact=contact, **form.cleaned_data)
            messages.success(request, _("%(contact)s is on the power map.") % {"contact": contact})
            return redirect("accounts:roles", company_id=company.pk)
    found = []
    if q:
        page = contacts_search_page(contacts, ContactFilters(q=q), size=10, count=False)
        linked = set(company.roles.values_list("contact_id", flat=True))
        found = [contact for contact in page.items if contact.pk not in linked]
    context = {
        "company": company,
        "power_map": company_power_map(company, visible=private_portfolio(_user(request))),
        "editable": True,
        "q": q,
        "found": found,
        "form": form,
        "role_choices": PowerRole.choices,
    }
    return render(request, "accounts/roles.html", context)


def _visible_role(request: HttpRequest, role_id: int) -> ContactRole:
    """A role on the power map of a company the user sees, of a contact the user sees:
    on a company shared with a colleague, the colleague's people stay theirs."""
    user = _user(request)
    roles = ContactRole.objects.select_related("contact").filter(
        company__in=companies_visible_to(user).values("pk")
    )
    if (visible := private_portfolio(user)) is not None:
        roles = roles.filter(contact__in=visible.values("pk"))
    return get_object_or_404(roles, pk=role_id)


@login_required
@require_POST
def role_edit(request: HttpRequest, role_id: int) -> HttpResponse:
    contact_role = _visible_role(request, role_id)
    form = RoleForm(request.POST)
    if form.is_valid():
        services.contact_role_set(
            company=contact_role.company, contact=contact_role.contact, **form.cleaned_data
        )
        messages.success(request, _("Role saved."))
    else:
        messages.error(request, _("Choose a role."))
    return redirect("accounts:roles", company_id=contact_role.company_id)


@login_required
@require_POST
def role_delete(request: HttpRequest, role_id: int) -> HttpResponse:
    contact_role = _visible_role(request, role_id)
    company_id = contact_role.company_id
    services.contact_role_remove(contact_role=contact_role)
    messages.success(
        request, _("%(contact)s left the power map.") % {"contact": contact_role.contact}
    )
    return redirect("accounts:roles", company_id=company_id)


# The account plan -----------------------------------------------------------------------


@login_required
def plan(request: HttpRequest, company_id: int) -> HttpResponse:
    """The company's account plan: objective, owner, review date and the initiatives."""
    company = _visible_company(request, company_id)
    account_plan = (
        AccountPlan.objects.select_related("owner", "review_task", "review_task__owner")
        .filter(company=company)
        .first()
    )
    initial: dict[str, Any] = {"owner": company.owner_id}
    if account_plan:
        initial = {
            "objective": account_plan.objective,
            "owner": account_plan.owner_id,
            "review_on": account_plan.review_on,
        }
    form = PlanForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.account_plan_save(company=company, by=_user(request), **form.cleaned_data)
        messages.success(request, _("Account plan saved."))
        return redirect("accounts:plan", company_id=company.pk)
    return render(request, "accounts/plan.html", _plan_context(company, account_plan, form))


def _plan_context(
    company: Company, account_plan: AccountPlan | None, form: PlanForm, **extra: Any
) -> dict[str, Any]:
    today = timezone.localdate()
    task = account_plan.review_task if account_plan else None
    return {
        "company": company,
        "plan": account_plan,
        "form": form,
        "abc": company_abc_class(company),
        "initiatives": account_plan_timeline(account_plan) if account_plan else [],
        "today": today,
        "statuses": InitiativeStatus,
        "review_task": task,
        # The agenda closed the review task: the plan still waits for its next date.
        "review_closed_in_agenda": task is not None and task.status != TaskStatus.OPEN,
        "review_form": extra.pop("review_form", None) or ReviewDoneForm(),
        "initiative_form": InitiativeForm(
            initial={"owner": account_plan.owner_id if account_plan else None}
        ),
        **extra,
    }


def _visible_plan(request: HttpRequest, company_id: int) -> AccountPlan:
    company = _visible_company(request, company_id)
    return get_object_or_404(AccountPlan.objects.select_related("company"), company=company)


@login_required
@require_POST
def plan_review(request: HttpRequest, company_id: int) -> HttpResponse:
    """The review is done: record it and ask for the next review date."""
    account_plan = _visible_plan(request, company_id)
    review_form = ReviewDoneForm(request.POST)
    if review_form.is_valid():
        services.account_plan_review_complete(
            plan=account_plan,
            next_review_on=review_form.cleaned_data["next_review_on"],
            by=_user(request),
        )
        messages.success(request, _("Review recorded; the next one is in the owner's agenda."))
        return redirect("accounts:plan", company_id=company_id)
    form = PlanForm(
        initial={
            "objective": account_plan.objective,
            "owner": account_plan.owner_id,
            "review_on": account_plan.review_on,
        }
    )
    context = _plan_context(account_plan.company, account_plan, form, review_form=review_form)
    return render(request, "accounts/plan.html", context, status=422)


@login_required
def initiative_new(request: HttpRequest, company_id: int) -> HttpResponse:
    account_plan = _visible_plan(request, company_id)
    return _initiative_form(request, account_plan, Initiative(plan=account_plan))


@login_required
def initiative_edit(request: HttpRequest, initiative_id: int) -> HttpResponse:
    initiative = _visible_initiative(request, initiative_id)
    return _initiative_form(request, initiative.plan, initiative)


def _initiative_form(
    request: HttpRequest, account_plan: AccountPlan, initiative: Initiative
) -> HttpResponse:
    form = InitiativeForm(request.POST or None, instance=initiative)
    if request.method == "POST" and form.is_valid():
        services.initiative_save(
            plan=account_plan,
            initiative=initiative if initiative.pk else None,
            **form.cleaned_data,
        )
        messages.success(request, _("Initiative saved."))
        return redirect("accounts:plan", company_id=account_plan.company_id)
    context: dict[str, Any] = {
        "company": account_plan.company,
        "plan": account_plan,
        "form": form,
        "initiative": initiative if initiative.pk else None,
    }
    return render(request, "accounts/initiative_form.html", context)


def _visible_initiative(request: HttpRequest, initiative_id: int) -> Initiative:
    companies = companies_visible_to(_user(request)).values("pk")
    return get_object_or_404(
        Initiative.objects.select_related("plan__company"),
        pk=initiative_id,
        plan__company__in=companies,
    )


@login_required
@require_POST
def initiative_status(request: HttpRequest, initiative_id: int) -> HttpResponse:
    initiative = _visible_initiative(request, initiative_id)
    form = StatusForm(request.POST)
    if form.is_valid():
        services.initiative_set_status(initiative=initiative, status=form.cleaned_data["status"])
        messages.success(
            request,
            _("“%(title)s”: %(status)s.")
            % {"title": initiative.title, "status": initiative.get_status_display()},
        )
    # The plans page changes statuses too, and comes back to itself.
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        back = _plan_url(initiative)
    return redirect(back or _plan_url(initiative))


def _plan_url(initiative: Initiative) -> str:
    return reverse("accounts:plan", args=[initiative.plan.company_id])


@login_required
@require_POST
def initiative_delete(request: HttpRequest, initiative_id: int) -> HttpResponse:
    initiative = _visible_initiative(request, initiative_id)
    url = _plan_url(initiative)
    services.initiative_delete(initiative=initiative)
    messages.success(request, _("Initiative deleted."))
    return redirect(url)


@login_required
def plan_list(request: HttpRequest) -> HttpResponse:
    """Account plans: reviews due soon or late, overdue initiatives, every plan."""
    form = MatrixFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    today = timezone.localdate()
    context = {
        "form": form,
        "today": today,
        **plans_overview(_user(request), today=today, owner=data.get("owner")),
    }
    return render(request, "accounts/plan_list.html", context)

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from regua.customers.selectors import companies_visible_to, contacts_visible_to
from regua.privacy import audit
from regua.users.models import User

from .feed import feed_for, feed_ical, feed_renew, feed_url, feed_user
from .forms import BulkForm, CompleteForm, HandOverForm, RescheduleForm, TaskForm
from .models import HandOver, Task, TaskStatus
from .selectors import (
    agenda_month,
    agenda_team,
    agenda_today,
    agenda_week,
    can_manage_team,
    day_loads,
    tasks_visible_to,
    week_start,
)
from .services import (
    AgendaError,
    NextContact,
    handover_create,
    handover_return,
    task_complete,
    task_create,
    tasks_reassign,
    tasks_reschedule,
)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@dataclass(frozen=True)
class Scope:
    """Whose agenda a page shows: one's own, a teammate's (?user=ID), or, for those who
    see everything, the tasks nobody owns (?user=none: a régua's call for a contact
    without an owner, an unowned detractor) so that they can be given to someone."""

    owner: User | None
    tasks: QuerySet[Task]
    param: str  # "" for one's own agenda, else the ?user= value to keep in links


def _agenda_scope(request: HttpRequest) -> Scope:
    user = _user(request)
    visible = tasks_visible_to(user)
    wanted = request.GET.get("user", "")
    if wanted == "none":
        if not can_manage_team(user) and not user.sees_all_contacts:
            raise PermissionDenied
        return Scope(None, visible.filter(owner__isnull=True), "none")
    if wanted.isdigit() and int(wanted) != user.pk:
        if not can_manage_team(user) and not user.sees_all_contacts:
            raise PermissionDenied
        owner = get_object_or_404(User, pk=int(wanted), is_active=True)
        return Scope(owner, visible.filter(owner=owner), wanted)
    return Scope(user, visible.filter(owner=user), "")


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _day(value: str, default: date) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return default


def _prefix(name: str) -> str:
    """The URL of `name` for id 0 without its last "0/": a row appends its own id.

    A page lists hundreds of tasks; reversing four URLs per row was most of its time.
    """
    return reverse(name, args=[0]).removesuffix("0/")


def _page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    context["urls"] = {
        "task": _prefix("agenda:task_edit"),
        "contact": _prefix("customers:contact_detail"),
        "company": _prefix("customers:company_detail"),
    }
    context["here"] = quote(request.get_full_path(), safe="")
    context.setdefault("team", User.objects.filter(is_active=True))
    context.setdefault("today", timezone.localdate())
    context["manages"] = can_manage_team(_user(request))
    context["others"] = bool(context.get("owner_param"))
    return render(request, template, context)


@login_required
def today(request: HttpRequest) -> HttpResponse:
    scope = _agenda_scope(request)
    day = timezone.localdate()
    context = {
        "owner": scope.owner,
        "owner_param": scope.param,
        "today": day,
        **agenda_today(scope.tasks, day),
    }
    return _page(request, "agenda/today.html", context)


@login_required
def week(request: HttpRequest) -> HttpResponse:
    scope = _agenda_scope(request)
    start = week_start(_day(request.GET.get("start", ""), timezone.localdate()))
    context = {
        "owner": scope.owner,
        "owner_param": scope.param,
        "days": agenda_week(scope.tasks, start),
        "start": start,
        "previous": start - timedelta(days=7),
        "following": start + timedelta(days=7),
        "today": timezone.localdate(),
    }
    template = "agenda/_week.html" if request.htmx else "agenda/week.html"  # type: ignore[attr-defined]
    return _page(request, template, context)


@login_required
def month(request: HttpRequest) -> HttpResponse:
    scope = _agenda_scope(request)
    first = _day(request.GET.get("month", "") + "-01", timezone.localdate().replace(day=1))
    context = {
        "owner": scope.owner,
        "owner_param": scope.param,
        "weeks": agenda_month(scope.tasks, first.year, first.month),
        "first": first,
        "previous": (first - timedelta(days=1)).replace(day=1),
        "following": (first + timedelta(days=32)).replace(day=1),
        "today": timezone.localdate(),
        # 1 January 2024 was a Monday: its week gives the weekday names in the language.
        "weekday_names": [
            formats.date_format(date(2024, 1, 1) + timedelta(days=n), "D") for n in range(7)
        ],
        "capacity": settings.REGUA_AGENDA_DAY_MINUTES,
    }
    return _page(request, "agenda/month.html", context)


@login_required
def day(request: HttpRequest) -> HttpResponse:
    """One day's tasks with a selection to move them: the overloaded day's remedy."""
    scope = _agenda_scope(request)
    chosen = _day(request.GET.get("day", ""), timezone.localdate())
    load = day_loads(scope.tasks, chosen, chosen)[chosen]
    listed = (
        scope.tasks.filter(status=TaskStatus.OPEN, due_on=chosen)
        .select_related("contact", "company", "owner")
        .order_by("due_time", "-priority", "id")[:500]
    )
    context = {
        "owner": scope.owner,
        "owner_param": scope.param,
        "day": chosen,
        "load": load,
        "tasks": listed,
    }
    return _page(request, "agenda/day.html", context)


@login_required
def team(request: HttpRequest) -> HttpResponse:
    if not can_manage_team(_user(request)):
        raise PermissionDenied
    today_ = timezone.localdate()
    start = week_start(_day(request.GET.get("start", ""), today_))
    rows = agenda_team(User.objects.filter(is_active=True), today_, start)
    days = [start + timedelta(days=n) for n in range(7)]
    context = {
        "rows": rows,
        "unowned": Task.objects.filter(owner__isnull=True, status=TaskStatus.OPEN).count(),
        "days": days,
        "start": start,
        "previous": start - timedelta(days=7),
        "following": start + timedelta(days=7),
        "today": today_,
    }
    return _page(request, "agenda/team.html", context)


def _visible_task(request: HttpRequest, task_id: int) -> Task:
    tasks = tasks_visible_to(_user(request)).select_related("contact", "company", "owner")
    return get_object_or_404(tasks, pk=task_id)


@login_required
def task_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    contact = company = None
    if (contact_id := request.GET.get("contact", "")).isdigit():
        contact = get_object_or_404(contacts_visible_to(user), pk=int(contact_id))
    if (company_id := request.GET.get("company", "")).isdigit():
        company = get_object_or_404(companies_visible_to(user), pk=int(company_id))
    initial: dict[str, Any] = {"owner": (contact.owner if contact and contact.owner else user).pk}
    initial["due_on"] = _day(request.GET.get("due_on", ""), timezone.localdate())
    form = TaskForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        owner = form.cleaned_data["owner"]
        if owner != user and not user.sees_all_contacts:
            form.add_error("owner", _("You can only plan your own tasks."))
        else:
            try:
                task = task_create(
                    created_by=user, contact=contact, company=company, **form.cleaned_data
                )
            except AgendaError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(
                    request,
                    _("Task planned for %(day)s.")
                    % {"day": formats.date_format(task.due_on, "SHORT_DATE_FORMAT")},
                )
                return redirect(_back(request, "agenda:today"))
    context: dict[str, Any] = {"form": form, "contact": contact, "company": company, "task": None}
    context["next_url"] = _back(request, "")
    return render(request, "agenda/task_form.html", context)


@login_required
def task_edit(request: HttpRequest, task_id: int) -> HttpResponse:
    task = _visible_task(request, task_id)
    # The bound form copies the posted owner onto the task: keep the stored one to compare.
    stored_owner = task.owner
    form = TaskForm(request.POST or None, instance=task)
    if request.method == "POST" and form.is_valid():
        user = _user(request)
        new_owner = form.cleaned_data["owner"]
        if new_owner != stored_owner and not user.sees_all_contacts:
            form.add_error("owner", _("Use the hand-over to give a task to a colleague."))
        else:
            with transaction.atomic():
                edited = form.save(commit=False)
                edited.owner = stored_owner
                edited.save()
                if new_owner != stored_owner:  # a change of hands is a recorded move
                    tasks_reassign(
                        tasks=Task.objects.filter(pk=task.pk), to_user=new_owner, by=user
                    )
            messages.success(request, _("Task saved."))
            return redirect(_back(request, "agenda:today"))
    context: dict[str, Any] = {
        "form": form,
        "contact": task.contact,
        "company": task.company,
        "task": task,
    }
    context["next_url"] = _back(request, "")
    return render(request, "agenda/task_form.html", context)


@login_required
def task_complete_view(request: HttpRequest, task_id: int) -> HttpResponse:
    """Close a task with its outcome; a call or meeting also asks what comes next."""
    task = _visible_task(request, task_id)
    if task.status != TaskStatus.OPEN:
        messages.info(request, _("This task is already closed."))
        return redirect(_back(request, "agenda:today"))
    form = CompleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        next_contact = (
            NextContact(data["next_on"], data["next_time"], data["next_kind"])
            if data["next_on"]
            else None
        )
        try:
            follow_up = task_complete(
                task=task,
                by=_user(request),
                outcome=data["outcome"],
                next_contact=next_contact,
                no_follow_up_reason=data["no_follow_up_reason"],
            )
        except AgendaError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            if follow_up:
                messages.success(
                    request,
                    _("Done. Next contact on %(day)s.")
                    % {"day": formats.date_format(follow_up.due_on, "SHORT_DATE_FORMAT")},
                )
            else:
                messages.success(request, _("Done."))
            return redirect(_back(request, "agenda:today"))
    status = 422 if request.method == "POST" else 200
    return render(request, "agenda/task_complete.html", {"task": task, "form": form}, status=status)


@login_required
@require_POST
def task_reschedule(request: HttpRequest, task_id: int) -> HttpResponse:
    """Move one task to another day: the date picker, and a drop on the week view."""
    task = _visible_task(request, task_id)
    form = RescheduleForm(request.POST)
    if not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=422)
    moved = tasks_reschedule(
        tasks=Task.objects.filter(pk=task.pk), due_on=form.cleaned_data["due_on"]
    )
    if request.htmx or request.headers.get("Accept") == "application/json":  # type: ignore[attr-defined]
        return HttpResponse(status=204 if moved else 409)
    messages.success(request, _("Task moved."))
    return redirect(_back(request, "agenda:today"))


@login_required
@require_POST
def tasks_bulk(request: HttpRequest) -> HttpResponse:
    """A selection of tasks: move them to a day, or give them to a colleague."""
    user = _user(request)
    form = BulkForm(request.POST)
    back = _back(request, "agenda:today")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(back)
    selected = tasks_visible_to(user).filter(id__in=form.cleaned_data["task"])
    if form.cleaned_data["action"] == "reschedule":
        count = tasks_reschedule(tasks=selected, due_on=form.cleaned_data["due_on"])
        messages.success(
            request, ngettext("%(n)d task moved.", "%(n)d tasks moved.", count) % {"n": count}
        )
    else:
        count = tasks_reassign(tasks=selected, to_user=form.cleaned_data["to_user"], by=user)
        audit.record(
            user,
            audit.AuditAction.HANDED_OVER,
            target=form.cleaned_data["to_user"],
            detail={"tasks": count, "to_user": form.cleaned_data["to_user"].pk},
            request=request,
        )
        messages.success(
            request,
            ngettext("%(n)d task given to %(user)s.", "%(n)d tasks given to %(user)s.", count)
            % {"n": count, "user": form.cleaned_data["to_user"]},
        )
    return redirect(back)


@login_required
def handover(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    manages = can_manage_team(user)
    form = HandOverForm(request.POST or None, user=user, manages=manages)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            done = handover_create(by=user, **data)
        except AgendaError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            audit.record(
                user,
                audit.AuditAction.HANDED_OVER,
                target=done,
                detail={
                    "scope": done.scope,
                    "from_user": done.from_user_id,
                    "to_user": done.to_user_id,
                    "tasks": done.tasks_moved,
                    "contacts": done.contacts_moved,
                    "companies": done.companies_moved,
                    "absence": done.ends_on is not None,
                },
                request=request,
            )
            messages.success(request, _handover_summary(done))
            return redirect("agenda:handover")
    recent = HandOver.objects.select_related("from_user", "to_user", "created_by")
    if not manages:
        recent = recent.filter(from_user=user) | recent.filter(to_user=user)
    context = {"form": form, "handovers": recent[:50], "manages": manages}
    return render(request, "agenda/handover.html", context)


def _handover_summary(done: HandOver) -> str:
    parts = [ngettext("%(n)d task", "%(n)d tasks", done.tasks_moved) % {"n": done.tasks_moved}]
    if done.contacts_moved or done.companies_moved:
        parts.append(
            ngettext("%(n)d contact", "%(n)d contacts", done.contacts_moved)
            % {"n": done.contacts_moved}
        )
        parts.append(
            ngettext("%(n)d company", "%(n)d companies", done.companies_moved)
            % {"n": done.companies_moved}
        )
    return _("Handed over to %(user)s: %(what)s.") % {
        "user": done.to_user,
        "what": ", ".join(parts),
    }


@login_required
@require_POST
def handover_return_view(request: HttpRequest, handover_id: int) -> HttpResponse:
    user = _user(request)
    absences = HandOver.objects.filter(ends_on__isnull=False)
    if not can_manage_team(user):
        # An agent's own absences and stand-ins only; another's is not found (404).
        absences = absences.filter(Q(from_user=user) | Q(to_user=user))
    absence = get_object_or_404(absences, pk=handover_id)
    count = handover_return(handover=absence, by=user)
    audit.record(
        user,
        audit.AuditAction.HANDED_OVER,
        target=absence,
        detail={"returned": count, "to_user": absence.from_user_id},
        request=request,
    )
    messages.success(
        request,
        ngettext("%(n)d task returned to %(user)s.", "%(n)d tasks returned to %(user)s.", count)
        % {"n": count, "user": absence.from_user},
    )
    return redirect("agenda:handover")


@login_required
def calendar_feed(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    feed = feed_renew(user) if request.method == "POST" else feed_for(user)
    if request.method == "POST":
        messages.success(request, _("New link made; the old one no longer works."))
        return redirect("agenda:calendar")
    return render(request, "agenda/calendar.html", {"url": feed_url(feed)})


def feed(request: HttpRequest, token: str) -> HttpResponse:
    """The public .ics of a signed link (calendar apps cannot log in)."""
    user = feed_user(token)
    if user is None:
        raise Http404
    response = HttpResponse(feed_ical(user), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from regua.cadences.rendering import RenderError
from regua.core import ratelimits
from regua.customers.models import Contact
from regua.customers.selectors import contacts_visible_to
from regua.lib.uploads import upload_limit
from regua.segments.models import Segment
from regua.users.models import User
from regua.users.permissions import manager_required

from . import sla
from .forms import ContactForm, ReplyForm, ReplyTemplateForm, TicketForm, UpdateForm
from .mail import rating_ticket
from .models import (
    Attachment,
    Category,
    ReplyTemplate,
    Ticket,
    TicketChannel,
    TicketKind,
    TicketPriority,
)
from .replies import APOLOGY_STEPS, DO_NOT_WRITE, reply_warnings, template_render
from .reports import GROUPS, period_q, sla_report
from .selectors import (
    MAX_PAGE,
    id_param,
    queue,
    queue_filter,
    queue_rows,
    tickets_visible_to,
)
from .services import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    RATINGS,
    DeskError,
    File,
    contact_for_email,
    ticket_note,
    ticket_open,
    ticket_rate,
    ticket_reply,
    ticket_update,
)

# A form's attachments together: the body is refused past this before it is read.
_attachments_limit = upload_limit(lambda: MAX_ATTACHMENTS * MAX_ATTACHMENT_BYTES)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _ticket(request: HttpRequest, pk: int) -> Ticket:
    return get_object_or_404(
        tickets_visible_to(_user(request)).select_related(
            "contact", "assignee", "category", "policy__calendar", "order"
        ),
        pk=pk,
    )


@login_required
def ticket_queue(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    tickets, statuses = queue_filter(tickets_visible_to(user), request.GET, user)
    # Deep pages cost a read of page × 50 rows per status: they stop at MAX_PAGE.
    page = min(id_param(request.GET.get("page")) or 1, MAX_PAGE)
    page_of = queue(tickets, statuses, page=page)
    page_of.has_next = page_of.has_next and page < MAX_PAGE
    return render(
        request,
        "desk/queue.html",
        {
            "queue": page_of,
            "rows": queue_rows(page_of.tickets, timezone.now()),
            "ticket_url": reverse("desk:ticket", args=[0]).removesuffix("0/"),
            "view": request.GET.get("view", "active"),
            "filters": request.GET,
            "team": User.objects.filter(is_active=True),
            "kinds": TicketKind.choices,
            "channels": TicketChannel.choices,
            "priorities": TicketPriority.choices,
            "categories": Category.objects.all(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@_attachments_limit
def ticket_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    contact = None
    if (contact_id := id_param(request.GET.get("contact"))) is not None:
        contact = get_object_or_404(contacts_visible_to(user), pk=contact_id)
    form = TicketForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                customer = contact or _customer(data["email"], data["name"])
                ticket = ticket_open(
                    contact=customer,
                    subject=data["subject"],
                    body=data["body"],
                    kind=data["kind"],
                    channel=data["channel"],
                    priority=data["priority"],
                    category=data["category"],
                    order_ref=data["order_ref"],
                    assignee=data["assignee"],
                    by=user,
                    files=[File.from_upload(f) for f in data["attachments"]],
                    once=True,
                )
        except DeskError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("Ticket %(number)s opened.") % {"number": ticket.number})
            if not tickets_visible_to(user).filter(pk=ticket.pk).exists():
                # Another portfolio's customer: its owner answers it.
                return redirect("desk:queue")
            return redirect("desk:ticket", pk=ticket.pk)
    return render(request, "desk/ticket_new.html", {"form": form, "contact": contact})


def _customer(email: str, name: str, language: str = "") -> Contact:
    if not email:
        raise DeskError(
            "email", _("Give the customer's e-mail, or open the ticket from their page.")
        )
    return contact_for_email(email=email, name=name, language=language)


@login_required
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket(request, pk)
    initial: dict[str, Any] = {}
    template = None
    if (template_id := id_param(request.GET.get("template"))) is not None:
        template = ReplyTemplate.objects.filter(pk=template_id, active=True).first()
        if template is not None:
            try:
                initial["body"] = template_render(template, ticket, _user(request))
            except RenderError as error:
                messages.error(request, str(error))
    reply = ReplyForm(initial=initial)
    return _detail(request, ticket, reply, template=template)


def _detail(
    request: HttpRequest,
    ticket: Ticket,
    reply: ReplyForm,
    *,
    template: ReplyTemplate | None = None,
    warnings: list[str] | None = None,
) -> HttpResponse:
    now = timezone.now()
    remaining = None
    if ticket.policy is not None and ticket.due_at is not None:
        calendar = sla.calendar_of(ticket.policy.calendar, now)
        remaining = sla.remaining(ticket, calendar, now)
    update = UpdateForm(
        initial={
            "status": ticket.status,
            "assignee": ticket.assignee_id,
            "priority": ticket.priority,
            "kind": ticket.kind,
            "category": ticket.category_id,
        }
    )
    conversation = ticket.messages.select_related("author").prefetch_related("attachments")
    return render(
        request,
        "desk/ticket.html",
        {
            "ticket": ticket,
            "conversation": conversation,
            "reply": reply,
            "update": update,
            "templates": ReplyTemplate.objects.filter(active=True),
            "template": template,
            "apology_steps": APOLOGY_STEPS,
            "do_not_write": DO_NOT_WRITE,
            "warnings": warnings or [],
            "remaining": remaining,
            "now": now,
            "other_tickets": tickets_visible_to(_user(request))
            .filter(contact=ticket.contact_id)
            .exclude(pk=ticket.pk)
            .order_by("-created_at")[:5],
        },
    )


@login_required
@require_POST
@_attachments_limit
def ticket_reply_view(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket(request, pk)
    form = ReplyForm(request.POST, request.FILES)
    template = None
    if (template_id := id_param(request.POST.get("template"))) is not None:
        template = ReplyTemplate.objects.filter(pk=template_id).first()
    if not form.is_valid():
        return _detail(request, ticket, form, template=template)
    data = form.cleaned_data
    files = [File.from_upload(f) for f in data["attachments"]]
    if data["internal"]:
        try:
            ticket_note(ticket, by=_user(request), body=data["body"], files=files)
        except DeskError as error:
            form.add_error(None, error.message)
            return _detail(request, ticket, form, template=template)
        messages.success(request, _("Note added."))
        return redirect("desk:ticket", pk=ticket.pk)
    warnings = reply_warnings(data["body"])
    if warnings and not data["confirmed"]:
        # Shown once: the agent rewrites, or sends as it is.
        if files:
            # A page shown back cannot hold the uploads: say so, or the reply would go
            # without them.
            messages.warning(request, _("Choose the attachments again before sending."))
        form = ReplyForm(initial={**data, "confirmed": True})
        return _detail(request, ticket, form, template=template, warnings=warnings)
    try:
        message = ticket_reply(
            ticket, by=_user(request), body=data["body"], status=data["status"], files=files
        )
    except DeskError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _detail(request, ticket, form, template=template)
    if message.send_status:
        messages.success(request, _("Reply sent to %(email)s.") % {"email": ticket.contact.email})
    else:
        messages.warning(
            request, _("Reply recorded; the customer has no e-mail address, so tell them by phone.")
        )
    return redirect("desk:ticket", pk=ticket.pk)


@login_required
@require_POST
def ticket_update_view(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket(request, pk)
    form = UpdateForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, _("Check the ticket's fields: %(errors)s") % {"errors": form.errors.as_text()}
        )
        return redirect("desk:ticket", pk=ticket.pk)
    data = form.cleaned_data
    try:
        ticket_update(
            ticket,
            by=_user(request),
            status=data["status"],
            assignee=data["assignee"],
            priority=data["priority"],
            kind=data["kind"],
            category=data["category"],
        )
    except DeskError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Ticket updated."))
    return redirect("desk:ticket", pk=ticket.pk)


@login_required
def attachment(request: HttpRequest, pk: int) -> FileResponse:
    item = get_object_or_404(Attachment.objects.select_related("message"), pk=pk)
    _ticket(request, item.message.ticket_id)  # visible to this user, else 404
    return FileResponse(item.file.open("rb"), as_attachment=True, filename=item.name)


# -- Reply templates --------------------------------------------------------------------


@login_required
def template_list(request: HttpRequest) -> HttpResponse:
    context = {"templates": ReplyTemplate.objects.all(), "manages": _user(request).manages}
    return render(request, "desk/templates.html", context)


# The team's shared words to customers, like a régua's messages: agents use the templates
# from a ticket, managers and admins write them.
@manager_required
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    instance = get_object_or_404(ReplyTemplate, pk=pk) if pk else None
    form = ReplyTemplateForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Template saved."))
        return redirect("desk:templates")
    return render(
        request,
        "desk/template_form.html",
        {
            "form": form,
            "template": instance,
            "apology_steps": APOLOGY_STEPS,
            "do_not_write": DO_NOT_WRITE,
        },
    )


# -- Report -----------------------------------------------------------------------------


def _date(value: str, default: date) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return default


@login_required
def report(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    start = _date(request.GET.get("from", ""), today - timedelta(days=89))
    end = _date(request.GET.get("to", ""), today)
    group = request.GET.get("group", "month")
    tickets = tickets_visible_to(_user(request)).filter(period_q(start, end))
    kind = request.GET.get("kind", "")
    if kind in TicketKind.values:
        tickets = tickets.filter(kind=kind)
    segment = None
    if (segment_id := id_param(request.GET.get("segment"))) is not None:
        segment = Segment.objects.filter(pk=segment_id).first()
        if segment is not None:
            tickets = tickets.filter(contact__in=segment.members().values("pk"))
    total, rows = sla_report(tickets, group)
    labels = _labels(group, [row.key for row in rows])
    for row in rows:
        row.label = labels.get(row.key, row.key or _("(none)"))
    return render(
        request,
        "desk/report.html",
        {
            "total": total,
            "rows": rows,
            "start": start,
            "end": end,
            "group": group,
            "groups": [(g, _group_label(g)) for g in GROUPS],
            "kind": kind,
            "kinds": TicketKind.choices,
            "segments": Segment.objects.all(),
            "segment": segment,
        },
    )


def _group_label(group: str) -> str:
    return {
        "month": _("Month"),
        "assignee": _("Team member"),
        "kind": _("Kind"),
        "priority": _("Priority"),
        "channel": _("Channel"),
    }[group]


def _labels(group: str, keys: list[Any]) -> dict[Any, str]:
    if group == "assignee":
        ids = [int(k) for k in keys if k]
        return {str(u.pk): str(u) for u in User.objects.filter(pk__in=ids)}
    choices = {
        "kind": TicketKind.choices,
        "channel": TicketChannel.choices,
        "priority": [(str(v), label) for v, label in TicketPriority.choices],
    }.get(group)
    return {str(value): str(label) for value, label in choices} if choices else {}


# -- Public pages -----------------------------------------------------------------------


def _form_tickets_last_hour(email: str) -> int:
    """Tickets the contact form opened for this e-mail address in the last hour. Counted
    in the database, so every web process agrees, and by address, not by IP: behind a
    reverse proxy every visitor shares one IP."""
    since = timezone.now() - timedelta(hours=1)
    return Ticket.objects.filter(
        channel=TicketChannel.FORM, contact__email__iexact=email, created_at__gte=since
    ).count()


@require_http_methods(["GET", "POST"])
@_attachments_limit
def contact_form(request: HttpRequest) -> HttpResponse:
    """The public contact form: a ticket per message, the customer found by e-mail."""
    done = None
    if request.method == "POST":
        limited = ratelimits.refused(request, ratelimits.public_form("contact"))
        if limited:
            return limited
        form = ContactForm(request.POST, request.FILES)
        email = str(request.POST.get("email", "")).strip()
        if email and _form_tickets_last_hour(email) >= settings.REGUA_DESK_FORM_PER_HOUR:
            form.add_error(None, _("Too many messages from here. Please try again in an hour."))
        elif form.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():
                    # A new customer is answered in the language of the page they wrote on.
                    contact = _customer(data["email"], data["name"], translation.get_language())
                    done = ticket_open(
                        contact=contact,
                        subject=data["subject"],
                        body=data["body"],
                        kind=data["kind"],
                        channel=TicketChannel.FORM,
                        order_ref=data["order_ref"],
                        files=[File.from_upload(f) for f in data["attachments"]],
                        once=True,  # sent twice (a double click, a reload): one ticket
                    )
            except DeskError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
    else:
        form = ContactForm(initial={"stamp": ContactForm.new_stamp()})
    if request.method == "POST" and done is None:
        # A fresh stamp with the errors: the next attempt is timed from now.
        data = request.POST.copy()
        data["stamp"] = ContactForm.new_stamp()
        form.data = data
    return render(
        request,
        "desk/public/contact.html",
        {"form": form, "done": done, "brand": settings.REGUA_BRAND_NAME, "faq_url": _faq_url()},
    )


def _faq_url() -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("faq:index")
    except NoReverseMatch:
        return ""


@require_http_methods(["GET", "POST"])
def rating(request: HttpRequest, token: str, score: int) -> HttpResponse:
    """One click from the resolution e-mail records the rating; a comment may follow."""
    limited = ratelimits.refused(request, ratelimits.public_form("rating"))
    if limited:
        return limited
    ticket = rating_ticket(token)
    if ticket is None or score not in RATINGS:
        raise Http404
    error = ""
    commented = False
    with translation.override(ticket.contact.language):
        try:
            if request.method == "POST":
                ticket = ticket_rate(ticket, rating=score, comment=request.POST.get("comment", ""))
                commented = True
            else:
                ticket = ticket_rate(ticket, rating=score)
        except DeskError as problem:
            error = problem.message
        return render(
            request,
            "desk/public/rating.html",
            {
                "ticket": ticket,
                "score": score,
                "error": error,
                "commented": commented,
                "brand": settings.REGUA_BRAND_NAME,
                "language": ticket.contact.language,
            },
        )

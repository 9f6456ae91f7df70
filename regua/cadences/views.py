"""The régua pages: list, the ruler (editor and report), step editor, preview, outbox."""

from pathlib import Path

from csp.decorators import csp_update
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from regua.customers.models import Contact
from regua.customers.selectors import contacts_visible_to
from regua.lib.uploads import upload_limit
from regua.privacy import audit
from regua.users.models import User
from regua.users.permissions import manager_required

from .context import build as build_contexts
from .forms import YAML_MAX_BYTES, CadenceForm, StepForm, YamlImportForm
from .models import (
    Cadence,
    CadenceStatus,
    Delivery,
    DeliveryStatus,
    Enrollment,
    OutboxMessage,
    Step,
)
from .preview import cadence_preview, default_start
from .relationship import cadence_relationship
from .rendering import RenderError, render_message
from .report import cadence_funnel, cadence_uplift
from .ruler import ruler_marks
from .yaml_io import (
    CadenceError,
    cadence_export,
    cadence_import,
    cadence_set_status,
    step_apply,
    steps_reorder,
)

DEFAULTS_DIR = Path(__file__).parent / "defaults"


def _can_edit(user: User) -> bool:
    return user.is_authenticated and user.manages


# Agents read réguas and segments; changing them is for managers (403 for agents).
editor_required = manager_required


def _audit(request: HttpRequest, cadence: Cadence, change: str, **detail: object) -> None:
    """A change to what a régua sends, and to whom, in the audit log."""
    audit.record(
        request.user,
        audit.AuditAction.CHANGED_REGUA,
        target=cadence,
        detail={"change": change, **detail},
        request=request,
    )


@login_required
def cadence_list(request: HttpRequest) -> HttpResponse:
    cadences = Cadence.objects.exclude(status=CadenceStatus.ARCHIVED).annotate(
        step_count=Count("steps", filter=Q(steps__archived_at__isnull=True), distinct=True)
    )
    entered = dict(
        Enrollment.objects.values("cadence").annotate(n=Count("id")).values_list("cadence", "n")
    )
    sent = dict(
        Delivery.objects.filter(status=DeliveryStatus.SENT)
        .values("cadence")
        .annotate(n=Count("id"))
        .values_list("cadence", "n")
    )
    rows = [(c, entered.get(c.pk, 0), sent.get(c.pk, 0)) for c in cadences]
    return render(
        request,
        "cadences/list.html",
        {
            "rows": rows,
            "form": YamlImportForm(),
            "can_edit": _can_edit(request.user),
            "archived": Cadence.objects.filter(status=CadenceStatus.ARCHIVED).count(),
        },
    )


@editor_required
@require_POST
@upload_limit(lambda: YAML_MAX_BYTES)
def cadence_import_view(request: HttpRequest) -> HttpResponse:
    form = YamlImportForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            cadence, created = cadence_import(form.text())
        except CadenceError as error:
            for problem in error.problems:
                messages.error(request, problem)
            return redirect("cadences:list")
        _audit(request, cadence, "imported", created=created)
        messages.success(
            request,
            (_("Régua %(name)s created.") if created else _("Régua %(name)s updated."))
            % {"name": cadence.name},
        )
        return redirect("cadences:detail", key=cadence.key)
    for problems in form.errors.values():  # a file too large or not text
        for problem in problems:
            messages.error(request, problem)
    return redirect("cadences:list")


@editor_required
@require_POST
def install_defaults(request: HttpRequest) -> HttpResponse:
    installed = 0
    for path in sorted(DEFAULTS_DIR.glob("*.yaml")):
        if not Cadence.objects.filter(key=path.stem).exists():
            cadence, _created = cadence_import(path.read_text("utf-8"))
            _audit(request, cadence, "installed")
            installed += 1
    messages.success(
        request,
        ngettext(
            "%(n)d default régua installed as a draft.",
            "%(n)d default réguas installed as drafts.",
            installed,
        )
        % {"n": installed},
    )
    return redirect("cadences:list")


@editor_required
def cadence_new(request: HttpRequest) -> HttpResponse:
    form = CadenceForm(request.POST or None, initial={"priority": 50, "conversion_days": 30})
    if request.method == "POST" and form.is_valid():
        document = form.cleaned_data["document"]
        document["marketing"] = form.cleaned_data["marketing"]
        document["description"] = form.cleaned_data["description"]
        import yaml

        cadence, _created = cadence_import(yaml.safe_dump(document, allow_unicode=True))
        _audit(request, cadence, "created")
        return redirect("cadences:detail", key=cadence.key)
    return render(request, "cadences/settings.html", {"form": form, "cadence": None})


@editor_required
def cadence_settings(request: HttpRequest, key: str) -> HttpResponse:
    cadence = get_object_or_404(Cadence, key=key)
    form = CadenceForm(
        request.POST or None, cadence=cadence, initial=CadenceForm.initial_for(cadence)
    )
    if request.method == "POST" and form.is_valid():
        document = form.cleaned_data["document"]
        cadence.name = document["name"]
        cadence.description = form.cleaned_data["description"]
        cadence.objective = document["objective"]
        cadence.priority = document["priority"]
        cadence.marketing = form.cleaned_data["marketing"]
        cadence.holdout_percent = document["holdout_percent"]
        cadence.reentry = document["reentry"]
        cadence.conversion_days = document["conversion_days"]
        cadence.trigger = document["trigger"]
        cadence.audience = document["audience"]
        cadence.exit_goal = document["exit"]
        cadence.goal = document["goal"]
        cadence.save()
        _audit(request, cadence, "settings")
        messages.success(request, _("Saved."))
        return redirect("cadences:detail", key=cadence.key)
    return render(request, "cadences/settings.html", {"form": form, "cadence": cadence})


@login_required
def cadence_detail(request: HttpRequest, key: str) -> HttpResponse:
    from regua.segments.models import Segment

    cadence = get_object_or_404(Cadence, key=key)
    steps = list(cadence.steps.filter(archived_at__isnull=True).order_by("position", "id"))
    segments = list(Segment.objects.all())
    chosen = next((s for s in segments if str(s.pk) == request.GET.get("segment")), None)
    contacts = chosen.as_q() if chosen else None
    return render(
        request,
        "cadences/detail.html",
        {
            "cadence": cadence,
            "marks": ruler_marks(steps),
            "funnel": cadence_funnel(cadence, contacts=contacts),
            "uplift": cadence_uplift(cadence, contacts=contacts),
            "segments": segments,
            "segment": chosen,
            "relationship": cadence_relationship(cadence, steps),
            "can_edit": _can_edit(request.user),
            "statuses": CadenceStatus,
        },
    )


@editor_required
@require_POST
def cadence_broadcast(request: HttpRequest, key: str) -> HttpResponse:
    """Send a manual régua to the members of a segment: they enter it now."""
    from regua.segments.models import Segment
    from regua.segments.rules import RuleError

    from .tick import cadence_enroll

    cadence = get_object_or_404(Cadence, key=key)
    segment = Segment.objects.filter(pk=request.POST.get("segment") or 0).first()
    if cadence.trigger_kind != "manual" or cadence.status != CadenceStatus.ACTIVE:
        messages.error(request, _("Only an active régua with a manual trigger is sent this way."))
    elif segment is None:
        messages.error(request, _("Choose a segment."))
    else:
        try:
            entered = cadence_enroll(cadence=cadence, contacts=segment.as_q(), now=timezone.now())
        except RuleError as error:
            messages.error(request, str(error))
        else:
            _audit(request, cadence, "broadcast", segment=segment.pk, entered=entered)
            messages.success(
                request,
                ngettext(
                    "%(count)d contact of %(segment)s entered the régua.",
                    "%(count)d contacts of %(segment)s entered the régua.",
                    entered,
                )
                % {"count": entered, "segment": segment.name},
            )
    return redirect("cadences:detail", key=cadence.key)


@editor_required
@require_POST
def cadence_status(request: HttpRequest, key: str) -> HttpResponse:
    cadence = get_object_or_404(Cadence, key=key)
    status = request.POST.get("status", "")
    if status not in CadenceStatus.values:
        raise Http404
    cadence_set_status(cadence, status)
    _audit(request, cadence, "status", status=status)
    messages.success(
        request, _("Régua is now %(status)s.") % {"status": cadence.get_status_display().lower()}
    )
    return redirect("cadences:detail", key=cadence.key)


@login_required
def cadence_yaml(request: HttpRequest, key: str) -> HttpResponse:
    cadence = get_object_or_404(Cadence, key=key)
    response = HttpResponse(cadence_export(cadence), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{cadence.key}.yaml"'
    return response


@editor_required
def step_edit(request: HttpRequest, key: str, step_key: str | None = None) -> HttpResponse:
    cadence = get_object_or_404(Cadence, key=key)
    step = get_object_or_404(Step, cadence=cadence, key=step_key) if step_key else None
    initial = StepForm.initial_for(step) if step else {"offset": "0", "channel": "email"}
    form = StepForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        spec = form.cleaned_data["spec"]
        taken = cadence.steps.filter(key=spec["key"]).exclude(pk=getattr(step, "pk", None))
        if taken.exists():
            form.add_error("key", _("Another step of this régua has this key."))
            return render(
                request, "cadences/step.html", {"form": form, "cadence": cadence, "step": step}
            )
        if step is None:
            step = Step(cadence=cadence, key=spec["key"])
            position = cadence.steps.count()
        else:
            step.key = spec["key"]
            position = None
        step_apply(step, spec, position=position)
        steps_reorder(cadence)
        _audit(request, cadence, "step", step=step.key)
        messages.success(request, _("Step saved."))
        return redirect("cadences:detail", key=cadence.key)
    return render(request, "cadences/step.html", {"form": form, "cadence": cadence, "step": step})


@editor_required
@require_POST
def step_archive(request: HttpRequest, key: str, step_key: str) -> HttpResponse:
    step = get_object_or_404(Step, cadence__key=key, key=step_key)
    step.archived_at = timezone.now()
    step.save(update_fields=["archived_at", "updated_at"])
    Delivery.objects.filter(step=step, status=DeliveryStatus.SCHEDULED).update(
        status=DeliveryStatus.CANCELLED, reason="step removed"
    )
    _audit(request, step.cadence, "step_archived", step=step.key)
    messages.success(request, _("Step removed; what it already sent stays in the report."))
    return redirect("cadences:detail", key=key)


@login_required
def cadence_preview_view(request: HttpRequest, key: str) -> HttpResponse:
    cadence = get_object_or_404(Cadence, key=key)
    backtest = request.GET.get("period") == "past"
    preview = cadence_preview(
        cadence,
        start=default_start(backtest),
        visible=_private_portfolio(request.user),  # type: ignore[arg-type]
    )
    return render(
        request,
        "cadences/preview.html",
        {"cadence": cadence, "preview": preview, "backtest": backtest},
    )


@editor_required
@require_POST
# The rendered e-mail is shown in a srcdoc frame, which takes this page's policy: e-mails
# are styled inline and may show remote images (the frame's sandbox still runs no script).
@csp_update({"style-src": ["'unsafe-inline'"], "img-src": ["https:", "http:"]})
def step_test_send(request: HttpRequest, key: str, step_key: str) -> HttpResponse:
    """Render a step for a real contact and send it to the signed-in user."""
    from .channels import Outgoing, backend_for

    step = get_object_or_404(Step.objects.select_related("cadence"), cadence__key=key, key=step_key)
    contact_id = request.POST.get("contact", "")
    contacts = Contact.objects.select_related("owner")
    contact = (
        (contacts.filter(pk=contact_id).first() if contact_id.isdigit() else None)
        or contacts.filter(enrollments__cadence=step.cadence).first()
        or contacts.first()
    )
    if contact is None:
        messages.error(request, _("There is no contact to render the message for."))
        return redirect("cadences:detail", key=key)
    probe = Delivery(
        id=0,
        contact=contact,
        step=step,
        cadence=step.cadence,
        enrollment=Enrollment(trigger_event_id=None),
        channel=step.channel,
    )
    if not step.message:
        messages.error(request, _("This step has no message to test."))
        return redirect("cadences:detail", key=key)
    context = build_contexts([probe], timezone.now())[0]
    try:
        rendered = render_message(step.channel, step.message, contact.language, context)
    except RenderError as error:
        messages.error(
            request,
            _("The message does not render for %(name)s: %(problem)s")
            % {"name": contact.name, "problem": error.problem},
        )
        return redirect("cadences:detail", key=key)
    if step.channel == "email" and request.user.email:
        backend = backend_for("email")
        result = backend.send(
            Outgoing(
                delivery_id=0,
                channel="email",
                to=request.user.email,
                subject=_("[Test] %(subject)s") % {"subject": rendered.subject},
                text=rendered.text,
                html=rendered.html,
                message_id=f"<regua.test.{timezone.now().timestamp()}@regua>",
            )
        )
        backend.close()
        if result.outcome == "sent":
            messages.success(
                request,
                _("Test sent to %(email)s, rendered for %(name)s.")
                % {"email": request.user.email, "name": contact.name},
            )
        else:
            messages.error(
                request, _("The test was not sent: %(reason)s") % {"reason": result.reason}
            )
    return render(
        request,
        "cadences/test_send.html",
        {"cadence": step.cadence, "step": step, "contact": contact, "rendered": rendered},
    )


def _private_portfolio(user: User) -> QuerySet[Contact] | None:
    """The contacts an agent with a private portfolio may see; None for who sees all."""
    return None if user.sees_all_contacts else contacts_visible_to(user)


def _outbox_for(user: User) -> QuerySet[OutboxMessage]:
    """The kept messages this user may read: an agent with a private portfolio reads
    those a régua sent to the portfolio's contacts, not the team's other mail."""
    rows = OutboxMessage.objects.all()
    visible = _private_portfolio(user)
    if visible is not None:
        rows = rows.filter(delivery__contact__in=visible.values("pk"))
    return rows


@login_required
def outbox(request: HttpRequest) -> HttpResponse:
    rows = _outbox_for(request.user).order_by("-created_at", "-id")  # type: ignore[arg-type]
    channel = request.GET.get("channel", "")
    if channel:
        rows = rows.filter(channel=channel)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "cadences/outbox.html", {"page": page, "channel": channel})


@login_required
@xframe_options_sameorigin  # the message page shows it in a sandboxed frame
def outbox_message(request: HttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(_outbox_for(request.user), pk=pk)  # type: ignore[arg-type]
    if request.GET.get("raw") == "html":
        response = HttpResponse(message.html)
        # Shown inside a sandboxed frame: no scripts, no forms, no navigation of the app;
        # its own policy (the app's allows no inline style, which e-mails are made of),
        # framed by the outbox page only.
        response["Content-Security-Policy"] = (
            "sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'; "
            "frame-ancestors 'self'"
        )
        return response
    return render(request, "cadences/outbox_message.html", {"message": message})

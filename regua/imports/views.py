from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from regua.lib.csv_safe import csv_response
from regua.lib.uploads import upload_limit
from regua.privacy import audit
from regua.users.models import Role

from .forms import ImportForm
from .models import ImportJob
from .services import import_job_retry, import_job_start


def _jobs_for(request: HttpRequest):  # type: ignore[no-untyped-def]
    jobs = ImportJob.objects.select_related("created_by")
    if request.user.role == Role.AGENT:  # type: ignore[union-attr]
        jobs = jobs.filter(created_by=request.user)
    return jobs


def _import_max_bytes() -> int:
    return int(settings.IMPORT_MAX_UPLOAD_MB) * 1024 * 1024


@login_required
@upload_limit(_import_max_bytes)
def import_list(request: HttpRequest) -> HttpResponse:
    # An import updates the contacts it names, whoever owns them: with private
    # portfolios it is for those who see every contact.
    may_import = request.user.sees_all_contacts  # type: ignore[union-attr]
    if request.method == "POST" and not may_import:
        raise PermissionDenied(
            _("With private portfolios, only managers and administrators import files.")
        )
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = import_job_start(
            kind=form.cleaned_data["kind"],
            upload=form.cleaned_data["file"],
            create_contacts=form.cleaned_data["create_contacts"],
            user=request.user,  # type: ignore[arg-type]
        )
        return redirect("imports:detail", job_id=job.pk)
    jobs = _jobs_for(request)[:20]
    return render(
        request,
        "imports/import_list.html",
        {"form": form, "jobs": jobs, "may_import": may_import},
    )


@login_required
def import_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(_jobs_for(request), pk=job_id)
    template = "imports/_progress.html" if request.htmx else "imports/import_detail.html"  # type: ignore[attr-defined]
    return render(request, template, {"job": job})


@login_required
@require_POST
def import_retry(request: HttpRequest, job_id: int) -> HttpResponse:
    """Start a failed or stalled import again; it goes on where it stopped."""
    job = get_object_or_404(_jobs_for(request), pk=job_id)
    import_job_retry(job=job)
    return redirect("imports:detail", job_id=job.pk)


@login_required
def import_errors_csv(request: HttpRequest, job_id: int) -> HttpResponseBase:
    """The rows an import refused, as CSV: line, field, message. The field is a column
    name from the uploaded file and the message may quote a value: both are the
    uploader's text, so the cells go through csv_safe like every other CSV."""
    job = get_object_or_404(_jobs_for(request), pk=job_id)
    rows = ([error["line"], error["field"], error["message"]] for error in job.errors)
    # The refused rows quote customers' data: who downloaded them goes on the audit log.
    audit.record(request.user, audit.AuditAction.VIEWED_EXPORT, target=job, request=request)
    # ';' as a spreadsheet in Brazil expects; the uploaded files mostly use it too.
    return csv_response(
        f"import-{job.pk}-errors.csv",
        ["line", "field", "message"],
        rows,
        stream=False,
        delimiter=";",
    )

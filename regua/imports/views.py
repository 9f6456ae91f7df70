import csv

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from regua.users.models import Role

from .forms import ImportForm
from .models import ImportJob
from .services import import_job_retry, import_job_start


def _jobs_for(request: HttpRequest):  # type: ignore[no-untyped-def]
    jobs = ImportJob.objects.select_related("created_by")
    if request.user.role == Role.AGENT:  # type: ignore[union-attr]
        jobs = jobs.filter(created_by=request.user)
    return jobs


@login_required
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
def import_errors_csv(request: HttpRequest, job_id: int) -> HttpResponse:
    """The rows an import refused, as CSV: line, field, message."""
    job = get_object_or_404(_jobs_for(request), pk=job_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    response.write("\ufeff")  # so that Excel reads the file as UTF-8
    writer = csv.writer(response, delimiter=";")
    writer.writerow(["line", "field", "message"])
    for error in job.errors:
        writer.writerow([error["line"], error["field"], _safe_cell(error["message"])])
    return response


def _safe_cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value

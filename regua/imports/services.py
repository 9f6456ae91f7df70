"""Starting an import from the UI, and starting again one that stopped half-way."""

from datetime import datetime
from functools import partial

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone, translation

from regua.lib.uploads import display_name, storage_name
from regua.users.models import User

from .models import ImportJob, ImportStatus
from .tasks import import_job_run


def import_job_start(
    *, kind: str, upload: UploadedFile, create_contacts: bool, user: User
) -> ImportJob:
    """Store the upload, record the job and queue it once the transaction commits.

    The file is kept under a random name; the uploader's name is only shown."""
    original_name = display_name(upload.name, "import.csv")
    upload.name = storage_name(".csv")
    with transaction.atomic():
        job = ImportJob.objects.create(
            kind=kind,
            file=upload,
            original_name=original_name,
            total_bytes=upload.size or 0,
            create_contacts=create_contacts,
            created_by=user,
            language=translation.get_language() or "",
        )
        transaction.on_commit(lambda: import_job_run.enqueue(job.pk))
    return job


def import_job_retry(*, job: ImportJob) -> bool:
    """Queue a failed or stalled import again: it goes on after the last chunk it wrote.
    False when the job is neither (done, or running and alive)."""
    return _requeue(ImportJob.objects.filter(pk=job.pk), now=timezone.now()) == 1


def import_jobs_resume_stalled(*, now: datetime) -> int:
    """Queue again the imports whose process died mid-way (killed, or its machine went
    down): running, with no progress written for ImportJob.STALLED_AFTER. For the worker
    to call now and then; returns how many were queued."""
    stalled = ImportJob.objects.filter(status=ImportStatus.RUNNING)
    return _requeue(stalled, now=now)


def _requeue(jobs: QuerySet[ImportJob], *, now: datetime) -> int:
    retryable = Q(status=ImportStatus.FAILED) | Q(
        status=ImportStatus.RUNNING, updated_at__lt=now - ImportJob.STALLED_AFTER
    )
    ids = list(jobs.filter(retryable).values_list("pk", flat=True))
    queued = 0
    for job_id in ids:  # a handful of jobs at most: each taken by a conditional UPDATE
        with transaction.atomic():
            taken = ImportJob.objects.filter(retryable, pk=job_id).update(
                status=ImportStatus.PENDING, updated_at=timezone.now()
            )
            if taken:
                transaction.on_commit(partial(import_job_run.enqueue, job_id))
        queued += taken
    return queued

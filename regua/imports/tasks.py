"""The background job behind an import started from the UI."""

import logging

from django.utils import timezone, translation
from django_tasks import task

from regua.core.ingest import BatchResult

from .csvfile import ImportFileError
from .models import ImportJob, ImportStatus
from .runner import import_file

log = logging.getLogger(__name__)


@task()
def import_job_run(job_id: int) -> None:
    """Import the job's file, keeping its progress and report up to date on the job row."""
    job = ImportJob.objects.get(pk=job_id)
    if job.status != ImportStatus.PENDING:
        return  # already taken: a task delivered twice does nothing twice
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.PENDING).update(
        status=ImportStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return

    def progress(done: int, total: int, result: BatchResult) -> None:
        ImportJob.objects.filter(pk=job_id).update(
            processed_bytes=done, total_bytes=total, rows=_rows(result), **_counts(result)
        )

    with translation.override(job.language or None):
        try:
            result = import_file(
                job.kind, job.file.path, create_contacts=job.create_contacts, on_progress=progress
            )
        except ImportFileError as exc:
            _finish(job_id, ImportStatus.FAILED, failure=str(exc))
            return
        except Exception as exc:
            log.exception("import %s failed", job_id)
            _finish(job_id, ImportStatus.FAILED, failure=f"{type(exc).__name__}: {exc}")
            raise
    errors = [error.as_dict() for error in result.errors[: ImportJob.MAX_STORED_ERRORS]]
    _finish(job_id, ImportStatus.DONE, errors=errors, rows=_rows(result), **_counts(result))


def _counts(result: BatchResult) -> dict[str, int]:
    return {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "skipped": result.skipped,
        "contacts_created": result.contacts_created,
    }


def _rows(result: BatchResult) -> int:
    return result.created + result.updated + result.unchanged + result.skipped


def _finish(job_id: int, status: str, **fields: object) -> None:
    ImportJob.objects.filter(pk=job_id).update(
        status=status, finished_at=timezone.now(), updated_at=timezone.now(), **fields
    )

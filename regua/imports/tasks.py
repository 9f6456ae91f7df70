"""The background job behind an import started from the UI."""

import logging

from django.db import InterfaceError, OperationalError, close_old_connections
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tasks import task

from regua.core.ingest import BatchResult, RowError

from .csvfile import ImportFileError
from .models import ImportJob, ImportStatus
from .runner import Checkpoint, import_file

log = logging.getLogger(__name__)


@task()
def import_job_run(job_id: int) -> None:
    """Import the job's file, keeping its progress and report up to date on the job row.

    A job that was interrupted (its process killed, the database gone) goes on after the
    last chunk it wrote: the job row's counts and `lines_done` commit with each chunk.
    """
    job = ImportJob.objects.get(pk=job_id)
    if job.status != ImportStatus.PENDING:
        return  # already taken: a task delivered twice does nothing twice
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.PENDING).update(
        status=ImportStatus.RUNNING,
        started_at=Coalesce("started_at", Value(now)),
        updated_at=now,
        finished_at=None,
        failure="",
    )
    if not claimed:
        return
    stored_errors = len(job.errors)

    def progress(checkpoint: Checkpoint) -> None:
        nonlocal stored_errors
        result = checkpoint.result
        errors = {}
        if stored_errors < min(len(result.errors), ImportJob.MAX_STORED_ERRORS):
            errors["errors"] = _stored(result)  # only while there are new ones to keep
            stored_errors = len(errors["errors"])
        ImportJob.objects.filter(pk=job_id).update(
            processed_bytes=checkpoint.position,
            total_bytes=checkpoint.size,
            lines_done=checkpoint.line,
            rows=_rows(result),
            updated_at=timezone.now(),
            **_counts(result),
            **errors,
        )

    with translation.override(job.language or None):
        try:
            result = import_file(
                job.kind,
                job.file.path,
                create_contacts=job.create_contacts,
                on_progress=progress,
                after_line=job.lines_done,
                so_far=_so_far(job),
            )
        except ImportFileError as exc:
            _finish(job_id, ImportStatus.FAILED, failure=str(exc))
            return
        except (OperationalError, InterfaceError) as exc:
            # Disk full, the database restarted: nothing of the chunk in hand was kept,
            # and a retry goes on after the last chunk written. Not raised again: the
            # job row says what happened, which is what the task's record would say.
            log.warning("import %s stopped: %s: %s", job_id, type(exc).__name__, exc)
            close_old_connections()  # a broken connection is replaced before the report
            saved = ImportJob.objects.values_list("lines_done", flat=True).get(pk=job_id)
            _finish(job_id, ImportStatus.FAILED, failure=_database_failure(exc, saved))
            return
        except Exception as exc:
            log.exception("import %s failed", job_id)
            _finish(job_id, ImportStatus.FAILED, failure=f"{type(exc).__name__}: {exc}")
            raise
    _finish(
        job_id, ImportStatus.DONE, errors=_stored(result), rows=_rows(result), **_counts(result)
    )


def _so_far(job: ImportJob) -> BatchResult:
    """The totals an interrupted run of the job recorded, to go on from."""
    return BatchResult(
        created=job.created,
        updated=job.updated,
        unchanged=job.unchanged,
        skipped=job.skipped,
        contacts_created=job.contacts_created,
        errors=[RowError(e["line"], e["field"], e["message"]) for e in job.errors],
    )


def _database_failure(exc: Exception, lines_done: int) -> str:
    """What the user reads: the cause in one line, and that a retry loses nothing."""
    if _disk_full(exc):
        reason = _("the database's disk is full: free some space, then retry.")
    else:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        reason = _(
            "the database stopped answering or refused to write (%(error)s): retry once it is back."
        ) % {"error": first_line}
    if not lines_done:
        return reason
    saved = _("The lines up to %(line)d are imported; a retry goes on from the next one.")
    return f"{reason} {saved % {'line': lines_done}}"


def _disk_full(exc: Exception) -> bool:
    """SQLite's SQLITE_FULL, or PostgreSQL's disk_full (SQLSTATE 53100)."""
    return (
        "database or disk is full" in str(exc)
        or getattr(exc.__cause__, "sqlstate", None) == "53100"
        or "No space left on device" in str(exc)
    )


def _stored(result: BatchResult) -> list[dict[str, object]]:
    return [error.as_dict() for error in result.errors[: ImportJob.MAX_STORED_ERRORS]]


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

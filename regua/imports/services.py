"""Starting an import from the UI."""

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import translation

from regua.users.models import User

from .models import ImportJob
from .tasks import import_job_run


def import_job_start(
    *, kind: str, upload: UploadedFile, create_contacts: bool, user: User
) -> ImportJob:
    """Store the upload, record the job and queue it once the transaction commits."""
    with transaction.atomic():
        job = ImportJob.objects.create(
            kind=kind,
            file=upload,
            original_name=upload.name or "import.csv",
            total_bytes=upload.size or 0,
            create_contacts=create_contacts,
            created_by=user,
            language=translation.get_language() or "",
        )
        transaction.on_commit(lambda: import_job_run.enqueue(job.pk))
    return job

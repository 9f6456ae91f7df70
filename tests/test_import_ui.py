"""Importing from the UI: upload → background job → progress → report."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from regua.customers.models import Contact
from regua.imports.models import ImportJob

GOOD_AND_BAD = "email;nome;uf\nana@x.com;Ana;SP\nbad@@x.com;Bad;SP\n=1+1;Formula;XX\n"


def upload(client, text: str, kind: str = "contacts"):  # type: ignore[no-untyped-def]
    file = SimpleUploadedFile("clientes.csv", text.encode(), content_type="text/csv")
    return client.post("/imports/", {"kind": kind, "file": file, "create_contacts": "on"})


@pytest.mark.django_db
def test_an_upload_runs_in_the_background_and_reports_each_bad_row(  # type: ignore[no-untyped-def]
    client_for, alice, settings, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    settings.MEDIA_ROOT = tmp_path
    client = client_for(alice)
    # when a file is uploaded
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, GOOD_AND_BAD)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/imports/{job.pk}/"
    # then the job ran and its report says what happened to each row
    assert (job.status, job.created, job.skipped, job.rows) == ("done", 1, 2, 3)
    assert [(e["line"], e["field"]) for e in job.errors] == [
        (3, "email"),
        (4, "email"),
        (4, "state"),
    ]
    assert Contact.objects.get().email == "ana@x.com"
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "bad@@x.com" in page
    progress = client.get(f"/imports/{job.pk}/", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in progress and "every 1s" not in progress  # finished: polling stops
    # the refused rows download as CSV, safe to open in a spreadsheet
    csv = client.get(f"/imports/{job.pk}/errors.csv").content.decode("utf-8-sig")
    assert csv.splitlines()[0] == "line;field;message"
    assert "4;email;'=1+1 " in csv  # in the uploader's language: pt-BR here
    # and who downloaded them (they quote customers' data) is on the audit log
    from regua.privacy.models import AuditAction, AuditEntry

    entry = AuditEntry.objects.get(action=AuditAction.VIEWED_EXPORT)
    assert (entry.actor, entry.object_type, entry.object_id) == (alice, "importjob", str(job.pk))


@pytest.mark.django_db
def test_an_unreadable_upload_fails_with_its_reason(
    client_for,
    alice,
    settings,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        upload(client_for(alice), "nome;cidade\nAna;Natal\n")
    job = ImportJob.objects.get()
    assert job.status == "failed"
    assert "external_id" in job.failure


@pytest.mark.django_db
def test_workbooks_are_refused_at_upload(client_for, alice, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    file = SimpleUploadedFile("clientes.xlsx", b"PK\x03\x04 zip", content_type="application/zip")
    response = client_for(alice).post("/imports/", {"kind": "contacts", "file": file})
    assert response.status_code == 200
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_agents_see_only_their_own_imports(
    client_for,
    alice,
    bob,
    settings,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        upload(client_for(alice), GOOD_AND_BAD)
    job = ImportJob.objects.get()
    assert client_for(bob).get(f"/imports/{job.pk}/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_database_queue_and_the_worker_run_an_import(
    client_for, alice, settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # given the real task backend: the job waits in the database…
    settings.MEDIA_ROOT = tmp_path
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    upload(client_for(alice), GOOD_AND_BAD)
    assert ImportJob.objects.get().status == "pending"
    # …until a worker takes it
    call_command("worker", "--batch", verbosity=0)
    assert ImportJob.objects.get().status == "done"
    assert Contact.objects.count() == 1

"""Uploads: the CSV import, the service desk's attachments (the public contact form
too) and a régua's YAML file are size-limited before the body is read or saved,
type-checked by their content (not their name), and kept under names that are labels,
never paths."""

import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import LimitedStream
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from regua.cadences.models import Cadence
from regua.customers.models import Contact
from regua.desk.forms import ContactForm
from regua.desk.models import Ticket
from regua.imports.csvfile import sniff_problem
from regua.imports.models import ImportJob
from regua.imports.views import import_list
from regua.lib.uploads import MAX_NAME_CHARS, attachment_problem, display_name
from regua.users.models import User

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
CSV = "email;nome;cidade\nana@exemplo.com.br;Ana Lima;Recife\n"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = None


class _CountingReader(io.BytesIO):
    """A request body that remembers how much of it the server read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size: int | None = -1) -> bytes:
        chunk = super().readline(size)
        self.bytes_read += len(chunk)
        return chunk


def import_request(user: User, content: bytes, *, declared: int | None = None) -> Any:
    """A POST of the import form as it comes off the network, its body counted."""
    request = RequestFactory().post(
        "/imports/",
        {"kind": "contacts", "file": SimpleUploadedFile("clientes.csv", content, "text/csv")},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    body = request.read()
    request = RequestFactory().generic(
        "POST", "/imports/", body, content_type=request.META["CONTENT_TYPE"]
    )
    reader = _CountingReader(body)
    request.META["CONTENT_LENGTH"] = str(declared if declared is not None else len(body))
    request._stream = LimitedStream(reader, len(body))
    request.user = user
    request._dont_enforce_csrf_checks = True
    request.session = {}
    request.reader = reader
    return request


# -- The import ---------------------------------------------------------------------------


def test_an_import_declared_larger_than_the_limit_is_refused_before_a_byte_is_read(
    manager: User, settings: Any
) -> None:
    settings.IMPORT_MAX_UPLOAD_MB = 1
    request = import_request(manager, b"a;b\n" * (MB // 2))  # 2 MB, said as it is

    response = import_list(request)

    assert response.status_code == 413
    assert request.reader.bytes_read == 0
    page = response.content.decode()
    assert re.search(r"up to 1[.,]0\s*MB in all; nothing was saved", page)
    assert not ImportJob.objects.exists()


def test_an_import_file_past_the_limit_stops_being_read_where_the_limit_is(
    manager: User, settings: Any
) -> None:
    # the body (1.5 MB) is within the limit and its slack for the form's other fields,
    # the file alone is not: reading stops at the limit, and nothing is kept
    settings.IMPORT_MAX_UPLOAD_MB = 1
    request = import_request(manager, b"a;b\n" * (3 * MB // 8))

    response = import_list(request)

    assert response.status_code == 413
    total = int(request.META["CONTENT_LENGTH"])
    assert request.reader.bytes_read < total
    assert request.reader.bytes_read <= MB + 2 * 64 * 1024  # up to a chunk or two past it
    assert not ImportJob.objects.exists()
    assert not any(Path(settings.MEDIA_ROOT).glob("**/*.csv"))


def test_a_file_within_the_limit_is_imported(
    client_for: Any, manager: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.IMPORT_MAX_UPLOAD_MB = 1
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(manager).post(
            "/imports/",
            {"kind": "contacts", "file": SimpleUploadedFile("c.csv", CSV.encode(), "text/csv")},
        )
    assert response.status_code == 302
    assert Contact.objects.get().city == "Recife"


def test_the_import_page_still_checks_the_csrf_token(manager: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    response = client.post(
        "/imports/",
        {"kind": "contacts", "file": SimpleUploadedFile("c.csv", CSV.encode(), "text/csv")},
    )
    assert response.status_code == 403
    assert not ImportJob.objects.exists()


DISGUISED = [
    (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40, "spreadsheet workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "Excel 97 workbook"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "binary file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
    (b"\x1f\x8b\x08\x00" + bytes(range(1, 40)), "binary file"),
    (bytes(range(256)) * 4, "binary file"),
    ("email;nome\nana@x.com;Ana\n".encode("utf-16-le"), "UTF-16 without a byte-order mark"),
    (b"\xff\xfe\x00\x00" + "email\n".encode("utf-32-le"), "UTF-32"),
]


@pytest.mark.parametrize(("content", "reason"), DISGUISED, ids=[r for _c, r in DISGUISED])
def test_a_file_that_is_not_csv_is_refused_at_upload_whatever_its_name(
    client_for: Any, manager: User, content: bytes, reason: str
) -> None:
    response = client_for(manager).post(
        "/imports/",
        {"kind": "contacts", "file": SimpleUploadedFile("clientes.csv", content, "text/csv")},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200  # the form again, with the reason
    assert reason in response.content.decode()
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"], ids=str)
def test_the_encodings_spreadsheets_write_are_read_right(
    client_for: Any, manager: User, encoding: str, django_capture_on_commit_callbacks: Any
) -> None:
    text = "email;nome;cidade\njoao@exemplo.com.br;João Conceição;São Paulo\n"
    with django_capture_on_commit_callbacks(execute=True):
        client_for(manager).post(
            "/imports/",
            {
                "kind": "contacts",
                "file": SimpleUploadedFile("c.csv", text.encode(encoding), "text/csv"),
            },
        )
    contact = Contact.objects.get()
    assert (contact.first_name, contact.last_name, contact.city) == (
        "João",
        "Conceição",
        "São Paulo",
    )


def test_the_uploaded_name_is_a_label_and_the_file_is_kept_under_a_random_name(
    client_for: Any, manager: User, django_capture_on_commit_callbacks: Any
) -> None:
    name = "..\\..\\pasta/" + "\x07<i>Clientes<i> " + "x" * 300 + ".csv"
    with django_capture_on_commit_callbacks(execute=True):
        client_for(manager).post(
            "/imports/",
            {"kind": "contacts", "file": SimpleUploadedFile(name, CSV.encode(), "text/csv")},
        )
    job = ImportJob.objects.get()
    assert "/" not in job.original_name and "\\" not in job.original_name
    assert "\x07" not in job.original_name
    assert len(job.original_name) <= MAX_NAME_CHARS and job.original_name.endswith(".csv")
    assert job.original_name.startswith("<i>Clientes<i> xxx")  # shown escaped, as written
    stored = Path(job.file.name)
    assert stored.parent.parts[0] == "imports"
    assert len(stored.stem) == 16 and stored.suffix == ".csv"
    page = client_for(manager).get("/imports/").content.decode()
    assert "&lt;i&gt;Clientes&lt;i&gt;" in page


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\clientes.csv", "clientes.csv"),
        ("..", "file"),
        ("", "file"),
        ("a\x00b\x1f.csv", "ab.csv"),
        ("Cafe\u0301.csv", "Café.csv"),
    ],
)
def test_display_names(name: str, shown: str) -> None:
    assert display_name(name) == shown


def test_sniffing_lets_text_through() -> None:
    assert sniff_problem("email;nome\nana@x.com;Ana Lima\n".encode("cp1252")) is None
    assert sniff_problem("\ufeffemail\n".encode()) is None
    assert sniff_problem("email\n".encode("utf-16")) is None
    assert sniff_problem(b"a\tb\r\nc\td\r\n") is None


# -- The service desk's attachments ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "refused"),
    [
        ("foto.png", b"\x89PNG\r\n\x1a\nrest", False),
        ("nota.pdf", b"%PDF-1.4 ...", False),
        ("planilha.xlsx", b"PK\x03\x04rest", False),
        ("texto.txt", b"ola", False),
        ("pagina.html", b"<p>oi</p>", True),
        ("desenho.svg", b"<svg onload=alert(1)>", True),
        ("programa.exe", b"MZ\x90\x00", True),
        ("foto.png", b"<!DOCTYPE html><script>alert(1)</script>", True),
        ("nota.pdf", b"MZ\x90\x00", True),
        ("foto.jpg", b"GIF89a", True),
        ("script.txt", b"#!/bin/sh\nrm -rf /", True),
        ("x.PnG", b"<svg/onload=alert(1)>", True),
    ],
)
def test_attachments_must_be_what_their_name_says_and_nothing_that_runs(
    name: str, content: bytes, refused: bool
) -> None:
    assert (attachment_problem(name, content) is not None) is refused


def _contact_form(**changes: Any) -> dict[str, Any]:
    with time_machine.travel(timezone.now() - timedelta(seconds=30)):
        stamp = ContactForm.new_stamp()
    return {
        "name": "Ana",
        "email": "ana@cliente.com.br",
        "kind": "question",
        "subject": "Pedido",
        "body": "Olá",
        "stamp": stamp,
        **changes,
    }


def test_the_public_form_refuses_a_page_disguised_as_a_photo(db: None) -> None:
    upload = SimpleUploadedFile("foto.png", b"<html><script>alert(1)</script>", "image/png")
    response = Client().post(
        reverse("desk_public:contact"),
        {**_contact_form(), "attachments": [upload]},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "foto.png: programs and web pages are not accepted" in response.content.decode()
    assert not Ticket.objects.exists()


def test_the_public_form_refuses_a_body_past_the_attachments_limit_before_reading_it(
    db: None, monkeypatch: Any
) -> None:
    monkeypatch.setattr("regua.desk.views.MAX_ATTACHMENT_BYTES", 1000)
    upload = SimpleUploadedFile("foto.png", b"\x89PNG" + b"x" * (6 * 1000 + 2 * MB), "image/png")
    response = Client().post(
        reverse("desk_public:contact"), {**_contact_form(), "attachments": [upload]}
    )
    assert response.status_code == 413
    assert not Ticket.objects.exists()


def test_a_ticket_with_a_good_attachment_is_opened(db: None) -> None:
    upload = SimpleUploadedFile("foto.png", b"\x89PNG\r\n\x1a\nimagem", "image/png")
    response = Client().post(
        reverse("desk_public:contact"), {**_contact_form(), "attachments": [upload]}
    )
    assert response.status_code == 200
    attachment = Ticket.objects.get().messages.get().attachments.get()
    assert attachment.name == "foto.png"


# -- A régua's YAML file ----------------------------------------------------------------------


def test_a_yaml_file_that_is_not_text_is_refused_with_the_reason(
    client_for: Any, manager: User
) -> None:
    upload = SimpleUploadedFile("regua.yaml", b"\x89PNG\r\n\x1a\n\x00\x00", "application/yaml")
    response = client_for(manager).post(
        reverse("cadences:import"), {"file": upload}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "The file is not text in UTF-8." in response.content.decode()
    assert not Cadence.objects.exists()


def test_a_yaml_file_past_its_limit_is_refused_before_it_is_read(
    client_for: Any, manager: User
) -> None:
    upload = SimpleUploadedFile("regua.yaml", b"# " + b"x" * (3 * MB), "application/yaml")
    response = client_for(manager).post(reverse("cadences:import"), {"file": upload})
    assert response.status_code == 413
    assert not Cadence.objects.exists()


@pytest.mark.parametrize("document", ["key: " + "1" * 5000, "[" * 5000 + "]" * 5000])
def test_a_yaml_document_the_parser_cannot_hold_is_refused_with_the_reason(
    client_for: Any, manager: User, document: str
) -> None:
    response = client_for(manager).post(
        reverse("cadences:import"), {"document": document}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    assert "not valid YAML" in response.content.decode()
    assert not Cadence.objects.exists()


@pytest.mark.parametrize(
    "body",
    ['{"email": ' + "1" * 5000 + "}", "[" * 50_000 + "]" * 50_000],
)
def test_api_json_the_parser_cannot_hold_is_a_4xx(api: Any, body: str) -> None:
    response = api.post("/api/contacts", body, content_type="application/json")
    assert 400 <= response.status_code < 500

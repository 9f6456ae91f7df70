"""Uploads that cannot fill the disk, and the names they are kept under.

Django writes an upload to a temporary file as it arrives and only then lets a form look
at its size, so a form's own check comes after the whole body was read and saved. A view
decorated with `upload_limit` refuses before that:

1. a body whose declared Content-Length is over the limit is refused before a byte of it
   is read;
2. otherwise an upload handler counts the bytes as they arrive and stops reading (nothing
   more is saved) the moment they pass the limit, for a client that declared less or
   sent the body in chunks.

Either way the answer is a 413 page that says how large a file may be. The reverse proxy
should have a limit of its own (nginx's client_max_body_size; docs/deploy.md).
"""

import functools
import re
import secrets
import unicodedata
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_protect

View = Callable[..., HttpResponse]
# The form's other fields and the multipart framing around the files.
FORM_FIELDS_BYTES = 1 << 20
MAX_NAME_CHARS = 150
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class _SizeLimit(FileUploadHandler):
    """Counts the bytes of the request's files together; stops reading past the limit."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.request.upload_too_large = True  # type: ignore[union-attr]
            raise StopUpload(connection_reset=True)  # read no more of the body
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (memory or temporary file) keeps the file


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def upload_limit(max_bytes: Callable[[], int]) -> Callable[[View], View]:
    """Refuse a POST whose files pass `max_bytes()` (read from settings at each request)
    before it is read or saved: see the module docstring.

    The view is exempt from the CSRF middleware, which would read the whole body before
    the limit is in place, and checked by csrf_protect once the body was read within it.
    """

    def decorator(view: View) -> View:
        protected = csrf_protect(view)

        @functools.wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            request.upload_too_large = False  # type: ignore[attr-defined]
            if request.method == "POST":
                limit = max_bytes()
                if _declared_length(request) > limit + FORM_FIELDS_BYTES:
                    request.upload_too_large = True  # type: ignore[attr-defined]
                elif not hasattr(request, "_files"):  # not parsed yet by someone else
                    request.upload_handlers.insert(0, _SizeLimit(request, limit))
                    request.POST  # noqa: B018  (parse now, within the limit)
                if request.upload_too_large:  # type: ignore[attr-defined]
                    return too_large_response(request, limit)
            return protected(request, *args, **kwargs)

        limited.csrf_exempt = True  # type: ignore[attr-defined]
        return limited

    return decorator


def too_large_response(request: HttpRequest, limit: int) -> HttpResponse:
    return render(
        request,
        "upload_too_large.html",
        {"limit": filesizeformat(limit), "back": request.get_full_path()},
        status=413,
    )


def display_name(name: str | None, default: str = "file") -> str:
    """An uploaded file's name as people may see it: without folders, control
    characters or odd Unicode forms, at most MAX_NAME_CHARS long (the extension kept)."""
    text = unicodedata.normalize("NFC", name or "").replace("\\", "/")
    text = _CONTROL.sub("", text.rsplit("/", 1)[-1]).strip().strip(".")
    if not text:
        return default
    if len(text) > MAX_NAME_CHARS:
        suffix = PurePosixPath(text).suffix[:10]
        text = text[: MAX_NAME_CHARS - len(suffix)] + suffix
    return text


def storage_name(extension: str) -> str:
    """A random name to keep an upload under: the uploader's name is only a label."""
    return f"{secrets.token_hex(8)}{extension}"


# Attachments that would run as a program or as a page when someone opens them.
REFUSED_EXTENSIONS = frozenset(
    {
        ".exe", ".dll", ".com", ".bat", ".cmd", ".msi", ".scr", ".ps1", ".vbs", ".js",
        ".jar", ".sh", ".hta", ".lnk", ".html", ".htm", ".xhtml", ".svg", ".svgz",
    }
)  # fmt: skip
_ACTIVE_STARTS = (b"MZ", b"\x7fELF", b"#!", b"<!doctype html", b"<html", b"<svg", b"<script")
# What a file with one of these extensions starts with.
_MAGIC = {
    ".pdf": (b"%PDF",),
    ".png": (b"\x89PNG",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".zip": (b"PK\x03\x04", b"PK\x05\x06"),
    ".docx": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
}


def attachment_problem(name: str, head: bytes) -> str | None:
    """Why a file called `name` that starts with `head` is not accepted as an
    attachment, or None: no programs or pages (by name or by content), and a file named
    as an image, a PDF or a workbook must be one."""
    suffix = PurePosixPath(display_name(name).lower()).suffix
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if suffix in REFUSED_EXTENSIONS or start.startswith(_ACTIVE_STARTS):
        return _("%(name)s: programs and web pages are not accepted as attachments.") % {
            "name": display_name(name)
        }
    if suffix in _MAGIC and not head.startswith(_MAGIC[suffix]):
        return _("%(name)s is not really a %(kind)s file.") % {
            "name": display_name(name),
            "kind": suffix.lstrip(".").upper(),
        }
    return None

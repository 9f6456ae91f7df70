"""The bytes of a régua e-mail, written directly.

Django's EmailMessage goes through the standard library's email generator: for every
message it re-parses each address, folds each header through a policy and compiles a
regular expression to check its random boundary. That is most of a sender's time at
hundreds of messages a second. A régua e-mail always has the same shape (a handful of
headers we write ourselves, a text part and an HTML part in UTF-8), so the SMTP path
writes it here: headers encoded once (RFC 2047 for a non-ASCII subject or name), both
parts quoted-printable with CRLF line ends. Provider backends (anymail) and the outbox
still take Django's EmailMessage.
"""

import binascii
import functools
import secrets
from email.header import Header
from email.utils import formatdate

from django.core.mail.message import sanitize_address

from .base import Outgoing

CRLF = b"\r\n"


def address(value: str) -> str:
    """An address ready for a header and the envelope (IDNA domain, encoded name)."""
    if value.isascii() and "\n" not in value and "\r" not in value:
        return value
    return _sanitized(value)


@functools.lru_cache(maxsize=256)
def _sanitized(value: str) -> str:
    # Parsing an address takes about 0.1 ms, and the sender's ("Régua <…>") is the same
    # for every message of every batch.
    return sanitize_address(value, "utf-8")


def _header_text(value: str) -> str:
    value = " ".join(value.split())  # no line breaks may reach a header
    if value.isascii() and len(value) < 900:
        return value
    return Header(value, "utf-8", maxlinelen=76).encode(linesep="\r\n")


def _part(content_type: str, text: str) -> bytes:
    body = text.replace("\r\n", "\n").replace("\r", "\n").encode()
    encoded = binascii.b2a_qp(body, quotetabs=False, istext=True, header=False)
    return (
        f'Content-Type: {content_type}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode() + encoded.replace(b"\n", CRLF)


def message_bytes(message: Outgoing, sender: str, *, localtime: bool = False) -> bytes:
    """`sender` comes through address() already (it is the same for a whole batch)."""
    boundary = f"=_regua_{secrets.token_hex(16)}"
    headers = {
        "Subject": _header_text(message.subject),
        "From": sender,
        "To": address(message.to),
        "Date": formatdate(localtime=localtime),
        "Message-ID": message.message_id,
        "MIME-Version": "1.0",
        **{name: _header_text(value) for name, value in message.headers.items()},
    }
    lines = [f"{name}: {value}" for name, value in headers.items()]
    if not message.html:
        return "\r\n".join(lines).encode() + CRLF + _part("text/plain", message.text)
    lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
    separator = f"\r\n--{boundary}\r\n".encode()
    return (
        "\r\n".join(lines).encode()
        + CRLF
        + CRLF
        + separator[2:]
        + _part("text/plain", message.text)
        + separator
        + _part("text/html", message.html)
        + f"\r\n--{boundary}--\r\n".encode()
    )

"""E-mail through Django's e-mail backends: SMTP, an anymail provider, or the outbox.

One connection is kept open for a batch. SMTP replies decide what a failure is: 5xx is
permanent (the address or the message is refused), 4xx and a dropped or slow connection
are transient, retried later by the sender with backoff. A server that offers
PIPELINING (RFC 2920: Postfix, Exim, the providers' relays) gets each message's MAIL,
RCPT and DATA in one write: two round trips a message instead of four.
"""

import contextlib
import re
import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.utils.module_loading import import_string

from . import mime
from .base import Outgoing, Result


def uses_smtp() -> bool:
    """Whether e-mail goes out through Django's SMTP backend (or a subclass of it)."""
    return issubclass(import_string(settings.EMAIL_BACKEND), SMTPBackend)


class EmailBackend:
    def __init__(self) -> None:
        self.connection = get_connection(fail_silently=False)
        # Set when our own side is wrong (login refused, sender refused): every message
        # of the batch would fail the same way, so they wait for the next attempt.
        self.broken = ""

    def open(self) -> None:
        """One connection for the batch; a failure here is reported by the first send."""
        try:
            self.connection.open()
        except (smtplib.SMTPException, OSError):
            self._reset()

    def send(self, message: Outgoing) -> Result:
        if self.broken:
            return Result.retry(self.broken)
        try:
            if isinstance(self.connection, SMTPBackend) and not message.attachments:
                sent = self._send_smtp(message)
            else:
                sent = self._send_django(message)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            return _by_code(code, reply)
        except (
            smtplib.SMTPAuthenticationError,
            smtplib.SMTPSenderRefused,
            smtplib.SMTPConnectError,
        ) as error:
            # Our configuration, not the recipient: never a permanent failure of theirs.
            self._reset()
            self.broken = (
                f"SMTP {error.smtp_code}: {_text(error.smtp_error)} (check the e-mail settings)"
            )
            return Result.retry(self.broken)
        except smtplib.SMTPResponseException as error:
            self._reset()
            return _by_code(error.smtp_code, error.smtp_error)
        except (smtplib.SMTPException, OSError) as error:
            self._reset()  # dropped or timed-out connection: reconnect on the next send
            return Result.retry(f"{type(error).__name__}: {error}")
        except Exception as error:  # anymail providers raise their own errors
            return _anymail(error)
        return Result.sent() if sent else Result.retry("the backend sent nothing")

    def _send_smtp(self, message: Outgoing) -> bool:
        """Django's SMTP backend holds the connection (host, port, TLS, login, timeout);
        the message's bytes are written by mime.py, several times faster than
        EmailMessage for the same result."""
        if self.connection.connection is None:
            self.connection.open()
        sender = mime.address(settings.DEFAULT_FROM_EMAIL)
        raw = mime.message_bytes(message, sender, localtime=settings.EMAIL_USE_LOCALTIME)
        smtp = self.connection.connection
        smtp.ehlo_or_helo_if_needed()
        if settings.REGUA_SMTP_PIPELINING and smtp.does_esmtp and smtp.has_extn("pipelining"):
            sendmail_pipelined(smtp, sender, mime.address(message.to), raw)
        else:
            smtp.sendmail(sender, [mime.address(message.to)], raw)
        return True

    def _send_django(self, message: Outgoing) -> bool:
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            headers={"Message-ID": message.message_id, **message.headers},
            connection=self.connection,
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        for name, content, content_type in message.attachments:
            email.attach(name, content, content_type or None)
        # Provider backends (anymail) send this along and return it in tracking events.
        if message.delivery_id:
            email.metadata = {"regua_delivery": str(message.delivery_id)}  # type: ignore[attr-defined]
        return bool(self.connection.send_messages([email]))

    def _reset(self) -> None:
        # A broken connection may fail to close: drop it either way.
        with contextlib.suppress(Exception):
            self.connection.close()
        if hasattr(self.connection, "connection"):
            self.connection.connection = None

    def checkpoint(self) -> None:
        """Write what a buffering backend (the outbox) holds; SMTP has nothing to write."""
        from .outbox import EmailBackend as Outbox

        if isinstance(self.connection, Outbox):
            self.connection.close()
            self.connection.open()

    def close(self) -> None:
        self._reset()


_LEADING_PERIOD = re.compile(rb"(?m)^\.")  # smtplib's quoting of a line that starts with "."


def sendmail_pipelined(smtp: smtplib.SMTP, sender: str, recipient: str, raw: bytes) -> None:
    """smtplib's `sendmail` for one recipient, with MAIL, RCPT and DATA written at once and
    their replies read after (RFC 2920). It raises what `sendmail` raises, for the same
    replies, and leaves the connection as `sendmail` does: reset after a refusal, closed
    after a 421."""
    size = f" SIZE={len(raw)}" if smtp.has_extn("size") else ""
    commands = (
        f"MAIL FROM:{smtplib.quoteaddr(sender)}{size}\r\n"
        f"RCPT TO:{smtplib.quoteaddr(recipient)}\r\n"
        "DATA\r\n"
    )
    if commands.count("\n") != 3 or commands.count("\r") != 3:
        raise ValueError("an address contains a line break")
    smtp.send(commands)
    replies: list[tuple[int, bytes]] = []
    while len(replies) < 3:
        replies.append(smtp.getreply())
        if replies[-1][0] == 421:  # the server is closing: no more replies will come
            break
    # The first refusal is the one that counts: after it, the server refuses the rest.
    refusal: smtplib.SMTPException | None = None
    if replies[0][0] != 250:
        refusal = smtplib.SMTPSenderRefused(*replies[0], sender)  # type: ignore[arg-type]
    elif replies[1][0] not in (250, 251):
        refusal = smtplib.SMTPRecipientsRefused({recipient: replies[1]})
    elif replies[2][0] != 354:
        refusal = smtplib.SMTPDataError(*replies[2])
    if refusal is not None:
        if replies[-1][0] == 354:
            # DATA taken despite the refusal (RFC 2920 says it must not be): end it empty.
            smtp.send(b".\r\n")
            smtp.getreply()
        _end_transaction(smtp, replies[-1][0])
        raise refusal
    body = _LEADING_PERIOD.sub(b"..", raw)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    smtp.send(body + b".\r\n")
    code, reply = smtp.getreply()
    if code != 250:
        _end_transaction(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


def _end_transaction(smtp: smtplib.SMTP, last_code: int) -> None:
    """After a refusal, as `sendmail` does: close on a 421 (the server is leaving), else
    RSET for the next message."""
    if last_code == 421:
        smtp.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _by_code(code: int, reply: bytes | str) -> Result:
    reason = f"SMTP {code}: {_text(reply)}"
    return Result.failed(reason) if 500 <= code < 600 else Result.retry(reason)


def _anymail(error: Exception) -> Result:
    from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused

    if isinstance(error, AnymailRecipientsRefused):
        return Result.failed(str(error))
    if isinstance(error, AnymailAPIError):
        status = getattr(error, "status_code", None)
        if status is not None and 400 <= status < 500 and status not in (408, 429):
            return Result.failed(str(error))
        return Result.retry(str(error))
    raise error

"""E-mail through Django's e-mail backends: SMTP, an anymail provider, or the outbox.

One connection is kept open for a batch. SMTP replies decide what a failure is: 5xx is
permanent (the address or the message is refused), 4xx and a dropped or slow connection
are transient, retried later by the sender with backoff.
"""

import contextlib
import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from .base import Outgoing, Result


class EmailBackend:
    def __init__(self) -> None:
        self.connection = get_connection(fail_silently=False)

    def open(self) -> None:
        pass  # opened on the first send, so a batch with no e-mail opens nothing

    def send(self, message: Outgoing) -> Result:
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
        # Provider backends (anymail) send this along and return it in tracking events.
        email.metadata = {"regua_delivery": str(message.delivery_id)}  # type: ignore[attr-defined]
        try:
            sent = self.connection.send_messages([email])
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            return _by_code(code, reply)
        except smtplib.SMTPResponseException as error:
            self._reset()
            return _by_code(error.smtp_code, error.smtp_error)
        except (smtplib.SMTPException, OSError) as error:
            self._reset()  # dropped or timed-out connection: reconnect on the next send
            return Result.retry(f"{type(error).__name__}: {error}")
        except Exception as error:  # anymail providers raise their own errors
            return _anymail(error)
        return Result.sent() if sent else Result.retry("the backend sent nothing")

    def _reset(self) -> None:
        # A broken connection may fail to close: drop it either way.
        with contextlib.suppress(Exception):
            self.connection.close()
        if hasattr(self.connection, "connection"):
            self.connection.connection = None

    def close(self) -> None:
        self._reset()


def _by_code(code: int, reply: bytes | str) -> Result:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    reason = f"SMTP {code}: {text}"
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

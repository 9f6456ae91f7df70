"""The demo's e-mail backend: every message lands in the outbox page instead of a mailbox."""

from collections.abc import Sequence
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend


class EmailBackend(BaseEmailBackend):
    """Between open() and close() the rows are kept and written together (a batch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending: list[Any] | None = None

    def open(self) -> bool:
        if self.pending is None:
            self.pending = []
            return True
        return False

    def close(self) -> None:
        from regua.cadences.models import OutboxMessage

        if self.pending:
            OutboxMessage.objects.bulk_create(self.pending)
        self.pending = None

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        from regua.cadences.models import OutboxMessage

        rows = []
        for message in email_messages:
            html = ""
            for content, mimetype in getattr(message, "alternatives", []):
                if mimetype == "text/html":
                    html = str(content)
            headers: dict[str, Any] = dict(message.extra_headers)
            rows.append(
                OutboxMessage(
                    delivery_id=headers.pop("X-Regua-Delivery", None),
                    channel="email",
                    to=", ".join(message.to),
                    subject=message.subject,
                    text=str(message.body),
                    html=html,
                    headers={"From": message.from_email, **headers},
                )
            )
        if self.pending is not None:
            self.pending += rows
        else:
            OutboxMessage.objects.bulk_create(rows)
        return len(rows)

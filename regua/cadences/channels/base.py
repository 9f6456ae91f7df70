"""What every channel backend takes and returns."""

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol


@dataclass
class Outgoing:
    delivery_id: int
    channel: str
    to: str
    subject: str = ""
    text: str = ""
    html: str = ""
    message_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    # What structured channels (task, webhook) need beyond the text.
    payload: dict[str, Any] = field(default_factory=dict)
    # Files sent along (name, content, content type): the service desk's replies.
    attachments: list[tuple[str, bytes, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Result:
    # sent: accepted by the next hop; retry: a transient failure (try again later);
    # failed: a permanent one (the address or the request is wrong).
    outcome: Literal["sent", "retry", "failed"]
    reason: str = ""

    @classmethod
    def sent(cls) -> "Result":
        return cls("sent")

    @classmethod
    def retry(cls, reason: str) -> "Result":
        return cls("retry", reason[:300])

    @classmethod
    def failed(cls, reason: str) -> "Result":
        return cls("failed", reason[:300])


class Backend(Protocol):
    def open(self) -> None: ...

    def send(self, message: Outgoing) -> Result: ...

    def close(self) -> None: ...


class DryRunBackend:
    """Accepts everything and sends nothing: the preview's and --dry-run's backend."""

    def open(self) -> None:
        pass

    def send(self, message: Outgoing) -> Result:
        return Result.sent()

    def close(self) -> None:
        pass

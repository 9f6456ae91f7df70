"""SMS and WhatsApp: the outbox (demo) and Twilio's Messages API.

Twilio is the provider adapter: one form-encoded POST per message with basic auth. A 2xx
is accepted, 429 and 5xx are transient, other 4xx permanent (a bad number, an
unapproved WhatsApp sender). TWILIO_API_URL points it at a test double.
"""

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings

from .base import Outgoing, Result

TIMEOUT_SECONDS = 10


class OutboxTextBackend:
    def __init__(self, channel: str) -> None:
        self.channel = channel

    def open(self) -> None:
        pass

    def send(self, message: Outgoing) -> Result:
        from regua.cadences.models import OutboxMessage

        OutboxMessage.objects.create(
            delivery_id=message.delivery_id,
            channel=self.channel,
            to=message.to,
            text=message.text,
        )
        return Result.sent()

    def close(self) -> None:
        pass


class TwilioBackend:
    def __init__(self, channel: str) -> None:
        self.channel = channel
        sid = settings.TWILIO_ACCOUNT_SID
        self.url = f"{settings.TWILIO_API_URL.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json"
        token = base64.b64encode(f"{sid}:{settings.TWILIO_AUTH_TOKEN}".encode()).decode()
        self.auth = f"Basic {token}"

    def open(self) -> None:
        pass

    def send(self, message: Outgoing) -> Result:
        if self.channel == "whatsapp":
            to, sender = f"whatsapp:{message.to}", f"whatsapp:{settings.TWILIO_WHATSAPP_FROM}"
        else:
            to, sender = message.to, settings.TWILIO_FROM_NUMBER
        body = urllib.parse.urlencode({"To": to, "From": sender, "Body": message.text}).encode()
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked on save
            self.url,
            data=body,
            method="POST",
            headers={
                "Authorization": self.auth,
                "Content-Type": "application/x-www-form-urlencoded",
                "Idempotency-Key": message.message_id,
            },
        )
        return http_result(request)

    def close(self) -> None:
        pass


def http_result(request: urllib.request.Request) -> Result:
    """Send a request; classify the answer as sent, retry or failed."""
    # Only http(s) addresses reach here: webhook URLs are checked on save, Twilio's is ours.
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            response.read()
            return Result.sent()
    except urllib.error.HTTPError as error:
        detail = _detail(error)
        if error.code in (408, 429) or error.code >= 500:
            return Result.retry(f"HTTP {error.code}: {detail}")
        return Result.failed(f"HTTP {error.code}: {detail}")
    except (urllib.error.URLError, OSError) as error:
        return Result.retry(f"{type(error).__name__}: {error}")


def _detail(error: urllib.error.HTTPError) -> str:
    try:
        raw = error.read().decode(errors="replace")
    except OSError:
        return error.reason if isinstance(error.reason, str) else ""
    try:
        return str(json.loads(raw).get("message", raw))[:200]
    except (ValueError, AttributeError):
        return raw[:200]

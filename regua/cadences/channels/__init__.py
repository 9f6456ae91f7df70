"""Channel backends: one module per kind of channel, all with the same small interface.

`backend_for(channel)` returns an object with open(), send(Outgoing) -> Result and
close(). Which implementation serves a channel is a setting (EMAIL_BACKEND for e-mail,
REGUA_SMS_BACKEND / REGUA_WHATSAPP_BACKEND for text messages).
"""

from django.conf import settings

from .base import Backend, Outgoing, Result


def backend_for(channel: str, *, dry_run: bool = False) -> Backend:
    if dry_run:
        from .base import DryRunBackend

        return DryRunBackend()
    if channel == "email":
        from .email import EmailBackend

        return EmailBackend()
    if channel in {"sms", "whatsapp"}:
        from .text import OutboxTextBackend, TwilioBackend

        name = settings.REGUA_SMS_BACKEND if channel == "sms" else settings.REGUA_WHATSAPP_BACKEND
        return TwilioBackend(channel) if name == "twilio" else OutboxTextBackend(channel)
    if channel == "webhook":
        from .webhook import WebhookBackend

        return WebhookBackend()
    if channel == "task":
        from .task import TaskBackend

        return TaskBackend()
    raise ValueError(f"no backend for channel {channel!r}")


__all__ = ["Backend", "Outgoing", "Result", "backend_for"]

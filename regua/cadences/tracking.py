"""What comes back from a message: opens, clicks, unsubscribes, bounces and complaints.

Opens and clicks arrive through signed links (tokens.py) and also become events on the
contact's timeline. Bounces and complaints arrive through the e-mail provider's
webhooks, which django-anymail normalises into its `tracking` signal; a hard bounce or
a complaint puts the address on the suppression list.
"""

import logging
from datetime import datetime

from anymail.signals import AnymailTrackingEvent, tracking
from django.conf import settings
from django.db.models import QuerySet
from django.dispatch import receiver
from django.utils import timezone

from regua.customers.models import ConsentStatus, Contact
from regua.customers.services import consent_set
from regua.events.ingest import event_record_once, fingerprint
from regua.events.models import Event

from .models import Delivery, DeliveryStatus, Suppression, SuppressionReason

log = logging.getLogger(__name__)


def _fingerprint_of(delivery: Delivery, name: str) -> int:
    value, _ = fingerprint(f"{name}:{delivery.pk}", {})
    return value


def _events_of(delivery: Delivery, name: str) -> QuerySet[Event]:
    return Event.objects.filter(
        contact_id=delivery.contact_id, name=name, fingerprint=_fingerprint_of(delivery, name)
    )


def event_recorded(delivery: Delivery, name: str) -> bool:
    """Whether the delivery already has an event of this kind (a survey answered)."""
    return _events_of(delivery, name).exists()


def event_lookup(delivery: Delivery, name: str) -> Event | None:
    """The delivery's event of this kind (a survey answer, to show back or amend)."""
    return _events_of(delivery, name).first()


def event_record(
    delivery: Delivery, name: str, at: datetime, properties: dict | None = None
) -> None:
    """An engagement event on the timeline, once per delivery, kind and moment (callers
    guard the once: the delivery's opened_at, clicked_at, a survey's first answer)."""
    # The open or click reported again (a second pixel load) is stored once.
    event_record_once(
        contact_id=delivery.contact_id,
        name=name,
        at=at,
        key=f"{name}:{delivery.pk}",
        properties={"regua": delivery.cadence.key, "step": delivery.step.key, **(properties or {})},
        source="regua",
    )


def delivery_opened(delivery: Delivery, *, at: datetime | None = None) -> None:
    at = at or timezone.now()
    if Delivery.objects.filter(pk=delivery.pk, opened_at__isnull=True).update(opened_at=at):
        event_record(delivery, "email_opened", at)


def delivery_clicked(delivery: Delivery, url: str, *, at: datetime | None = None) -> None:
    at = at or timezone.now()
    Delivery.objects.filter(pk=delivery.pk, opened_at__isnull=True).update(opened_at=at)
    if Delivery.objects.filter(pk=delivery.pk, clicked_at__isnull=True).update(clicked_at=at):
        event_record(delivery, "email_clicked", at, {"url": url[:500]})


def contact_unsubscribe(
    contact: Contact, channels: list[str], *, source: str, delivery: Delivery | None = None
) -> list[str]:
    """Withdraw consent on `channels`; the channels that changed."""
    at = timezone.now()
    changed = [
        channel
        for channel in channels
        if consent_set(
            contact=contact,
            channel=channel,
            status=ConsentStatus.WITHDRAWN,
            source=source,
            at=at,
        )
    ]
    if delivery is not None and changed:
        Delivery.objects.filter(pk=delivery.pk, unsubscribed_at__isnull=True).update(
            unsubscribed_at=at
        )
        event_record(delivery, "unsubscribed", at, {"channels": changed})
    return changed


def suppression_add(*, channel: str, address: str, reason: str, detail: str = "") -> None:
    Suppression.objects.get_or_create(
        channel=channel,
        address=address.strip().lower() if channel == "email" else address,
        defaults={"reason": reason, "detail": detail[:300]},
    )


@receiver(tracking, dispatch_uid="regua-anymail-tracking")
def on_provider_event(
    sender: object, event: AnymailTrackingEvent, esp_name: str, **_: object
) -> None:
    """The provider's delivery events: bounces and complaints suppress the address."""
    if not getattr(settings, "ANYMAIL", {}).get("WEBHOOK_SECRET"):
        # Without the secret the route is open to anyone on the web (anymail only warns
        # for most providers): a forged bounce or complaint would suppress any address
        # and unsubscribe its contact. Inbound e-mail follows the same rule (desk/inbound).
        log.warning("provider event ignored: set ANYMAIL_WEBHOOK_SECRET to take it")
        return
    delivery = _delivery_of(event)
    if event.event_type in {"bounced", "rejected"} and event.recipient:
        suppression_add(
            channel="email",
            address=event.recipient,
            reason=SuppressionReason.BOUNCE,
            detail=f"{esp_name}: {event.description or event.reject_reason or ''}",
        )
        if delivery is not None:
            Delivery.objects.filter(pk=delivery.pk).update(
                bounced_at=event.timestamp or timezone.now(),
                status=DeliveryStatus.FAILED,
                reason=f"bounced: {event.description or event.reject_reason or ''}"[:300],
            )
    elif event.event_type == "complained" and event.recipient:
        suppression_add(
            channel="email",
            address=event.recipient,
            reason=SuppressionReason.COMPLAINT,
            detail=esp_name,
        )
        if delivery is not None:
            contact_unsubscribe(delivery.contact, ["email"], source="complaint", delivery=delivery)
    elif delivery is not None and event.event_type == "opened":
        delivery_opened(delivery, at=event.timestamp)
    elif delivery is not None and event.event_type == "clicked":
        delivery_clicked(delivery, event.click_url or "", at=event.timestamp)


def _delivery_of(event: AnymailTrackingEvent) -> Delivery | None:
    """Our delivery, from the metadata we attach or the Message-ID header we set."""
    ident = str((event.metadata or {}).get("regua_delivery", ""))
    if not ident and event.message_id and str(event.message_id).startswith("<regua."):
        ident = str(event.message_id).split(".")[1]
    if not ident.isdigit():
        return None
    return (
        Delivery.objects.select_related("cadence", "step", "contact").filter(pk=int(ident)).first()
    )

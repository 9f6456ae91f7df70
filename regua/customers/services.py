"""Writes to the customer base made by people in the app (the batch paths are in ingest/)."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from regua.users.models import User

from .models import Consent, ConsentChange, Contact, Interaction, InteractionKind


def interaction_log(
    *,
    contact: Contact,
    author: User,
    kind: str = InteractionKind.NOTE,
    subject: str = "",
    body: str = "",
    outcome: str = "",
    direction: str = "",
    duration_minutes: int | None = None,
    occurred_at: datetime | None = None,
) -> Interaction:
    """Record a note, call, meeting… on the contact's timeline."""
    with transaction.atomic():
        interaction = Interaction.objects.create(
            contact=contact,
            # B2B: the interaction also shows on the contact's (first) company's page.
            company_id=contact.roles.order_by("id").values_list("company_id", flat=True).first(),
            author=author,
            kind=kind,
            subject=subject,
            body=body,
            outcome=outcome,
            direction=direction,
            duration_minutes=duration_minutes,
            occurred_at=occurred_at or timezone.now(),
        )
        Contact.objects.filter(pk=contact.pk).update(updated_at=timezone.now())
    return interaction


def consent_set(*, contact: Contact, channel: str, status: str, source: str, at: datetime) -> bool:
    """Record a contact's permission on a channel, with its history; True when it changed."""
    with transaction.atomic():
        current = (
            Consent.objects.select_for_update().filter(contact=contact, channel=channel).first()
        )
        if current is not None and current.status == status:
            return False
        Consent.objects.update_or_create(
            contact=contact,
            channel=channel,
            defaults={"status": status, "source": source, "recorded_at": at},
        )
        ConsentChange.objects.create(
            contact=contact, channel=channel, status=status, source=source, recorded_at=at
        )
    return True

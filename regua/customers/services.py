"""Writes to the customer base made by people in the app (the batch paths are in ingest/)."""

from datetime import datetime

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from regua.users.models import User

from .models import (
    Consent,
    ConsentChange,
    ConsentPurpose,
    Contact,
    Interaction,
    InteractionKind,
    LegalBasis,
)


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


def consent_set(
    *,
    contact: Contact,
    channel: str,
    status: str,
    source: str,
    at: datetime,
    purpose: str | None = None,
    legal_basis: str | None = None,
    text_version: str | None = None,
    actor: User | None = None,
    request: HttpRequest | None = None,
) -> bool:
    """Record a contact's permission on a channel, with its history; True when it changed.

    A change is the status, or the terms it was given under (purpose, legal basis, text
    version): a person who agrees to a new wording of the same consent is on record
    with it. Terms left None keep the current row's (an unsubscribe changes the status
    only), or take the defaults for a first record: marketing, on consent. Every change
    is written to the audit log (`actor` None: the person themselves, by an unsubscribe
    link, or the system).
    """
    from regua.privacy import audit

    with transaction.atomic():
        current = (
            Consent.objects.select_for_update().filter(contact=contact, channel=channel).first()
        )
        terms = {
            "purpose": purpose or getattr(current, "purpose", ConsentPurpose.MARKETING),
            "legal_basis": legal_basis or getattr(current, "legal_basis", LegalBasis.CONSENT),
            "text_version": (
                text_version if text_version is not None else getattr(current, "text_version", "")
            ),
        }
        if current is not None and (
            [current.status, current.purpose, current.legal_basis, current.text_version]
            == [status, *terms.values()]
        ):
            return False
        Consent.objects.update_or_create(
            contact=contact,
            channel=channel,
            defaults={"status": status, "source": source, "recorded_at": at, **terms},
        )
        ConsentChange.objects.create(
            contact=contact,
            channel=channel,
            status=status,
            source=source,
            recorded_at=at,
            changed_by=actor,
            **terms,
        )
        audit.record(
            actor,
            audit.AuditAction.CHANGED_CONSENT,
            contact=contact,
            detail={"channel": channel, "status": status, **terms},
            request=request,
        )
    return True

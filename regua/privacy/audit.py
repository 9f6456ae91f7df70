"""The audit log's one writer: `audit.record(...)`, for every app.

    from regua.privacy import audit
    audit.record(request.user, audit.AuditAction.CHANGED_REGUA, target=cadence,
                 detail={"status": "paused"}, request=request)

Callers pass ids, keys, counts and choices: never a name, an e-mail address, a phone
number or free text a person wrote (the log must hold no personal data, and survives the
erasure of the contact it mentions).
"""

from typing import Any

from django.db import models
from django.http import HttpRequest

from .models import AuditAction, AuditEntry

__all__ = ["AuditAction", "AuditEntry", "record"]


def _ip(request: HttpRequest | None) -> str | None:
    """The client's address as the server saw it. Behind a reverse proxy this is the
    proxy's unless the proxy rewrites REMOTE_ADDR: X-Forwarded-For is not read, since
    anyone can send it."""
    if request is None:
        return None
    address = request.META.get("REMOTE_ADDR") or None
    return address if address and len(address) <= 45 else None


def user_or_none(actor: Any) -> Any:
    """A user, or None for the system and for anonymous visitors (an unsubscribe link)."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        return None
    return actor


def record(
    actor: Any,
    action: str,
    *,
    contact: Any = None,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    label: str = "",
    detail: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEntry:
    """Add one entry to the audit log.

    `contact` (a Contact or its id) is the person concerned; `target` any other object,
    recorded as its model's name and its key or id (a régua is named by its key). The
    label defaults to "<type> <key>", which holds no personal data for the objects Régua
    audits; pass one for anything else.
    """
    contact_id = getattr(contact, "pk", contact)
    if target is not None:
        object_type = object_type or target._meta.model_name or ""
        object_id = object_id or getattr(target, "key", None) or target.pk
    if not label:
        if object_type:
            label = f"{object_type} {object_id}".strip()
        elif contact_id is not None:
            label = f"contact #{contact_id}"
    return AuditEntry.objects.create(
        actor=user_or_none(actor),
        action=action,
        contact_id=contact_id,
        object_type=object_type[:40],
        object_id=str(object_id)[:100],
        label=label[:200],
        detail=detail or {},
        ip=_ip(request),
    )

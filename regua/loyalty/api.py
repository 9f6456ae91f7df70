"""REST API of the loyalty programme: record a referral, read a customer's balance."""

from datetime import date, datetime
from typing import Any, cast

from django.db.models import Q
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from regua.core.api import TextIn, api_user, require_writer, validation_detail
from regua.customers.models import Contact
from regua.customers.selectors import contacts_visible_to

from .models import PointEntry, Referral
from .selectors import loyalty_summary
from .services import LoyaltyError, referral_record

router = Router(tags=["loyalty"])


class ReferralIn(TextIn):
    referrer_code: str = Field(..., description="The referral code the new customer used")
    contact: str = Field(..., description="The referred customer's external id or e-mail")


class ReferralOut(Schema):
    id: int
    referrer_code: str
    contact_id: int
    status: str
    recorded_at: datetime


class EntryOut(Schema):
    kind: str
    points: int
    occurred_at: datetime
    expires_on: date | None
    order: str | None
    reason: str


class TierOut(Schema):
    slug: str
    name: str
    benefits: str


class BalanceOut(Schema):
    contact_id: int
    points: int
    expiring_soon: int
    tier: TierOut | None
    next_tier: TierOut | None
    spend_missing: str | None
    referral_code: str
    referral_url: str
    page_url: str
    entries: list[EntryOut]


def _contact_by_key(contacts: Any, key: str) -> Contact | None:
    key = key.strip()
    if not key or "\x00" in key:  # no contact's key holds one (PostgreSQL refuses it)
        return None
    query = Q(external_id=key) | Q(email=key.lower()) if "@" in key else Q(external_id=key)
    return cast(Contact | None, contacts.filter(query).order_by("pk").first())


@router.post("/loyalty/referrals", response={201: ReferralOut, 422: dict})
def referral_create(request: HttpRequest, payload: ReferralIn) -> Any:
    """Record that a customer came through another's referral code.

    422 with the field and the reason when the code is unknown, the customer is unknown,
    refers themselves, was already referred or has already bought."""
    user = require_writer(request)
    referred = _contact_by_key(contacts_visible_to(user), payload.contact)
    if referred is None:
        message = _("no contact has this external id or e-mail")
        return Status(422, validation_detail([("contact", message)]))
    try:
        referral = referral_record(code=payload.referrer_code, referred=referred)
    except LoyaltyError as error:
        return Status(422, validation_detail([(error.field, str(error))]))
    return Status(201, _referral_out(referral))


def _referral_out(referral: Referral) -> dict[str, Any]:
    return {
        "id": referral.pk,
        "referrer_code": referral.code,
        "contact_id": referral.referred_id,
        "status": referral.status,
        "recorded_at": referral.recorded_at,
    }


@router.get("/loyalty/contacts/{key}", response=BalanceOut)
def balance_read(request: HttpRequest, key: str) -> Any:
    """A customer's balance (the sum of the ledger), tier, referral code and links, and
    the latest ledger entries. `key` is the external id or the e-mail."""
    contact = _contact_by_key(contacts_visible_to(api_user(request)), key)
    if contact is None:
        raise HttpError(404, _("no contact has this external id or e-mail"))
    summary = loyalty_summary(contact)
    entries: list[PointEntry] = summary["entries"]
    return {
        "contact_id": contact.pk,
        "points": summary["points"],
        "expiring_soon": summary["expiring_soon"],
        "tier": summary["tier"],
        "next_tier": summary["next_tier"],
        "spend_missing": str(summary["spend_missing"])
        if summary["spend_missing"] is not None
        else None,
        "referral_code": summary["referral_code"],
        "referral_url": summary["referral_url"],
        "page_url": summary["page_url"],
        "entries": [
            {
                "kind": e.kind,
                "points": e.points,
                "occurred_at": e.occurred_at,
                "expires_on": e.expires_on,
                "order": e.order.external_id if e.order else None,
                "reason": e.reason,
            }
            for e in entries
        ],
    }

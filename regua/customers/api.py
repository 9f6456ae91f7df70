"""REST API for contacts: upsert one or a batch, list with filters, read one."""

from datetime import UTC, date, datetime
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status
from pydantic import field_validator

from regua.core.api import (
    MAX_BATCH,
    BatchOut,
    ErrorItem,
    TextIn,
    api_user,
    batch_out,
    require_writer,
    validation_detail,
)
from regua.core.ingest import CleanBatch

from .ingest import contacts_clean, contacts_write
from .models import Consent, ConsentPurpose, Contact, LegalBasis
from .selectors import ContactFilters, contacts_search_page, contacts_visible_to

router = Router(tags=["contacts"])


class ContactIn(Schema):
    """A contact to create or update, matched by external_id, else by email.

    Omitted or empty fields are left as they are. Tags are added, never removed; custom
    attributes are merged into the ones the contact has.
    """

    external_id: str | None = None
    email: str | None = None
    name: str | None = Field(None, description="Full name; split into first and last name")
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = Field(None, description="Any usual writing; stored as E.164")
    birth_date: date | str | None = Field(None, description="aaaa-mm-dd or dd/mm/aaaa")
    gender: str | None = Field(None, description="female, male or other")
    city: str | None = None
    state: str | None = Field(None, description="Brazilian state: UF or name")
    time_zone: str | None = None
    language: str | None = Field(None, description="pt-br or en")
    stage: str | None = Field(None, description="lead, prospect, customer, inactive, churned")
    source: str | None = None
    relationship_type: str | None = None
    owner: str | None = Field(None, description="E-mail of the user who owns the contact")
    tags: list[str] | None = None
    company: str | None = Field(None, description="Company external id or name")
    role: str | None = Field(None, description="decision_maker, influencer, user or other")
    job_title: str | None = None
    consent: dict[str, bool] | None = Field(
        None, description="Per channel (email, sms, whatsapp, phone): granted or not"
    )
    consent_purpose: ConsentPurpose | None = Field(
        None, description="What the consents given here are for (default: marketing)"
    )
    consent_legal_basis: LegalBasis | None = Field(
        None, description="LGPD art. 7 legal basis of the consents given here (default: consent)"
    )
    consent_text_version: str | None = Field(
        None, max_length=40, description="Version of the consent wording the person agreed to"
    )
    attributes: dict[str, Any] | None = None


class ConsentOut(Schema):
    """One channel's consent as on record, with its terms (LGPD)."""

    channel: str
    status: str
    purpose: ConsentPurpose
    legal_basis: LegalBasis
    text_version: str
    source: str
    recorded_at: datetime


class ContactOut(Schema):
    id: int
    external_id: str | None
    email: str | None
    first_name: str
    last_name: str
    phone: str
    birth_date: date | None
    gender: str
    city: str
    state: str
    country: str
    time_zone: str
    language: str
    stage: str
    source: str
    relationship_type: str
    owner: str | None
    tags: list[str]
    consent: dict[str, str] = Field(..., description="Per channel: granted or withdrawn")
    consents: list[ConsentOut] = Field(..., description="Per channel, with purpose and basis")
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_owner(contact: Contact) -> str | None:
        return contact.owner.email if contact.owner_id else None  # type: ignore[union-attr]

    @staticmethod
    def resolve_tags(contact: Contact) -> list[str]:
        return [tag.name for tag in contact.tags.all()]

    @staticmethod
    def resolve_consent(contact: Contact) -> dict[str, str]:
        return {c.channel: c.status for c in contact.consents.all()}

    @staticmethod
    def resolve_consents(contact: Contact) -> list[Consent]:
        return list(contact.consents.all())


class UpsertOut(Schema):
    status: str
    contact: ContactOut


class ContactBatchIn(Schema):
    contacts: list[ContactIn] = Field(..., min_length=1, max_length=MAX_BATCH)


class ItemOut(Schema):
    index: int
    status: str
    id: int | None
    errors: list[ErrorItem]


class ContactBatchOut(BatchOut):
    results: list[ItemOut]


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None


class ContactQuery(TextIn):
    q: str = Field("", description="Name, e-mail prefix, phone or external id")
    stage: str = ""
    owner: int | None = Field(None, description="User id")
    tag: str = ""
    city: str = ""
    external_id: str = ""
    email: str = ""
    updated_since: datetime | None = None
    cursor: str = ""
    limit: int = Field(50, ge=1, le=200)

    @field_validator("updated_since")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        """In UTC: an offset like +21:48 is valid ISO 8601 but out of PostgreSQL's
        range (schemathesis found it), and year 1 at +03:00 is before year 1 in UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range") from None


def _with_relations(contacts: Any) -> Any:
    return contacts.select_related("owner").prefetch_related("tags", "consents")


@router.post("/contacts", response={200: UpsertOut, 201: UpsertOut, 422: dict})
def contact_upsert(request: HttpRequest, payload: ContactIn) -> Any:
    """Create a contact, or update the one with this external_id (else e-mail)."""
    user = require_writer(request)
    result = contacts_write(
        contacts_clean([(0, payload.dict(exclude_none=True))]), source="api", changed_by=user
    )
    if result.errors:
        return Status(422, validation_detail([(e.field, str(e.message)) for e in result.errors]))
    outcome = result.outcomes[0]
    contact = _with_relations(Contact.objects).get(pk=outcome.id)
    code = 201 if outcome.status == "created" else 200
    return Status(code, {"status": outcome.status, "contact": contact})


@router.post("/contacts/batch", response=ContactBatchOut)
def contact_upsert_batch(request: HttpRequest, payload: ContactBatchIn) -> Any:
    """Upsert up to 1,000 contacts. Each item is written whole or not at all."""
    user = require_writer(request)
    rows = [(index, item.dict(exclude_none=True)) for index, item in enumerate(payload.contacts)]
    batch: CleanBatch = contacts_clean(rows)
    result = contacts_write(batch, source="api", changed_by=user)
    errors: dict[int, list[dict[str, Any]]] = {}
    for error in result.errors:
        errors.setdefault(error.line, []).append(
            {"index": error.line, "field": error.field, "message": str(error.message)}
        )
    results = [
        {
            "index": index,
            "status": result.outcomes[index].status,
            "id": result.outcomes[index].id,
            "errors": errors.get(index, []),
        }
        for index in range(len(rows))
    ]
    return {**batch_out(result), "results": results}


@router.get("/contacts", response=ContactPage)
def contact_list(request: HttpRequest, query: Query[ContactQuery]) -> Any:
    """Contacts newest first, filtered; follow next_cursor for the next page."""
    contacts = contacts_visible_to(api_user(request))
    if query.external_id:
        contacts = contacts.filter(external_id=query.external_id)
    if query.email:
        contacts = contacts.filter(email=query.email.strip().lower())
    if query.updated_since:
        contacts = contacts.filter(updated_at__gte=query.updated_since)
    filters = ContactFilters(
        q=query.q, stage=query.stage, owner=query.owner, tag=query.tag, city=query.city
    )
    page = contacts_search_page(
        _with_relations(contacts), filters, cursor=query.cursor, size=query.limit, count=False
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/contacts/{contact_id}", response=ContactOut)
def contact_get(request: HttpRequest, contact_id: int) -> Any:
    contacts = _with_relations(contacts_visible_to(api_user(request)))
    return get_object_or_404(contacts, pk=contact_id)

"""REST API for events: append a batch of up to 1,000."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router
from pydantic import BaseModel, Field

from regua.core.api import MAX_BATCH, BatchOut, batch_out, require_writer

from .ingest import events_append

router = Router(tags=["events"])


class EventIn(BaseModel):
    """Something a customer did. Send an `id` to make retries safe: the same event sent
    twice is stored once (without one, the same customer, name, time and properties)."""

    customer_id: str = Field(..., description="The contact's external id or e-mail")
    name: str = Field(..., description="signup, login, product_viewed, purchase, ...")
    occurred_at: datetime | str = Field(
        ..., description="ISO 8601; without an offset, the account's time zone"
    )
    properties: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(None, description="Your id of the event, for idempotency")


class EventBatchIn(BaseModel):
    # Plain pydantic models: ninja's Schema adds a per-item validator the ingest path
    # does not need (it reads Django objects), a fifth of a batch's time.
    events: list[EventIn] = Field(..., min_length=1, max_length=MAX_BATCH)
    create_contacts: bool = Field(True, description="Create the contacts not known yet")


@router.post("/events", response=BatchOut)
def event_append_batch(request: HttpRequest, payload: EventBatchIn) -> Any:
    """Append up to 1,000 events; `unchanged` counts events already stored."""
    require_writer(request)
    # dict(event): the fields as validated, without model_dump's deep copy (the cleaning
    # skips the fields left None).
    rows = [(index, dict(event)) for index, event in enumerate(payload.events)]
    result = events_append(rows, source="api", create_contacts=payload.create_contacts)
    return batch_out(result)

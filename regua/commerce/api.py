"""REST API for orders: create or update a batch of up to 1,000."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Router
from pydantic import BaseModel, Field

from regua.core.api import MAX_BATCH, BatchOut, batch_out, require_writer

from .ingest import orders_upsert

router = Router(tags=["orders"])


class ItemIn(BaseModel):
    sku: str
    quantity: int = Field(1, ge=1)
    unit_price: Decimal | str = Field(..., description="In reais")


class OrderIn(BaseModel):
    """An order, matched by order_id: sending it again updates its status or total."""

    order_id: str | None = Field(None, description="The shop's order number")
    customer_id: str = Field(..., description="The customer's external id or e-mail")
    ordered_at: datetime | str
    total: Decimal | str
    discount: Decimal | str | None = None
    status: str | None = Field(None, description="pending, paid, shipped, delivered, ...")
    currency: str | None = None
    channel: str | None = None
    items: list[ItemIn] | None = None


class OrderBatchIn(BaseModel):
    orders: list[OrderIn] = Field(..., min_length=1, max_length=MAX_BATCH)
    create_contacts: bool = True


@router.post("/orders", response=BatchOut)
def order_upsert_batch(request: HttpRequest, payload: OrderBatchIn) -> Any:
    """Create or update up to 1,000 orders."""
    require_writer(request)
    rows = list(enumerate(payload.model_dump(exclude_none=True)["orders"]))
    result = orders_upsert(rows, source="api", create_contacts=payload.create_contacts)
    return batch_out(result)

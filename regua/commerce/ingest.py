"""Recording orders in batches (CSV import and REST API).

An order is identified by the shop's order number; an order given without one gets a
fingerprint of its customer, time, total and items, so importing the same export twice
adds nothing. Sending an order again with a new status or total updates it. A customer's
first order makes a lead or prospect a customer.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from regua.core.ingest import BatchResult, CleanBatch, column_key, given_values
from regua.customers.ingest import contacts_resolve
from regua.customers.models import Contact, Stage, StageChange
from regua.lib.bulk import insert_many, update_many
from regua.lib.parsing import parse_datetime, parse_decimal
from regua.lib.text import fold

from .models import Order, OrderItem, OrderStatus, Product

ALIASES = {
    "cliente": "customer_id",
    "customer": "customer_id",
    "id_cliente": "customer_id",
    "email": "customer_id",
    "e_mail": "customer_id",
    "customer_email": "customer_id",
    "data": "ordered_at",
    "data_pedido": "ordered_at",
    "data_do_pedido": "ordered_at",
    "date": "ordered_at",
    "created_at": "ordered_at",
    "valor": "total",
    "valor_total": "total",
    "amount": "total",
    "pedido": "order_id",
    "numero_pedido": "order_id",
    "numero_do_pedido": "order_id",
    "id": "order_id",
    "external_id": "order_id",
    "itens": "items",
    "situacao": "status",
    "desconto": "discount",
    "canal": "channel",
    "moeda": "currency",
}
_STATUSES = {
    **{status.value: status.value for status in OrderStatus},
    "pendente": OrderStatus.PENDING,
    "aguardando_pagamento": OrderStatus.PENDING,
    "pago": OrderStatus.PAID,
    "aprovado": OrderStatus.PAID,
    "faturado": OrderStatus.PAID,
    "complete": OrderStatus.DELIVERED,
    "completed": OrderStatus.DELIVERED,
    "enviado": OrderStatus.SHIPPED,
    "entregue": OrderStatus.DELIVERED,
    "cancelado": OrderStatus.CANCELLED,
    "canceled": OrderStatus.CANCELLED,
    "reembolsado": OrderStatus.REFUNDED,
    "estornado": OrderStatus.REFUNDED,
    "devolvido": OrderStatus.REFUNDED,
}
ORDER_FIELDS = ["contact_id", "ordered_at", "status", "total", "discount", "currency", "channel"]
MAX_FUTURE = timedelta(days=1)


def field_name(header: str) -> str:
    key = column_key(header)
    return ALIASES.get(key, key)


@dataclass
class OrderInput:
    customer: str
    external_id: str
    values: dict[str, Any]
    items: list[tuple[str, int, Decimal]] | None = None  # None: the row says nothing of items
    lines: list[int] = field(default_factory=list)


def _parse_items(value: Any) -> list[tuple[str, int, Decimal]]:
    """'SKU1:2:39,90|SKU2:1:10' (CSV) or [{"sku", "quantity", "unit_price"}] (API)."""
    if isinstance(value, list):
        parts = [
            (str(i.get("sku", "")), i.get("quantity", 1), i.get("unit_price", 0)) for i in value
        ]
    else:
        parts = []
        for chunk in str(value).split("|"):
            if chunk.strip():
                sku, _sep, rest = chunk.strip().partition(":")
                quantity, _sep, price = rest.partition(":")
                parts.append((sku, quantity or 1, price or 0))
    items = []
    for sku, quantity, price in parts:
        sku = sku.strip()
        if not sku or len(sku) > 64:
            raise ValueError(_("each item needs a SKU of up to 64 characters"))
        try:
            count = int(str(quantity).strip())
        except ValueError:
            raise ValueError(_("%(value)s is not a quantity") % {"value": quantity}) from None
        if count < 1:
            raise ValueError(_("%(value)s is not a quantity") % {"value": quantity})
        items.append((sku, count, _money(price)))
    return items


def _money(value: Any) -> Decimal:
    amount = parse_decimal(value)
    # Checked before rounding: quantize raises on a number with more digits than the
    # decimal context holds ('9' * 40, found by fuzzing), and the column holds 12.
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e10"):
        raise ValueError(_("%(value)s is not an amount") % {"value": value})
    return amount.quantize(Decimal("0.01"))


def _fingerprint(customer: str, values: dict[str, Any], items: list[Any] | None) -> str:
    basis = f"{customer}|{values['ordered_at'].isoformat()}|{values['total']}|{items or ''}"
    return "auto-" + hashlib.sha256(basis.encode()).hexdigest()[:32]


def clean_order(
    data: Mapping[str, Any], tz: tzinfo
) -> tuple[OrderInput | None, list[tuple[str, str]]]:
    raw = given_values(data)
    errors: list[tuple[str, str]] = []
    values: dict[str, Any] = {}  # only what the row gives: an update changes only that
    for name, parse in (
        ("ordered_at", lambda v: parse_datetime(v, tz)),
        ("total", _money),
        ("discount", _money),
    ):
        if name in raw:
            try:
                values[name] = parse(raw[name])
            except ValueError as exc:
                errors.append((name, str(exc)))
    for name in ("customer_id", "ordered_at", "total"):
        if name not in raw:
            errors.append((name, _("this field is required")))
    if "status" in raw:
        status = _STATUSES.get(column_key(fold(str(raw["status"]))))
        if status is None:
            errors.append(
                ("status", _("%(value)s is not an order status") % {"value": raw["status"]})
            )
        values["status"] = status
    if "currency" in raw:
        values["currency"] = str(raw["currency"]).strip().upper()[:3]
    if "channel" in raw:
        values["channel"] = str(raw["channel"]).strip()[:40]
    items = None
    if "items" in raw:
        try:
            items = _parse_items(raw["items"])
        except ValueError as exc:
            errors.append(("items", str(exc)))
    if "ordered_at" in values and values["ordered_at"] > timezone.now() + MAX_FUTURE:
        errors.append(("ordered_at", _("this date is in the future")))
    order_id = str(raw.get("order_id", "")).strip()
    if len(order_id) > 100:
        errors.append(("order_id", _("longer than %(limit)d characters") % {"limit": 100}))
    if errors:
        return None, errors
    customer = str(raw["customer_id"]).strip()
    return OrderInput(
        customer, order_id or _fingerprint(customer, values, items), values, items
    ), []


def orders_clean(
    rows: Sequence[tuple[int, Mapping[str, Any]]], *, tz: tzinfo | None = None
) -> CleanBatch:
    tz = tz or timezone.get_default_timezone()
    batch = CleanBatch()
    for line, data in rows:
        order, errors = clean_order(data, tz)
        if order is None:
            batch.result.fail(line, errors)
        else:
            order.lines = [line]
            batch.items.append((line, order))
    return batch


def orders_write(batch: CleanBatch, *, source: str, create_contacts: bool = True) -> BatchResult:
    """Create or update the cleaned orders; report each row."""
    result = batch.result
    orders: dict[str, OrderInput] = {}
    for line, order in batch.items:
        if order.external_id in orders:
            # The same order twice in a batch: the later row is the newer state.
            order.lines = [*orders[order.external_id].lines, line]
        orders[order.external_id] = order
    if not orders:
        return result
    with transaction.atomic():
        contact_ids, created = contacts_resolve(
            {o.customer for o in orders.values()}, create=create_contacts, source=source
        )
        result.contacts_created += created
        for key in [k for k, o in orders.items() if o.customer not in contact_ids]:
            message = _("no contact has this external id or e-mail")
            for line in orders.pop(key).lines:
                result.fail(line, [("customer_id", message)])
        _write(orders, contact_ids, result, source)
    return result


def orders_upsert(
    rows: Sequence[tuple[int, Mapping[str, Any]]],
    *,
    source: str,
    create_contacts: bool = True,
    tz: tzinfo | None = None,
) -> BatchResult:
    """Clean, then create or update the orders in `rows`; report each row."""
    return orders_write(orders_clean(rows, tz=tz), source=source, create_contacts=create_contacts)


def _write(
    orders: dict[str, OrderInput], contact_ids: dict[str, int], result: BatchResult, source: str
) -> None:
    now = timezone.now()
    existing = {
        row["external_id"]: row
        for row in Order.objects.filter(external_id__in=orders).values(
            "id", "external_id", *ORDER_FIELDS
        )
    }
    new = [o for key, o in orders.items() if key not in existing]
    insert_many(
        Order,
        ["external_id", *ORDER_FIELDS, "created_at", "updated_at"],
        (
            [
                o.external_id,
                contact_ids[o.customer],
                o.values["ordered_at"],
                o.values.get("status", OrderStatus.PAID),
                o.values["total"],
                o.values.get("discount", Decimal(0)),
                o.values.get("currency", "BRL"),
                o.values.get("channel", ""),
                now,
                now,
            ]
            for o in new
        ),
    )
    ids = dict(
        Order.objects.filter(external_id__in=[o.external_id for o in new]).values_list(
            "external_id", "id"
        )
    )
    changed_columns = {}
    for key, row in existing.items():
        order = orders[key]
        wanted = {**row, **order.values, "contact_id": contact_ids[order.customer]}
        changed_columns[key] = [c for c in ORDER_FIELDS if wanted[c] != row[c]]
        ids[key] = row["id"]
        if changed_columns[key]:
            columns = changed_columns[key]
            update_many(
                Order, [*columns, "updated_at"], [[*(wanted[c] for c in columns), now, row["id"]]]
            )
    product_ids = _products_ensure(orders.values())
    items_changed = _items_replace({ids[key]: o for key, o in orders.items()}, product_ids, now)
    for key, order in orders.items():
        if key not in existing:
            status = "created"
        elif changed_columns[key] or ids[key] in items_changed:
            status = "updated"
        else:
            status = "unchanged"
        for index, line in enumerate(order.lines):
            # An order given twice in one batch is created by its first row only.
            result.record(line, "updated" if index and status == "created" else status, ids[key])  # type: ignore[arg-type]
    _promote_buyers(
        {
            contact_ids[o.customer]
            for o in new
            if o.values.get("status") not in (OrderStatus.CANCELLED, OrderStatus.REFUNDED)
        },
        now,
        source,
    )


def _products_ensure(orders: Any) -> dict[str, int]:
    """Product ids by SKU; SKUs seen for the first time become products named by their SKU."""
    prices = {sku: price for o in orders for sku, _qty, price in (o.items or [])}
    if not prices:
        return {}
    known = dict(Product.objects.filter(sku__in=prices).values_list("sku", "id"))
    missing = [sku for sku in prices if sku not in known]
    if missing:
        Product.objects.bulk_create(
            [Product(sku=sku, name=sku, price=prices[sku]) for sku in missing],
            ignore_conflicts=True,
        )
        known = dict(Product.objects.filter(sku__in=prices).values_list("sku", "id"))
    return known


def _items_replace(
    orders: dict[int, OrderInput], product_ids: dict[str, int], now: datetime
) -> set[int]:
    """Write the items of the given orders where they differ; return the orders changed."""
    with_items = {oid: o for oid, o in orders.items() if o.items is not None}
    if not with_items:
        return set()
    current: dict[int, list[tuple[str, int, Decimal]]] = {oid: [] for oid in with_items}
    for oid, sku, qty, price in (
        OrderItem.objects.filter(order_id__in=with_items)
        .order_by("id")
        .values_list("order_id", "sku", "quantity", "unit_price")
    ):
        current[oid].append((sku, qty, price))
    changed = {
        oid for oid, o in with_items.items() if sorted(current[oid]) != sorted(o.items or [])
    }
    OrderItem.objects.filter(order_id__in=[oid for oid in changed if current[oid]]).delete()
    insert_many(
        OrderItem,
        ["order_id", "product_id", "sku", "quantity", "unit_price", "created_at", "updated_at"],
        (
            (oid, product_ids.get(sku), sku, qty, price, now, now)
            for oid in changed
            for sku, qty, price in (with_items[oid].items or [])
        ),
    )
    return changed


def _promote_buyers(contact_ids: set[int], now: datetime, source: str) -> None:
    """A lead or prospect who places an order becomes a customer."""
    promoted = list(
        Contact.objects.filter(
            id__in=contact_ids, stage__in=[Stage.LEAD, Stage.PROSPECT]
        ).values_list("id", "stage")
    )
    if not promoted:
        return
    Contact.objects.filter(id__in=[cid for cid, _stage in promoted]).update(
        stage=Stage.CUSTOMER, updated_at=now
    )
    insert_many(
        StageChange,
        ["contact_id", "from_stage", "to_stage", "changed_at", "source", "created_at"],
        ((cid, stage, Stage.CUSTOMER, now, source, now) for cid, stage in promoted),
    )

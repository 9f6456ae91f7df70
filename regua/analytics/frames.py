"""Reading orders, items and events into polars frames, one query each.

Analytics read whole tables, so the rows travel the cheapest way each database offers:
PostgreSQL streams `COPY (query) TO STDOUT` as CSV straight into polars; SQLite returns
plain tuples of integers and floats (times as Unix seconds, amounts as floats, so no
Python datetime or Decimal is built per row). Both run on Django's connection, inside
the caller's transaction.

Purchases are the orders that were paid: pending, cancelled and refunded orders are not
purchases. A purchase's `day` is its date in the business's time zone (TIME_ZONE).
"""

import io
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet

from regua.commerce.models import Order, OrderItem, OrderStatus
from regua.customers.models import Contact
from regua.events.models import Event
from regua.lib.bulk import db_datetime_adapter, pg_cursor

PURCHASED = [OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED]


def business_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def day_start(day: date) -> datetime:
    """The first moment of a business day, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=business_zone())


def _epoch(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM {column}) AS BIGINT)"
    return f"CAST(strftime('%%s', {column}) AS INTEGER)"


def _whole_table(table: str) -> str:
    """A table read from end to end: SQLite would otherwise walk the time index for the
    date bound and fetch every row through it, several times slower than a scan."""
    return table if connection.vendor == "postgresql" else f"{table} NOT INDEXED"


def _real(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"CAST({column} AS DOUBLE PRECISION)"
    return f"CAST({column} AS REAL)"


def fetch(sql: str, params: Sequence[Any], schema: dict[str, Any]) -> pl.DataFrame:
    """Run one SELECT and return its rows as a frame with this schema (column order)."""
    if connection.vendor == "postgresql":
        buffer = io.BytesIO()
        with (
            pg_cursor() as cursor,
            cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy,
        ):
            for chunk in copy:
                buffer.write(chunk)
        if buffer.tell() == 0:
            return pl.DataFrame(schema=schema)
        buffer.seek(0)
        return pl.read_csv(buffer, has_header=False, new_columns=list(schema), schema=schema)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return pl.DataFrame(rows, schema=schema, orient="row")


def _members(contacts: Q | None) -> tuple[str, list[Any]]:
    """SQL `AND contact_id IN (...)` for a contact filter (a segment's Q), or nothing."""
    if contacts is None:
        return "", []
    query: QuerySet[Contact, Any] = Contact.objects.filter(contacts).values("pk")
    sql, params = query.query.sql_with_params()
    return f" AND contact_id IN ({sql})", list(params)


def _period(
    kind: str,
    kinds: list[Any],
    moment: str,
    until: date,
    since: date | None,
    contacts: Q | None,
) -> tuple[str, list[Any]]:
    """WHERE `kind` IN kinds, `moment` within the business days since..until, and the
    contact in the filter: the SQL and its parameters."""
    to_db = db_datetime_adapter()
    sql = f"{kind} IN ({', '.join(['%s'] * len(kinds))}) AND {moment} < %s"
    params = [*kinds, to_db(day_start(until + timedelta(days=1)))]
    if since:
        sql += f" AND {moment} >= %s"
        params.append(to_db(day_start(since)))
    members, member_params = _members(contacts)
    return sql + members, params + member_params


def _with_day(frame: pl.DataFrame, seconds: str, name: str) -> pl.DataFrame:
    zone = settings.TIME_ZONE
    return frame.with_columns(
        pl.from_epoch(pl.col(seconds), time_unit="s")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(zone)
        .alias(name)
    ).with_columns(pl.col(name).dt.date().alias("day"))


def purchases(*, until: date, since: date | None = None, contacts: Q | None = None) -> pl.DataFrame:
    """Purchases made before the end of `until` (and from `since`), one row per order.

    Columns: order_id, contact_id, ordered_at (business time), day, total, discount.
    """
    where, params = _period(
        "status", [str(s) for s in PURCHASED], "ordered_at", until, since, contacts
    )
    sql = (
        f"SELECT id, contact_id, {_epoch('ordered_at')}, {_real('total')}, "
        f"{_real('discount')} FROM {_whole_table(Order._meta.db_table)} WHERE {where}"
    )
    frame = fetch(
        sql,
        params,
        {
            "order_id": pl.Int64,
            "contact_id": pl.Int64,
            "seconds": pl.Int64,
            "total": pl.Float64,
            "discount": pl.Float64,
        },
    )
    return _with_day(frame, "seconds", "ordered_at").drop("seconds")


def items(*, until: date, since: date | None = None) -> pl.DataFrame:
    """The lines of the purchases in the period: order_id, contact_id, sku."""
    return items_of(purchases(until=until, since=since))


def items_of(bought: pl.DataFrame) -> pl.DataFrame:
    """The lines of these purchases (a frame from purchases()): order_id, contact_id, sku.

    The lines are read whole and matched to the orders here: a join in SQLite would walk
    an index per line, ten times slower than one scan.
    """
    table = OrderItem._meta.db_table
    lines = fetch(
        f"SELECT order_id, sku FROM {_whole_table(table)}",
        [],
        {"order_id": pl.Int64, "sku": pl.String},
    )
    return lines.join(bought.select("order_id", "contact_id"), on="order_id").select(
        "order_id", "contact_id", "sku"
    )


def events(
    names: Sequence[str], *, until: date, since: date | None = None, contacts: Q | None = None
) -> pl.DataFrame:
    """Events with these names in the period: contact_id, name, occurred_at, day."""
    where, params = _period("name", list(names), "occurred_at", until, since, contacts)
    sql = (
        f"SELECT contact_id, name, {_epoch('occurred_at')} "
        f"FROM {Event._meta.db_table} WHERE {where}"
    )
    frame = fetch(sql, params, {"contact_id": pl.Int64, "name": pl.String, "seconds": pl.Int64})
    return _with_day(frame, "seconds", "occurred_at").drop("seconds")

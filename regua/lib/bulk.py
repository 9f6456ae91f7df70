"""Set-based writes for the ingest paths: one prepared statement run over many rows.

Django's bulk_create prepares every value of every object through the field machinery,
which costs more than the database does on the hot import paths. These helpers adapt
each column once per value with the backend's own adapters and hand the rows to the
driver's executemany, on SQLite and PostgreSQL alike.
"""

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, models

Adapter = Callable[[Any], Any]


def _adapter(field: models.Field) -> Adapter | None:
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.DecimalField):
        return lambda value: ops.adapt_decimalfield_value(
            value, field.max_digits, field.decimal_places
        )
    if isinstance(field, models.JSONField):
        return lambda value: ops.adapt_json_value(value, field.encoder)
    return None


def _prepare(
    model: type[models.Model], fields: Sequence[str]
) -> tuple[list[str], list[Adapter | None]]:
    meta = model._meta
    concrete = [meta.get_field(name) for name in fields]
    columns = [connection.ops.quote_name(f.column) for f in concrete]  # type: ignore[union-attr]
    return columns, [_adapter(f) for f in concrete]  # type: ignore[arg-type]


def _adapt(rows: Iterable[Sequence[Any]], adapters: list[Adapter | None]) -> Iterable[list[Any]]:
    active = [(index, adapter) for index, adapter in enumerate(adapters) if adapter]
    if not active:
        yield from (list(row) for row in rows)
        return
    # Batches often repeat one value in a column (the batch's timestamp): adapt it once.
    last: dict[int, tuple[Any, Any]] = {}
    for row in rows:
        values = list(row)
        for index, adapter in active:
            value = values[index]
            if value is None:
                continue
            seen = last.get(index)
            if seen is not None and seen[0] is value:
                values[index] = seen[1]
            else:
                values[index] = adapter(value)
                last[index] = (value, values[index])
        yield values


def insert_many(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    ignore_conflicts: bool = False,
) -> int:
    """INSERT `rows` (tuples in `fields` order); returns how many rows were inserted."""
    columns, adapters = _prepare(model, fields)
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    values = list(_adapt(rows, adapters))
    if not values:
        return 0
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)
        return max(cursor.rowcount, 0)


def update_many(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """UPDATE by primary key: each row is the new values in `fields` order, then the pk."""
    columns, adapters = _prepare(model, fields)
    table = connection.ops.quote_name(model._meta.db_table)
    assignments = ", ".join(f"{column} = %s" for column in columns)
    pk = connection.ops.quote_name(model._meta.pk.column)  # type: ignore[union-attr]
    values = list(_adapt(rows, [*adapters, None]))
    if values:
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE {pk} = %s", values)

"""Set-based writes for the ingest paths: one prepared statement run over many rows.

Django's bulk_create prepares every value of every object through the field machinery,
which costs more than the database does on the hot import paths. These helpers adapt
each column once per value with the backend's own adapters and hand the rows to the
driver's executemany, on SQLite and PostgreSQL alike.
"""

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, models
from django.db.models.sql import UpdateQuery
from django.utils.dateparse import parse_datetime

Adapter = Callable[[Any], Any]
# SQLite binds at most 32,766 parameters to a statement.
MAX_PARAMS = 30_000


def _sqlite_datetime(value: datetime) -> str:
    """What Django's SQLite backend stores for an aware datetime: naive UTC text."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ")


def db_datetime_adapter() -> Callable[[datetime], Any]:
    """Turns an aware datetime into the form the current database takes in a statement."""
    return _sqlite_datetime if connection.vendor == "sqlite" else _unchanged


def _unchanged(value: Any) -> Any:
    return value


def _adapter(field: models.Field) -> Adapter | None:
    ops = connection.ops
    if isinstance(field, models.DateTimeField):
        # Django's own adapter reads settings per value; this one is the same, cheaper.
        return _sqlite_datetime if connection.vendor == "sqlite" else None
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
    last_in: list[Any] = [None] * len(adapters)
    last_out: list[Any] = [None] * len(adapters)
    for row in rows:
        values = list(row)
        for index, adapter in active:
            value = values[index]
            if value is None:
                continue
            if value is last_in[index]:
                values[index] = last_out[index]
            else:
                values[index] = last_out[index] = adapter(value)
                last_in[index] = value
        yield values


def insert_many(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    ignore_conflicts: bool = False,
    staged: bool = False,
    prepared: Sequence[str] = (),
) -> int:
    """INSERT `rows` (tuples in `fields` order); returns how many rows were inserted.

    PostgreSQL: COPY, straight into the table, or into a temporary table first when
    conflicts are to be ignored (COPY has no ON CONFLICT). SQLite: executemany; `staged`
    is for tables with row triggers (the contact name index), where a trigger fired from
    executemany costs a statement per row while INSERT ... SELECT from a temporary table
    runs the same triggers inside one statement, several times faster. `prepared` names
    columns whose values the caller already put in the database's form.
    """
    columns, adapters = _prepare(model, fields)
    adapters = [None if name in prepared else a for name, a in zip(fields, adapters, strict=True)]
    values = list(_adapt(rows, adapters))
    if not values:
        return 0
    table = connection.ops.quote_name(model._meta.db_table)
    column_list = ", ".join(columns)
    if connection.vendor == "postgresql":
        return _pg_copy(table, column_list, values, ignore_conflicts)
    placeholders = ", ".join(["%s"] * len(columns))
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    with connection.cursor() as cursor:
        if staged:
            stage = connection.ops.quote_name(f"stage_{model._meta.db_table}")
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} AS "
                f"SELECT {column_list} FROM {table} WHERE 0"
            )
            cursor.executemany(
                f"INSERT INTO {stage} ({column_list}) VALUES ({placeholders})", values
            )
            cursor.execute(
                f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {stage} "
                f"WHERE 1{conflict}"  # WHERE: SQLite's parser needs it before ON CONFLICT
            )
            inserted = cursor.rowcount
            cursor.execute(f"DELETE FROM {stage}")
            return max(inserted, 0)
        cursor.executemany(
            f"INSERT INTO {table} ({column_list}) VALUES ({placeholders}){conflict}", values
        )
        return max(cursor.rowcount, 0)


def _pg_copy(table: str, column_list: str, values: list[list[Any]], ignore_conflicts: bool) -> int:
    with pg_cursor() as cursor:
        target = table
        if ignore_conflicts:
            target = f"stage_{table.strip(chr(34))}"
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {target} AS "
                f"SELECT {column_list} FROM {table} WHERE false"
            )
        with cursor.copy(f"COPY {target} ({column_list}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        if not ignore_conflicts:
            return len(values)
        cursor.execute(
            f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {target} "
            "ON CONFLICT DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute(f"TRUNCATE {target}")
        return max(inserted, 0)


@contextmanager
def pg_cursor() -> Iterator[Any]:
    """A psycopg cursor with server-side parameters, on Django's connection and transaction.

    Django binds parameters on the client by default, formatting every value of every
    row into SQL text in Python; bulk statements bind them on the server instead.
    """
    import psycopg

    connection.ensure_connection()
    cursor = psycopg.Cursor(connection.connection)
    try:
        yield cursor
    finally:
        cursor.close()


def update_many(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """UPDATE by primary key: each row is the new values in `fields` order, then the pk."""
    columns, adapters = _prepare(model, fields)
    table = connection.ops.quote_name(model._meta.db_table)
    assignments = ", ".join(f"{column} = %s" for column in columns)
    pk = connection.ops.quote_name(model._meta.pk.column)  # type: ignore[union-attr]
    values = list(_adapt(rows, [*adapters, None]))
    if not values:
        return
    sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"
    if connection.vendor == "postgresql":
        with pg_cursor() as cursor:
            cursor.executemany(sql, values)
    else:
        with connection.cursor() as cursor:
            cursor.executemany(sql, values)


def _reader(field: models.Field) -> Adapter | None:
    """How to turn what the driver returns for `field` into the Python value Django gives."""
    if isinstance(field, models.DateTimeField):
        return lambda value: (
            datetime.fromisoformat(value).replace(tzinfo=UTC) if isinstance(value, str) else value
        )
    if isinstance(field, models.DateField):
        return lambda value: date.fromisoformat(value) if isinstance(value, str) else value
    if isinstance(field, models.DecimalField):
        exponent = Decimal(10) ** -field.decimal_places
        return lambda value: Decimal(str(value)).quantize(exponent)
    if isinstance(field, models.JSONField):
        return lambda value: json.loads(value) if isinstance(value, str) else value
    if isinstance(field, models.BooleanField):
        return bool
    return None


def fetch_in(
    model: type[models.Model], fields: Sequence[str], **keys: Iterable[Any]
) -> list[dict[str, Any]]:
    """Rows of `model` whose column is in the given values, as dicts of `fields`.

    `fetch_in(Contact, ["id", ...], external_id=[...], email=[...])` reads the rows matching
    either list. The first field must be unique (the id): a row found by both keys is
    returned once. Each key is its own statement, one index read each: an OR of two long
    IN lists makes both SQLite and PostgreSQL scan the whole table. The batch paths look
    up thousands of keys at a time; the ORM would cost more than the query does.
    """
    wanted = {name: list(values) for name, values in keys.items() if values}
    if not wanted:
        return []
    meta = model._meta
    quote = connection.ops.quote_name
    concrete = [meta.get_field(name) for name in fields]
    select = (
        f"SELECT {', '.join(quote(f.column) for f in concrete)} "  # type: ignore[union-attr]
        f"FROM {quote(meta.db_table)} WHERE "
    )
    readers = [(i, reader) for i, f in enumerate(concrete) if (reader := _reader(f))]  # type: ignore[arg-type]
    records: dict[Any, tuple[Any, ...]] = {}  # by first column: a row matched twice is one
    for name, values in wanted.items():
        column = quote(meta.get_field(name).column)  # type: ignore[union-attr]
        if connection.vendor == "postgresql":
            with pg_cursor() as cursor:  # one array parameter, bound on the server
                cursor.execute(f"{select}{column} = ANY(%s)", [values])
                records.update((record[0], record) for record in cursor.fetchall())
            continue
        with connection.cursor() as cursor:
            for start in range(0, len(values), MAX_PARAMS):
                chunk = values[start : start + MAX_PARAMS]
                cursor.execute(f"{select}{column} IN ({', '.join(['%s'] * len(chunk))})", chunk)
                records.update((record[0], record) for record in cursor.fetchall())
    return _rows(records.values(), fields, readers)


def _rows(
    records: Iterable[Sequence[Any]], fields: Sequence[str], readers: list[tuple[int, Adapter]]
) -> list[dict[str, Any]]:
    rows = []
    for record in records:
        values = list(record)
        for index, reader in readers:
            if values[index] is not None:
                values[index] = reader(values[index])
        rows.append(dict(zip(fields, values, strict=True)))
    return rows


@contextmanager
def bulk_load() -> Iterator[None]:
    """Settings for a long write on SQLite: a large page cache and rare checkpoints.

    An import's random index inserts touch the same pages again and again; with the
    default WAL checkpoint every ~4 MB, each commit would copy them back to the database
    and fsync. No-op on PostgreSQL.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        cache_size = cursor.fetchone()[0]
        cursor.execute("PRAGMA cache_size = -524288")  # 512 MiB
        cursor.execute("PRAGMA wal_autocheckpoint = 25000")  # ~100 MiB of WAL
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(cache_size)}")
            cursor.execute("PRAGMA wal_autocheckpoint = 1000")


def statistics_refresh(*models_: type[models.Model]) -> None:
    """PostgreSQL: bring the planner's statistics of these tables up to date mid-import.

    Stale statistics are how a batch lookup of 5,000 keys turns into a scan of the whole
    table: after an import has grown a table tenfold, the planner still believes the old
    size. Autovacuum catches up eventually; an import should not wait for it.

    SQLite keeps no statistics here on purpose: without sqlite_stat1 its planner assumes
    large tables and uses the indexes every query of Régua is written for, while sampled
    statistics (ANALYZE with analysis_limit) underestimate big tables and full ones go
    stale as the base grows, with nothing like autovacuum to refresh them.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models_:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def insert_select(
    model: type[models.Model],
    fields: Sequence[str],
    select: Sequence[str],
    source: models.QuerySet,
    params: Sequence[Any] = (),
    where: str = "1 = 1",
    where_params: Sequence[Any] = (),
) -> int:
    """INSERT INTO model (fields) SELECT select... FROM (source) AS s WHERE where,
    ignoring conflicts.

    The rows never leave the database. `select` holds one SQL expression per field over
    the source's columns (`s.<name>`, named as in its values()) or a `%s` placeholder
    taking the next of `params` (datetimes in the database's form: db_datetime_adapter);
    `where` filters over the same columns. Returns how many rows were inserted.
    """
    sql, sql_params = _insert_select_sql(model, fields, select, source, params, where, where_params)
    with connection.cursor() as cursor:
        cursor.execute(sql, sql_params)
        return max(cursor.rowcount, 0)


def insert_select_earliest(
    model: type[models.Model],
    fields: Sequence[str],
    select: Sequence[str],
    source: models.QuerySet,
    earliest: str,
    params: Sequence[Any] = (),
    where: str = "1 = 1",
    where_params: Sequence[Any] = (),
) -> tuple[int, datetime | None]:
    """`insert_select` that also says the earliest value of the datetime field `earliest`
    among the rows it inserted (None when it inserted none)."""
    sql, sql_params = _insert_select_sql(model, fields, select, source, params, where, where_params)
    field = model._meta.get_field(earliest)
    assert isinstance(field, models.DateTimeField)
    column = connection.ops.quote_name(str(field.column))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH inserted AS ({sql} RETURNING {column}) "
                f"SELECT count(*), min({column}) FROM inserted",
                sql_params,
            )
            count, first = cursor.fetchone()
            return count, first
        # SQLite has no INSERT in a WITH: the rows come back, one value each.
        cursor.execute(f"{sql} RETURNING {column}", sql_params)
        values = [value for (value,) in cursor.fetchall()]
    if not values:
        return 0, None
    # Stored as text in one format (naive UTC), which sorts as the moments do.
    first = parse_datetime(str(min(values)))
    return len(values), first.replace(tzinfo=UTC) if first is not None else None


def _insert_select_sql(
    model: type[models.Model],
    fields: Sequence[str],
    select: Sequence[str],
    source: models.QuerySet,
    params: Sequence[Any],
    where: str,
    where_params: Sequence[Any],
) -> tuple[str, list[Any]]:
    columns, _adapters = _prepare(model, fields)
    inner, inner_params = source.query.sql_with_params()
    table = connection.ops.quote_name(model._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(select)} "
        # Always a WHERE: SQLite's parser needs one before ON CONFLICT.
        f"FROM ({inner}) AS s WHERE {where} ON CONFLICT DO NOTHING"
    )
    return sql, [*params, *inner_params, *where_params]


@contextmanager
def created_as_given(model: type[models.Model], field: str = "created_at") -> Iterator[None]:
    """bulk_create keeping each row's own creation time: auto_now_add stamps the wall
    clock otherwise. For data spread over the past (the demo, the benchmarks) written
    by one process; not for request handling."""
    column = model._meta.get_field(field)
    column.auto_now_add = False  # type: ignore[attr-defined]
    try:
        yield
    finally:
        column.auto_now_add = True  # type: ignore[attr-defined]


def ids_taken_from(candidates: models.QuerySet) -> tuple[str, list[Any]]:
    """`id` matched against the first rows of `candidates` (a sliced values("id") query,
    locked with skip_locked on PostgreSQL), as SQL for an UPDATE's WHERE, and its params.

    On PostgreSQL a plain `id IN (subquery)` may be planned as a nested loop that runs
    the subquery again for each outer row; each rescan skips the rows this statement has
    just updated, so an UPDATE meant for LIMIT 1 can take two rows or more.
    `= ANY(ARRAY(...))` is an init plan, run exactly once."""
    sql, params = candidates.query.sql_with_params()
    if connection.vendor == "postgresql":
        return f"id = ANY(ARRAY({sql}))", list(params)
    return f"id IN ({sql})", list(params)


def update_returning(
    queryset: models.QuerySet, values: dict[str, Any], returning: str, params: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """`queryset.update(**values)` that returns, for each row it changed, `returning`: SQL
    over the row as it is after the update, with `params` (one statement: UPDATE ...
    RETURNING). The values come as the driver gives them."""
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    query.clear_select_clause()
    sql, sql_params = query.get_compiler(connection.alias).as_sql()
    if not sql:
        return []
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {returning}", [*sql_params, *params])
        return cursor.fetchall()

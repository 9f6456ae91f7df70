"""Issue 7's last figure: the contact-keyed hot paths at 50M events (PostgreSQL).

1. `grow_events(total)` adds older history to the bench base until the events table
   holds `total` rows: product views (70%, with a SKU) and logins, for the base's own
   contacts, spread over the three years before the oldest event already there. The
   daily volume the engine sees stays what it was; only the table grows, which is what
   a business that keeps years of history looks like. The rows are written by
   PostgreSQL itself (`INSERT … SELECT` over `generate_series`), in blocks of 5M, with
   the secondary indexes dropped and rebuilt from their own definitions afterwards.
2. `hot_paths()` measures on that table what depends on it: the tick over a day of due
   work, segment counts that read events, and the dossier (with its timeline).
"""

import time
from typing import Any

from django.db import connection

from regua.events.models import Event

BLOCK = 5_000_000
EVENT_RULES = {
    # the compound segment of issue 4 and two that read the events table
    "compound (gender, city, RFM, no order in 30 days)": None,
    "logged in within 30 days, female, São Paulo": {
        "match": "all",
        "conditions": [
            {"field": "gender", "op": "eq", "value": "female"},
            {"field": "city", "op": "eq", "value": "São Paulo"},
            {"field": "event.login", "op": "within_days", "value": 30},
        ],
    },
    "viewed products 3+ times in 90 days, no order in 30 days": {
        "match": "all",
        "conditions": [
            {"field": "event.product_viewed", "op": "count_gte", "value": {"count": 3, "days": 90}},
            {"field": "orders.last", "op": "not_within_days", "value": 30},
            {"field": "city", "op": "eq", "value": "Curitiba"},
        ],
    },
}


def grow_events(total: int) -> dict[str, Any]:
    """Add history until the events table holds `total` rows (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        raise RuntimeError("the 50M-event history is generated on PostgreSQL only")
    table = Event._meta.db_table
    before = Event.objects.count()
    missing = total - before
    figures: dict[str, Any] = {"events_before": before, "events_added": max(missing, 0)}
    if missing <= 0:
        figures["events_after"] = before
        return figures
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'u'",
            [table],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint"
            " WHERE conrelid = %s::regclass)",
            [table, table],
        )
        indexes = cursor.fetchall()
        cursor.execute(f"SELECT min(occurred_at), min(id), max(id) FROM {table}")
        oldest, _first, _last = cursor.fetchone()
        cursor.execute("SELECT min(id), max(id) FROM customers_contact")
        first_contact, last_contact = cursor.fetchone()
        for name, _definition in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        # The bench cluster's owner is its superuser: skip the per-row foreign-key
        # triggers (every contact id below exists).
        cursor.execute("SET session_replication_role = replica")
        for offset in range(0, missing, BLOCK):
            rows = min(BLOCK, missing - offset)
            cursor.execute(
                f"""
                INSERT INTO {table}
                    (name, occurred_at, properties, fingerprint, source, created_at, contact_id)
                SELECT
                    CASE WHEN r < 0.7 THEN 'product_viewed' ELSE 'login' END,
                    %s::timestamptz - random() * interval '1095 days',
                    CASE WHEN r < 0.7
                        THEN jsonb_build_object('sku', 'SKU-' || (1 + floor(random() * 500))::int)
                        ELSE '{{}}'::jsonb END,
                    (random() * 9e18)::bigint,
                    'history',
                    now(),
                    %s + floor(random() * (%s - %s + 1))::bigint
                FROM (SELECT random() AS r FROM generate_series(1, %s)) AS g
                """,
                [oldest, first_contact, last_contact, first_contact, rows],
            )
        cursor.execute("SET session_replication_role = origin")
        inserted = time.perf_counter()
        cursor.execute("SET maintenance_work_mem = '1GB'")
        for name, definition in constraints:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for _name, definition in indexes:
            cursor.execute(definition)
        indexed = time.perf_counter()
        cursor.execute(f"VACUUM ANALYZE {table}")
    figures.update(
        events_after=Event.objects.count(),
        insert_s=inserted - started,
        index_s=indexed - inserted,
        total_s=time.perf_counter() - started,
    )
    return figures


def hot_paths(runs: int = 5, page_runs: int = 20) -> dict[str, Any]:
    """The day tick, segment counts that read events, and the dossier."""
    from regua.benchmarks import engine, measure
    from regua.benchmarks.analytics import COMPOUND, _median_seconds
    from regua.customers.models import Contact
    from regua.segments.rules import compile_rule

    figures: dict[str, Any] = {"events": Event.objects.count()}
    figures["tick"] = engine.ticks(runs=runs, days=1)
    counts = {}
    for label, rule in EVENT_RULES.items():
        compiled = compile_rule(rule or COMPOUND)
        # an unevaluated queryset's count() queries every time
        median_s, times, members = _median_seconds(Contact.objects.filter(compiled).count, runs)
        counts[label] = {"median_s": median_s, "runs_s": times, "members": members}
    figures["segment_counts"] = counts
    figures["pages"] = measure.pages(runs=page_runs)
    return figures

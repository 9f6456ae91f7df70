"""Writing the simulated shop into the database, fast, on SQLite and PostgreSQL.

Big tables are written without their secondary indexes, which are rebuilt at the end
(a sort is much cheaper than millions of random index inserts); events are written in
the order of their unique index, so that index only ever appends. SQLite gets
executemany in large transactions, PostgreSQL COPY.

What is rebuilt is what the models declare, not only what was there: a load that was
killed after dropping the indexes leaves a base without them, and the next load (with
--reset) puts them back.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.apps import apps
from django.db import connection, transaction

from regua.customers import fts

BIG_TABLES = [
    "customers_contact",
    "customers_contacttag",
    "customers_consent",
    "customers_consentchange",
    "customers_stagechange",
    "customers_interaction",
    "customers_contactrole",
    "commerce_order",
    "commerce_orderitem",
    "events_event",
]
# Children before parents, for emptying the tables.
DEMO_TABLES = [
    "loyalty_redemption",
    "loyalty_pointentry",
    "loyalty_referral",
    "loyalty_referralcode",
    "loyalty_account",
    "loyalty_tier",
    "loyalty_reward",
    "loyalty_refreshrun",
    "analytics_productpair",
    "analytics_customerscore",
    "accounts_initiative",
    "accounts_accountplan",
    "desk_attachment",
    "desk_message",
    "desk_ticket",
    "agenda_move",
    "agenda_handover",
    "agenda_calendarfeed",
    "agenda_task",
    "cadences_outboxmessage",
    "cadences_delivery",
    "cadences_enrollment",
    "cadences_step",
    "cadences_cadence",
    "cadences_suppression",
    "events_archiverun",
    "events_eventsummary",
    "events_event",
    "commerce_orderitem",
    "commerce_order",
    "customers_interaction",
    "customers_contactrole",
    "customers_contacttag",
    "customers_consentchange",
    "customers_consent",
    "customers_stagechange",
    "customers_contact",
    "customers_company",
    "customers_tag",
    "commerce_product",
    "commerce_category",
    "imports_importjob",
]


class Loader:
    def __init__(self) -> None:
        self.vendor = connection.vendor
        self.saved_indexes: list[str] = []
        self.saved_triggers: list[str] = []

    def empty(self) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            if self.vendor == "postgresql":
                cursor.execute(f"TRUNCATE {', '.join(DEMO_TABLES)} RESTART IDENTITY CASCADE")
            else:
                for table in DEMO_TABLES:
                    cursor.execute(f"DELETE FROM {table}")
                names = ", ".join(f"'{table}'" for table in DEMO_TABLES)
                cursor.execute(f"DELETE FROM sqlite_sequence WHERE name IN ({names})")

    def begin_bulk(self) -> None:
        """Drop the big tables' secondary indexes (and SQLite's search triggers) for now."""
        with connection.cursor() as cursor:
            if self.vendor == "sqlite":
                cursor.execute("PRAGMA synchronous = OFF")
                cursor.execute("PRAGMA cache_size = -1048576")
                cursor.execute("PRAGMA wal_autocheckpoint = 100000")
                placeholders = ", ".join(["%s"] * len(BIG_TABLES))
                cursor.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                    f"AND sql NOT LIKE 'CREATE UNIQUE%%' AND tbl_name IN ({placeholders})",
                    BIG_TABLES,
                )
                indexes = cursor.fetchall()
                cursor.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name = 'customers_contact'"
                )
                triggers = cursor.fetchall()
                for name, _sql in triggers:
                    cursor.execute(f'DROP TRIGGER "{name}"')
                self.saved_triggers = [sql for _name, sql in triggers]
            else:
                # Commits need not wait for the WAL to reach the disk: it is written while
                # the next block is simulated. A crash loses the last blocks, nothing more.
                cursor.execute("SET synchronous_commit = off")
                cursor.execute("SET maintenance_work_mem = '512MB'")
                cursor.execute(
                    "SELECT indexname, indexdef FROM pg_indexes "
                    "WHERE schemaname = current_schema() AND tablename = ANY(%s) "
                    "AND indexdef NOT LIKE 'CREATE UNIQUE%%'",
                    [BIG_TABLES],
                )
                indexes = cursor.fetchall()
            for name, _sql in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            present = {name for name, _sql in indexes}
            missing = [sql for name, sql in declared_indexes() if name not in present]
            self.saved_indexes = [sql for _name, sql in indexes] + missing

    def write(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                raw = cursor.cursor
                with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                placeholders = ", ".join(["?"] * len(columns))
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
                cursor.cursor.executemany(sql, rows)

    def end_bulk(self, progress: Any = None) -> None:
        """Rebuild what begin_bulk dropped, then refresh the planner's statistics."""
        with connection.cursor() as cursor:
            for sql in self.saved_indexes:
                if progress:
                    progress(sql.split(" ON ")[0].replace("CREATE INDEX ", ""))
                cursor.execute(sql)
            if self.vendor == "sqlite":
                # What was there, then the search triggers if one was already missing.
                for sql in [*self.saved_triggers, *fts.TRIGGERS]:
                    cursor.execute(sql)
                cursor.execute(
                    "INSERT INTO customers_contact_fts(customers_contact_fts) VALUES ('rebuild')"
                )
                cursor.execute("PRAGMA wal_autocheckpoint = 1000")
                cursor.execute("PRAGMA synchronous = NORMAL")
                # No ANALYZE on SQLite: see regua.lib.bulk.statistics_refresh.
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            else:
                for table in ("customers_contact", "commerce_order", "customers_company"):
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"COALESCE((SELECT MAX(id) FROM {table}), 1))"
                    )
                # VACUUM sets the visibility map, so index-only scans need no heap visits.
                cursor.execute("VACUUM ANALYZE")
                cursor.execute("RESET synchronous_commit")
                cursor.execute("RESET maintenance_work_mem")


def declared_indexes() -> list[tuple[str, str]]:
    """(name, CREATE INDEX) of every secondary index the models declare on the big
    tables, as the migrations create them."""
    editor = connection.schema_editor(collect_sql=True)  # only writes SQL, runs nothing
    declared = []
    for model in apps.get_models():
        if model._meta.db_table in BIG_TABLES:
            for statement in editor._model_indexes_sql(model):  # type: ignore[attr-defined]
                declared.append((str(statement.parts["name"]).strip('"'), str(statement)))
    return declared

"""The SQLite full-text index of contact names and the triggers that keep it current.

Migration 0002 creates them. Any later migration that rebuilds the contact table on
SQLite (how SQLite alters most columns) drops the table's triggers with the old table,
so they are made again, if missing, after every migrate (see apps.py).
"""

from typing import Any

from django.db import connections

TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS customers_contact_fts_ai AFTER INSERT ON customers_contact"
    " BEGIN"
    " INSERT INTO customers_contact_fts(rowid, search_name) VALUES (new.id, new.search_name);"
    " END",
    "CREATE TRIGGER IF NOT EXISTS customers_contact_fts_ad AFTER DELETE ON customers_contact"
    " BEGIN"
    " INSERT INTO customers_contact_fts(customers_contact_fts, rowid, search_name)"
    " VALUES ('delete', old.id, old.search_name);"
    " END",
    "CREATE TRIGGER IF NOT EXISTS customers_contact_fts_au"
    " AFTER UPDATE OF search_name ON customers_contact BEGIN"
    " INSERT INTO customers_contact_fts(customers_contact_fts, rowid, search_name)"
    " VALUES ('delete', old.id, old.search_name);"
    " INSERT INTO customers_contact_fts(rowid, search_name) VALUES (new.id, new.search_name);"
    " END",
]


def ensure_sqlite_triggers(using: str = "default", **kwargs: Any) -> None:
    """post_migrate: recreate missing triggers, and reindex if any was missing."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') "
            "AND name LIKE 'customers_contact_fts%'"
        )
        names = {row[0] for row in cursor.fetchall()}
        if "customers_contact_fts" not in names or len(names) == 1 + len(TRIGGERS):
            return  # not migrated that far yet, or all in place
        for statement in TRIGGERS:
            cursor.execute(statement)
        cursor.execute(
            "INSERT INTO customers_contact_fts(customers_contact_fts) VALUES ('rebuild')"
        )

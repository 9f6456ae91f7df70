"""Word-prefix search over contact names: FTS5 on SQLite, a GIN tsvector index on PostgreSQL.

A B-tree on search_name only finds names by their first word; people look a customer up
by any of their names ("Souza" for "Clara Souza Lima"), so each backend gets its own
full-text index. regua.customers.search queries them.
"""

from django.db import migrations

from regua.customers.fts import TRIGGERS

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE customers_contact_fts USING fts5("
    " search_name, content='customers_contact', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    *TRIGGERS,
    "INSERT INTO customers_contact_fts(customers_contact_fts) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS customers_contact_fts_au",
    "DROP TRIGGER IF EXISTS customers_contact_fts_ad",
    "DROP TRIGGER IF EXISTS customers_contact_fts_ai",
    "DROP TABLE IF EXISTS customers_contact_fts",
]
POSTGRES_FORWARD = [
    "CREATE INDEX contact_name_fts_idx ON customers_contact"
    " USING gin (to_tsvector('simple'::regconfig, search_name))",
]
POSTGRES_BACKWARD = ["DROP INDEX IF EXISTS contact_name_fts_idx"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
    ]

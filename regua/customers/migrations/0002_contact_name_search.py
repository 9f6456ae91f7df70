"""The indexes behind the contact search box, each backend its own.

Names: a B-tree on search_name only finds names by their first word; people look a
customer up by any of their names ("Souza" for "Clara Souza Lima"), so SQLite gets an
FTS5 table and PostgreSQL a GIN tsvector index.

E-mail and phone prefixes on PostgreSQL: the same indexes as the models declare, plus the
contact id as an INCLUDE column, so a prefix search reads the index alone instead of
visiting a table row per match (Django cannot declare INCLUDE portably: it skips such
indexes on SQLite, whose indexes hold the rowid anyway). regua.customers.search queries
all of them.
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
    "DROP INDEX contact_email_unique",
    "CREATE UNIQUE INDEX contact_email_unique ON customers_contact"
    " (email varchar_pattern_ops) INCLUDE (id)",
    "DROP INDEX contact_phone_idx",
    "CREATE INDEX contact_phone_idx ON customers_contact (phone varchar_pattern_ops) INCLUDE (id)",
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS contact_name_fts_idx",
    "DROP INDEX contact_email_unique",
    "CREATE UNIQUE INDEX contact_email_unique ON customers_contact (email varchar_pattern_ops)",
    "DROP INDEX contact_phone_idx",
    "CREATE INDEX contact_phone_idx ON customers_contact (phone varchar_pattern_ops)",
]


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

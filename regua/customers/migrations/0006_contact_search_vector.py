"""The name search's words stored on PostgreSQL: a generated tsvector column.

The contact search asks for the newest contacts whose name has a word starting with what
was typed. For a common name ("Silva", "Ana") PostgreSQL rightly walks the contacts from
the newest and keeps the first that match (201 for a page of results); but with the
words indexed only as an expression, it had to parse each name it passed (to_tsvector),
thousands per search.
Stored once per contact, the words are read instead of parsed: the name branch takes a
third of the time on a million contacts (docs/benchmarks.md, issue 7).

Adding the column rewrites the contacts table under an exclusive lock: 24 s for a
million contacts on a 2-core machine (docs/deploy.md, upgrades). PostgreSQL keeps it in
step with search_name on every write. A later change to search_name's type must drop
and re-add the column. SQLite keeps its FTS5 table (0002).
"""

from django.db import migrations

FORWARD = [
    "ALTER TABLE customers_contact ADD COLUMN search_vector tsvector"
    " GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_name)) STORED",
    "CREATE INDEX contact_search_vector_idx ON customers_contact USING gin (search_vector)",
    "DROP INDEX IF EXISTS contact_name_fts_idx",
]
BACKWARD = [
    "CREATE INDEX contact_name_fts_idx ON customers_contact"
    " USING gin (to_tsvector('simple'::regconfig, search_name))",
    "ALTER TABLE customers_contact DROP COLUMN search_vector",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_owner_without_fk_constraint")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]

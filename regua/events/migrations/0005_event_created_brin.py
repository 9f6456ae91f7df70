"""A BRIN index on when each event was received (PostgreSQL only).

The tick reads the events of a trigger that arrived since its last look, whenever they
happened: `occurred_at` in the last two minutes OR `created_at` in the last two minutes,
within the hour of lateness (regua/cadences/triggers.py). Without an index on
`created_at`, PostgreSQL read every event of that name in the hour to test it: 270,000
rows and 275 ms a tick under the load test's 455 events a second. Rows are appended in
the order they are received, so a BRIN index (a summary per 32 pages, under 1 MB for 50M
events) finds the recent ones; the two arms are combined with a BitmapOr (24 ms).

Built CONCURRENTLY, so an upgrade does not stop the API's inserts for the build (about
half a minute at 50M events). SQLite has no BRIN; its tick keeps the plain range scan.
"""

from django.db import migrations

CREATE = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS event_created_brin ON events_event "
    "USING brin (created_at) WITH (pages_per_range = 32, autosummarize = on)"
)
DROP = "DROP INDEX CONCURRENTLY IF EXISTS event_created_brin"


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("events", "0004_event_summary_reads_index"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP)),
    ]

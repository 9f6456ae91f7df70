"""An index on (name, created_at) in place of the BRIN on created_at.

The tick reads the events of a trigger that arrived since its last look, whenever they
happened (regua/cadences/triggers.py): `occurred_at` in the last two minutes OR
`created_at` in the last two minutes, within the hour of lateness. Migration 0005 gave
the second arm a BRIN index on `created_at`, which holds while events are appended in
the order they arrive. Once rows are deleted (the event archive's retention, or a
régua's removal) and vacuumed, new events fill the freed space anywhere in the table, and
the BRIN's ranges widen: on the bench base after a vacuum, two minutes of API events
(56,200 rows) meant rechecking 228,000 rows on 3,200 pages, for every tick of every
event trigger, whatever its name. A B-tree on (name, created_at) reads only the
trigger's own recent events, wherever they lie; its inserts land at the end of each
name's range, a few pages that stay in memory.

Built CONCURRENTLY on PostgreSQL, so an upgrade does not stop the API's inserts for the
build (about two minutes at 50M events).
"""

from django.db import migrations, models

INDEX = models.Index(fields=["name", "created_at"], name="event_name_received_idx")
CREATE = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS event_name_received_idx"
    " ON events_event (name, created_at)"
)
DROP = "DROP INDEX CONCURRENTLY IF EXISTS event_name_received_idx"
BRIN_DROP = "DROP INDEX CONCURRENTLY IF EXISTS event_created_brin"
BRIN_CREATE = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS event_created_brin ON events_event "
    "USING brin (created_at) WITH (pages_per_range = 32, autosummarize = on)"
)


def _swap(create, drop, sqlite_change):
    """Create one index and drop the other: on PostgreSQL CONCURRENTLY, by hand (the BRIN
    is not in Django's state); on SQLite, only the B-tree exists, by the schema editor."""

    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(create)
            schema_editor.execute(drop)
        else:
            getattr(schema_editor, sqlite_change)(apps.get_model("events", "Event"), INDEX)

    return run


_forward = _swap(CREATE, BRIN_DROP, "add_index")
_backward = _swap(BRIN_CREATE, DROP, "remove_index")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("events", "0005_event_created_brin"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="event", index=INDEX)],
            database_operations=[migrations.RunPython(_forward, _backward)],
        ),
    ]

"""The table of the shared cache (settings.CACHES["shared"], regua/core/cache.py).

Made by Django's own `createcachetable`, so its shape is the one DatabaseCache expects on
every database; as a migration, `regua migrate` (and the test database) has it without a
separate step.
"""

from django.core.management import call_command
from django.db import migrations

TABLE = "regua_cache"


def create(apps, schema_editor):
    call_command("createcachetable", TABLE, database=schema_editor.connection.alias, verbosity=0)


def drop(apps, schema_editor):
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(TABLE)}")


class Migration(migrations.Migration):
    dependencies = [("users", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]

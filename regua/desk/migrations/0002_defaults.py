"""The shipped setup: business hours, the default SLA (first response within 10
business hours), categories and reply templates, the apology among them."""

from django.db import migrations

from regua.desk import defaults


def forwards(apps, schema_editor):
    defaults.install(lambda name: apps.get_model("desk", name))


class Migration(migrations.Migration):
    dependencies = [("desk", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

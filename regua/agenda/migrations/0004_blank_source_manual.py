from django.db import migrations


def blank_to_manual(apps, schema_editor):
    # Tasks created before sources had choices (from the admin) had no source.
    apps.get_model("agenda", "Task").objects.filter(source="").update(source="manual")


class Migration(migrations.Migration):
    dependencies = [("agenda", "0003_followups_handovers")]

    operations = [migrations.RunPython(blank_to_manual, migrations.RunPython.noop)]

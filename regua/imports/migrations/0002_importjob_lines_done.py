from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("imports", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="importjob",
            name="lines_done",
            field=models.PositiveIntegerField(default=0),
        ),
    ]

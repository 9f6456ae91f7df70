"""The contact's owner without a foreign-key constraint in PostgreSQL.

PostgreSQL checks the constraint for every row whose owner changes, one at a time at
commit: a portfolio hand-over of 50,000 contacts paid for 50,000 lookups of the same
user. Django keeps the rule (the owner is set to NULL when a user is deleted; users
are deactivated, not deleted).

Only PostgreSQL's constraint is dropped: on SQLite, altering the column would rebuild
the contacts table, and the rebuild would drop the triggers that keep the name search
(customers_contact_fts) in step. SQLite's deferred check is cheap there.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def drop_owner_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("customers", "Contact")
    column = model._meta.get_field("owner").column
    for name in schema_editor._constraint_names(model, [column], foreign_key=True):
        schema_editor.execute(schema_editor._delete_fk_sql(model, name))


def restore_owner_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("customers", "Contact")
    field = model._meta.get_field("owner")
    schema_editor.execute(schema_editor._create_fk_sql(model, field, "_fk_%(to_table)s_%(to_column)s"))


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_consent_terms"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="contact",
                    name="owner",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="contacts",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="owner",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_owner_constraint, restore_owner_constraint),
            ],
        ),
    ]

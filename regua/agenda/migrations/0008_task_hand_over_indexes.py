"""Fewer index entries per task, so a hand-over moving 100,000 tasks writes less:

- the owner without a foreign-key constraint (PostgreSQL checked every moved task, one
  at a time at commit); Django keeps the rule, see Task.owner;
- a task's follow-up and delivery unique only where set, and the contact and company
  indexes only where set: a task without them adds nothing to those four indexes.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('agenda', '0007_move_rows_without_constraints'),
        ('cadences', '0004_partitions'),
        ('customers', '0005_owner_without_fk_constraint'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='task',
            name='task_contact_idx',
        ),
        migrations.RemoveIndex(
            model_name='task',
            name='task_company_idx',
        ),
        migrations.AlterField(
            model_name='task',
            name='delivery',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='cadences.delivery'),
        ),
        migrations.AlterField(
            model_name='task',
            name='follows',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='agenda.task', verbose_name='follows'),
        ),
        migrations.AlterField(
            model_name='task',
            name='owner',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='tasks', to=settings.AUTH_USER_MODEL, verbose_name='owner'),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(condition=models.Q(('contact__isnull', False)), fields=['contact', 'status'], name='task_contact_idx'),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(condition=models.Q(('company__isnull', False)), fields=['company', 'status'], name='task_company_idx'),
        ),
        migrations.AddConstraint(
            model_name='task',
            constraint=models.UniqueConstraint(condition=models.Q(('follows__isnull', False)), fields=('follows',), name='task_follows_unique'),
        ),
        migrations.AddConstraint(
            model_name='task',
            constraint=models.UniqueConstraint(condition=models.Q(('delivery__isnull', False)), fields=('delivery',), name='task_delivery_unique'),
        ),
    ]

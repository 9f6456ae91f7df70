"""The shipped setup: business hours, the default SLA (first response within 10
business hours), categories and reply templates, the apology among them."""

from django.db import migrations

from regua.desk import defaults


def forwards(apps, schema_editor):
    BusinessCalendar = apps.get_model("desk", "BusinessCalendar")
    SlaPolicy = apps.get_model("desk", "SlaPolicy")
    Category = apps.get_model("desk", "Category")
    ReplyTemplate = apps.get_model("desk", "ReplyTemplate")
    calendar, _created = BusinessCalendar.objects.get_or_create(
        name=defaults.CALENDAR["name"], defaults=defaults.CALENDAR
    )
    for name, position, priority, first, resolution, warn in defaults.POLICIES:
        SlaPolicy.objects.get_or_create(
            name=name,
            defaults={
                "position": position,
                "priority": priority,
                "calendar": calendar,
                "first_response_minutes": first,
                "resolution_minutes": resolution,
                "warn_before_minutes": warn,
            },
        )
    for position, name in enumerate(defaults.CATEGORIES):
        Category.objects.get_or_create(name=name, defaults={"position": (position + 1) * 10})
    for position, (name, kind, apology, body_pt, body_en) in enumerate(defaults.TEMPLATES):
        ReplyTemplate.objects.get_or_create(
            name=name,
            defaults={
                "kind": kind,
                "is_apology": apology,
                "body_pt": body_pt,
                "body_en": body_en,
                "position": (position + 1) * 10,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("desk", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

from django.contrib import admin

from regua.customers.admin import BigTableAdmin

from .models import Event


@admin.register(Event)
class EventAdmin(BigTableAdmin):
    list_display = ["occurred_at", "name", "contact", "source"]
    list_filter = ["name"]
    raw_id_fields = ["contact"]
    readonly_fields = ["fingerprint", "created_at"]

from django.contrib import admin

from regua.customers.admin import BigTableAdmin

from .models import ArchiveRun, Event, EventSummary


@admin.register(Event)
class EventAdmin(BigTableAdmin):
    list_display = ["occurred_at", "name", "contact", "source"]
    list_filter = ["name"]
    raw_id_fields = ["contact"]
    readonly_fields = ["fingerprint", "created_at"]


@admin.register(EventSummary)
class EventSummaryAdmin(BigTableAdmin):
    list_display = ["month", "name", "contact", "count", "last_at"]
    list_filter = ["name"]
    raw_id_fields = ["contact"]
    readonly_fields = ["first_at", "last_at", "created_at", "updated_at"]


@admin.register(ArchiveRun)
class ArchiveRunAdmin(admin.ModelAdmin):
    list_display = ["day", "finished_at"]
    readonly_fields = ["day", "finished_at", "summary", "created_at", "updated_at"]

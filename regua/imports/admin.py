from django.contrib import admin

from .models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = [
        "original_name",
        "kind",
        "status",
        "created",
        "updated",
        "skipped",
        "created_at",
    ]
    list_filter = ["kind", "status"]
    readonly_fields = ["created_at", "updated_at", "started_at", "finished_at"]

from django.contrib import admin

from .models import Task


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "owner", "due_on", "status"]
    list_filter = ["status", "kind"]
    raw_id_fields = ["contact", "company", "owner", "delivery"]
    search_fields = ["title"]

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEntry, Erasure


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records nobody edits by hand: the audit log is append-only, an erasure is final."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "label", "ip"]
    list_filter = ["action"]
    date_hierarchy = "created_at"
    list_select_related = ["actor"]


@admin.register(Erasure)
class ErasureAdmin(ReadOnlyAdmin):
    list_display = ["contact_id", "erased_at", "erased_by", "reason"]
    list_filter = ["reason"]

"""SLA policies, calendars, categories and templates are managed here; tickets have
their own pages (desk/views.py) and are only listed here for support."""

from django.contrib import admin

from .models import (
    BusinessCalendar,
    Category,
    ClosedDay,
    ReplyTemplate,
    SlaPolicy,
    Ticket,
)


class ClosedDayInline(admin.TabularInline):
    model = ClosedDay
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "national_holidays", "subdivision"]
    inlines = [ClosedDayInline]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "position",
        "active",
        "kind",
        "priority",
        "segment",
        "first_response_minutes",
        "resolution_minutes",
        "calendar",
    ]
    list_editable = ["position", "active"]
    list_filter = ["active", "kind"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "position"]
    list_editable = ["position"]


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "is_apology", "active", "position"]
    list_filter = ["kind", "is_apology", "active"]


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["id", "subject", "kind", "status", "priority", "assignee", "created_at"]
    list_filter = ["status", "kind", "channel"]
    raw_id_fields = ["contact", "order", "assignee", "created_by"]
    readonly_fields = ["mail_key"]
    search_fields = ["=id", "subject"]
    show_full_result_count = False

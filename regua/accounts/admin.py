from django.contrib import admin

from .models import AccountPlan, Initiative


class InitiativeInline(admin.TabularInline):
    model = Initiative
    raw_id_fields = ["owner"]
    extra = 0


@admin.register(AccountPlan)
class AccountPlanAdmin(admin.ModelAdmin):
    list_display = ["company", "owner", "review_on", "reviewed_at"]
    list_select_related = ["company", "owner"]
    raw_id_fields = ["company", "owner", "review_task", "created_by"]
    search_fields = ["company__name"]
    inlines = [InitiativeInline]

from django.contrib import admin

from regua.core.admin_paging import EstimatedCountPaginator

from .models import (
    Company,
    Consent,
    ConsentChange,
    Contact,
    ContactRole,
    ContactTag,
    Interaction,
    StageChange,
    Tag,
)


class BigTableAdmin(admin.ModelAdmin):
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50


class ContactTagInline(admin.TabularInline):
    model = ContactTag
    raw_id_fields = ["tag"]
    extra = 0


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0


class RoleInline(admin.TabularInline):
    model = ContactRole
    raw_id_fields = ["company", "contact"]
    extra = 0


@admin.register(Contact)
class ContactAdmin(BigTableAdmin):
    list_display = [
        "id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "city",
        "state",
        "stage",
        "owner",
    ]
    list_filter = ["stage"]
    search_fields = ["=external_id", "email", "search_name"]
    raw_id_fields = ["owner"]
    readonly_fields = ["search_name", "created_at", "updated_at"]
    inlines = [ConsentInline, ContactTagInline, RoleInline]


@admin.register(Company)
class CompanyAdmin(BigTableAdmin):
    list_display = [
        "name",
        "cnpj",
        "city",
        "state",
        "profitability",
        "purchase_potential",
        "relationship_degree",
        "owner",
    ]
    list_filter = ["profitability", "purchase_potential", "relationship_degree"]
    search_fields = ["name", "=cnpj", "=external_id"]
    raw_id_fields = ["owner"]
    inlines = [RoleInline]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


@admin.register(Interaction)
class InteractionAdmin(BigTableAdmin):
    list_display = ["occurred_at", "kind", "contact", "subject", "author"]
    list_filter = ["kind"]
    raw_id_fields = ["contact", "company", "author"]


@admin.register(StageChange)
class StageChangeAdmin(BigTableAdmin):
    list_display = ["changed_at", "contact", "from_stage", "to_stage", "source"]
    raw_id_fields = ["contact", "changed_by"]


@admin.register(ConsentChange)
class ConsentChangeAdmin(BigTableAdmin):
    list_display = ["recorded_at", "contact", "channel", "status", "source"]
    list_filter = ["channel", "status"]
    raw_id_fields = ["contact"]

from django.contrib import admin

from regua.customers.admin import BigTableAdmin

from .models import Category, Order, OrderItem, Product


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    raw_id_fields = ["product"]
    extra = 0


@admin.register(Order)
class OrderAdmin(BigTableAdmin):
    list_display = ["external_id", "contact", "ordered_at", "total", "status", "channel"]
    list_filter = ["status"]
    search_fields = ["=external_id"]
    raw_id_fields = ["contact"]
    inlines = [OrderItemInline]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "category", "price", "active"]
    list_filter = ["active", "category"]
    search_fields = ["sku", "name"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "parent"]
    prepopulated_fields = {"slug": ["name"]}

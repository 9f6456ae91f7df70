from django.db import models
from django.utils.translation import gettext_lazy as _

from regua.core.models import TimeStamped
from regua.customers.models import Contact


class Category(TimeStamped):
    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="children",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name


class Product(TimeStamped):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="products",
    )
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, null=True, blank=True)
    url = models.URLField(_("page"), max_length=500, blank=True)
    image_url = models.URLField(_("image"), max_length=500, blank=True)
    active = models.BooleanField(_("active"), default=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)

    class Meta:
        ordering = ["name", "sku"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class OrderStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PAID = "paid", _("Paid")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")
    REFUNDED = "refunded", _("Refunded")


class Order(TimeStamped):
    """A purchase. external_id is the shop's order number, or a fingerprint of the order
    when the shop gives none, so that importing the same export twice adds nothing."""

    external_id = models.CharField(_("order number"), max_length=100, unique=True)
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="orders",
        db_index=False,
    )
    ordered_at = models.DateTimeField(_("ordered at"))
    status = models.CharField(
        _("status"), max_length=10, choices=OrderStatus.choices, default=OrderStatus.PAID
    )
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    discount = models.DecimalField(_("discount"), max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3, default="BRL")
    channel = models.CharField(_("sales channel"), max_length=40, blank=True)

    class Meta:
        ordering = ["-ordered_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        indexes = [
            models.Index(fields=["contact", "ordered_at"], name="order_contact_idx"),
            models.Index(fields=["ordered_at"], name="order_time_idx"),
        ]

    def __str__(self) -> str:
        return self.external_id


class OrderItem(TimeStamped):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(
        Product, on_delete=models.SET_NULL, null=True, blank=True, related_name="order_items"
    )
    sku = models.CharField(_("SKU"), max_length=64)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("order item")
        verbose_name_plural = _("order items")

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"

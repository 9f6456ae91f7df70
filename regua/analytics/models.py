from django.db import models
from django.utils.translation import gettext_lazy as _

from regua.customers.models import Contact


class CustomerScore(models.Model):
    """A customer's computed scores as of the last analytics refresh (one row each).

    Rewritten whole by analytics_refresh; segment rules, templates and the dossier read
    it. Contacts who never bought have no row.
    """

    contact = models.OneToOneField(
        Contact, on_delete=models.CASCADE, primary_key=True, related_name="score"
    )
    as_of = models.DateField(_("as of"))
    purchases = models.PositiveIntegerField(_("purchases"))
    spend = models.DecimalField(_("spend"), max_digits=14, decimal_places=2)
    first_purchase_on = models.DateField(_("first purchase"))
    last_purchase_on = models.DateField(_("last purchase"))
    recency_days = models.PositiveIntegerField(_("days since last purchase"), null=True)
    frequency = models.PositiveIntegerField(_("purchases in the window"), null=True)
    monetary = models.DecimalField(
        _("spend in the window"), max_digits=14, decimal_places=2, null=True
    )
    r = models.PositiveSmallIntegerField("R", null=True)
    f = models.PositiveSmallIntegerField("F", null=True)
    m = models.PositiveSmallIntegerField("M", null=True)
    rfm_segment = models.CharField(_("RFM segment"), max_length=24, blank=True, db_index=True)
    activity_cell = models.CharField(_("activity"), max_length=12, db_index=True)
    relationship_type = models.CharField(_("relationship type"), max_length=12)
    p_alive = models.FloatField(_("P(alive)"), null=True)
    expected_purchases = models.FloatField(_("expected purchases (12 months)"), null=True)
    clv = models.DecimalField(_("CLV"), max_digits=14, decimal_places=2, null=True)
    next_purchase_on = models.DateField(_("expected next purchase"), null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["contact_id"]  # the column itself: ordering by "contact" joins contacts
        verbose_name = _("customer score")
        verbose_name_plural = _("customer scores")

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.rfm_segment or self.activity_cell}"


class Snapshot(models.Model):
    """A computed report (the dashboard's figures) kept per (filter key, as-of date).

    A row without a payload is one being computed: it is also what keeps two requests
    from queueing the same computation twice.
    """

    key = models.CharField(max_length=200)
    as_of = models.DateField(_("as of"))
    payload = models.JSONField(null=True)
    seconds = models.FloatField(_("computed in (s)"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [models.UniqueConstraint(fields=["key", "as_of"], name="snapshot_key_uniq")]

    def __str__(self) -> str:
        return f"{self.key} @ {self.as_of}"


class ProductPair(models.Model):
    """Cross-sell: `other` bought with `sku` (top pairs per product, from the refresh)."""

    sku = models.CharField(_("SKU"), max_length=64)
    other = models.CharField(_("bought with"), max_length=64)
    baskets = models.PositiveIntegerField(_("orders with both"))
    support = models.FloatField(_("support"))
    confidence = models.FloatField(_("confidence"))
    lift = models.FloatField(_("lift"))
    rank = models.PositiveSmallIntegerField(_("rank"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["sku", "other"], name="product_pair_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} → {self.other}"

"""The loyalty programme: a points ledger, tiers, rewards and referrals (docs/loyalty.md).

The ledger (PointEntry) is append-only: a contact's balance is the sum of its entries,
and a correction is a new entry, never an edit. Every idempotency key of the programme
(an order earns once, is reversed once; a referral credits once) is a unique constraint,
so a refresh run twice, or by two workers at once, books nothing twice.
"""

import secrets
from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from regua.commerce.models import Order
from regua.core.models import TimeStamped
from regua.customers.models import Contact


class AppendOnlyError(RuntimeError):
    """Someone tried to change or remove a ledger entry: book a correcting entry instead."""


class EntryKind(models.TextChoices):
    EARN = "earn", _("Earned")
    REDEEM = "redeem", _("Redeemed")
    EXPIRE = "expire", _("Expired")
    ADJUST = "adjust", _("Adjusted")
    REFERRAL = "referral", _("Referral bonus")


class PointEntryQuerySet(models.QuerySet["PointEntry"]):
    """Reads and inserts only. (Deleting a contact still removes its ledger with it:
    Django's cascade deletes below the queryset API, which is what erasure needs.)"""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("the points ledger is append-only: book an adjustment")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("the points ledger is append-only: book an adjustment")


class PointEntry(models.Model):
    """One movement of a contact's points. Positive: earned (a lot that may expire);
    negative: redeemed, expired or taken back. No updated_at: entries never change."""

    contact = models.ForeignKey(
        Contact,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="point_entries",
        db_index=False,  # the (contact, occurred_at) index serves it
    )
    kind = models.CharField(_("kind"), max_length=10, choices=EntryKind.choices)
    points = models.IntegerField(_("points"))
    # The order that earned the points (kind earn) or whose cancellation took them back
    # (kind adjust). The unique constraint below is the accrual's idempotency key.
    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="point_entries",
        db_index=False,
    )
    referral = models.ForeignKey(
        "Referral",
        verbose_name=_("referral"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="entries",
        db_index=False,
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("booked by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    occurred_at = models.DateTimeField(_("date"))
    # Positive entries only: the day the points of this lot expire (NULL: never).
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    created_at = models.DateTimeField(_("booked at"), auto_now_add=True)

    objects = PointEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        constraints = [
            models.UniqueConstraint(
                fields=["order", "kind"],
                condition=Q(order__isnull=False),
                name="loyalty_entry_order_once",
            ),
            models.UniqueConstraint(
                fields=["referral", "kind"],
                condition=Q(referral__isnull=False),
                name="loyalty_entry_referral_once",
            ),
        ]
        indexes = [
            models.Index(fields=["contact", "occurred_at"], name="loyalty_entry_contact_idx"),
            models.Index(
                fields=["expires_on", "contact"],
                name="loyalty_entry_expiry_idx",
                condition=Q(expires_on__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.points:+d} {self.kind}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("the points ledger is append-only: book an adjustment")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("the points ledger is append-only: book an adjustment")


class Tier(TimeStamped):
    """A level of the programme, reached by the rolling 12-month spend."""

    name = models.CharField(_("name"), max_length=60)
    slug = models.SlugField(
        _("code"), max_length=40, unique=True, help_text=_("Used by segments and templates.")
    )
    min_spend_12m = models.DecimalField(
        _("minimum spend in 12 months (R$)"), max_digits=12, decimal_places=2, unique=True
    )
    benefits = models.TextField(_("benefits"), blank=True)

    class Meta:
        ordering = ["min_spend_12m", "id"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")

    def __str__(self) -> str:
        return self.name


class Reward(TimeStamped):
    """Something a customer can take in exchange for points."""

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    points_cost = models.PositiveIntegerField(_("points"))
    active = models.BooleanField(_("active"), default=True)
    stock = models.PositiveIntegerField(
        _("stock"), null=True, blank=True, help_text=_("Empty: unlimited.")
    )

    class Meta:
        ordering = ["points_cost", "name", "id"]
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")

    def __str__(self) -> str:
        return self.name

    @property
    def available(self) -> bool:
        return self.active and (self.stock is None or self.stock > 0)


class Redemption(TimeStamped):
    """A reward taken: the ledger entry that paid for it, and the reward as it was."""

    contact = models.ForeignKey(
        Contact, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="redemptions"
    )
    reward = models.ForeignKey(
        Reward,
        verbose_name=_("reward"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="redemptions",
    )
    reward_name = models.CharField(_("reward"), max_length=120)
    points = models.PositiveIntegerField(_("points"))
    entry = models.OneToOneField(
        PointEntry, on_delete=models.CASCADE, related_name="redemption", verbose_name=_("entry")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")

    def __str__(self) -> str:
        return f"{self.reward_name} ({self.points})"


class Account(TimeStamped):
    """A contact's standing in the programme, as the last refresh computed it: the tier
    by rolling 12-month spend and the highest points milestone announced. The balance is
    not stored: it is always the sum of the ledger (selectors.balances)."""

    contact = models.OneToOneField(
        Contact,
        on_delete=models.CASCADE,
        related_name="loyalty_account",
        verbose_name=_("customer"),
    )
    tier = models.ForeignKey(
        Tier,
        verbose_name=_("tier"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="accounts",
    )
    tier_since = models.DateTimeField(_("in this tier since"), null=True, blank=True)
    spend_12m = models.DecimalField(
        _("spend in 12 months"), max_digits=14, decimal_places=2, default=0
    )
    milestone = models.PositiveIntegerField(_("highest milestone reached"), default=0)
    refreshed_at = models.DateTimeField(_("refreshed at"), null=True, blank=True)

    class Meta:
        ordering = ["contact"]
        verbose_name = _("loyalty account")
        verbose_name_plural = _("loyalty accounts")
        indexes = [models.Index(fields=["tier", "contact"], name="loyalty_account_tier_idx")]

    def __str__(self) -> str:
        return f"{self.contact_id}: {self.tier_id or '-'}"


# No 0/O, 1/I/L: a code read aloud on the phone or typed from a flyer survives.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class ReferralCode(models.Model):
    """A contact's own referral code (one each, random, unique). Never changed."""

    contact = models.OneToOneField(
        Contact, on_delete=models.CASCADE, related_name="referral_code", verbose_name=_("customer")
    )
    code = models.CharField(_("code"), max_length=16, unique=True, default=new_code)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["contact"]
        verbose_name = _("referral code")
        verbose_name_plural = _("referral codes")

    def __str__(self) -> str:
        return self.code


class ReferralStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the first purchase")
    CREDITED = "credited", _("Credited")
    INELIGIBLE = "ineligible", _("Not eligible")


class IneligibleReason(models.TextChoices):
    REFERRER_DELETED = "referrer_deleted", _("The referrer's record was deleted")
    ALREADY_CUSTOMER = "already_customer", _("The first purchase came before the referral")


class Referral(TimeStamped):
    """Who brought whom. The referred contact is referred once; the referrer is credited
    when the referred contact's first purchase comes in (services.loyalty_accrue)."""

    referrer = models.ForeignKey(
        Contact,
        verbose_name=_("referred by"),
        on_delete=models.SET_NULL,  # a deleted referrer leaves the referral, uncredited
        null=True,
        blank=True,
        related_name="referrals_made",
    )
    referred = models.OneToOneField(
        Contact,
        verbose_name=_("referred customer"),
        on_delete=models.CASCADE,
        related_name="referral",
    )
    code = models.CharField(_("code used"), max_length=16)
    recorded_at = models.DateTimeField(_("recorded at"))
    status = models.CharField(
        _("status"), max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.PENDING
    )
    order = models.ForeignKey(
        Order,
        verbose_name=_("first order"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.CharField(
        _("reason"), max_length=20, choices=IneligibleReason.choices, blank=True
    )

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        indexes = [models.Index(fields=["status", "referred"], name="loyalty_referral_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(referrer=F("referred")), name="loyalty_referral_not_self"
            )
        ]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.referred_id}"


class RefreshRun(models.Model):
    """The marker of a scheduled refresh: one row per slot, so however many workers call
    loyalty_refresh_due, each slot's refresh is queued once."""

    slot = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.slot

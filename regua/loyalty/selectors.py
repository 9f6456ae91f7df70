"""Reads of the loyalty programme: a contact's summary, the template variables of a batch,
the programme overview. Plain data, never model objects handed to templates of messages."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from regua.analytics.frames import PURCHASED
from regua.commerce.models import Order
from regua.customers.models import Contact
from regua.customers.selectors import contacts_visible_to
from regua.users.models import User

from . import tokens
from .models import Account, EntryKind, PointEntry, Redemption, Referral, ReferralStatus, Tier
from .services import add_months, balances, fifo_sums, referral_codes_ensure, tier_for

LAST_ENTRIES = 10
EXPIRING_DAYS = 30


def spend_12m(contact: Contact, now: datetime) -> Decimal:
    """The contact's purchases in the 12 months up to `now`, as the tiers count them."""
    local = timezone.localtime(now)
    year_ago = add_months(local.date(), -12)
    since = local.replace(year=year_ago.year, month=year_ago.month, day=year_ago.day)
    total = Order.objects.filter(
        contact=contact, status__in=PURCHASED, ordered_at__gt=since, ordered_at__lte=now
    ).aggregate(s=Sum("total"))["s"]
    return Decimal(total or 0).quantize(Decimal("0.01"))


def points_and_expiring(
    contact_ids: list[int], now: datetime, days: int = EXPIRING_DAYS
) -> dict[int, tuple[int, int]]:
    """Each contact's balance (the sum of its entries, as services.balances) and the
    points that will expire within `days` unless spent (the FIFO rule of
    services.loyalty_expire, looked ahead: lots due by then minus all debits), in one
    query."""
    until = timezone.localdate(now) + timedelta(days=days)
    entries = PointEntry.objects.filter(contact_id__in=contact_ids)
    rows = fifo_sums(entries, until).annotate(balance=Sum("points"))
    return {
        r["contact_id"]: (r["balance"] or 0, max(0, (r["due"] or 0) + (r["spent"] or 0)))
        for r in rows
    }


def tier_data(tier: Tier | None) -> dict[str, Any] | None:
    if tier is None:
        return None
    return {
        "name": tier.name,
        "slug": tier.slug,
        "benefits": tier.benefits,
        "min_spend_12m": tier.min_spend_12m,
    }


def loyalty_standing(contact: Contact, *, now: datetime | None = None) -> dict[str, Any]:
    """A contact's standing, for the dossier: balance (the ledger's sum), tier (as the last
    refresh stored it) and the next one with the spend it still needs (live), referral
    code and links, referrals made and credited."""
    now = now or timezone.now()
    tiers = list(Tier.objects.order_by("min_spend_12m"))
    account = Account.objects.filter(contact=contact).select_related("tier").first()
    tier = account.tier if account else None
    spend = spend_12m(contact, now)
    upcoming = [t for t in tiers if t.min_spend_12m > (tier.min_spend_12m if tier else -1)]
    next_tier = upcoming[0] if upcoming else None
    code = referral_codes_ensure(contact_ids=[contact.pk])[contact.pk]
    points, expiring = points_and_expiring([contact.pk], now).get(contact.pk, (0, 0))
    referrals = Referral.objects.filter(referrer=contact).aggregate(
        made=Count("pk"), credited=Count("pk", filter=Q(status=ReferralStatus.CREDITED))
    )
    return {
        "points": points,
        "expiring_soon": expiring,
        "expiring_days": EXPIRING_DAYS,
        "tier": tier_data(tier),
        "tier_since": account.tier_since if account else None,
        "spend_12m": spend,
        "live_tier": tier_data(tier_for(spend, tiers)),
        "next_tier": tier_data(next_tier),
        "spend_missing": max(Decimal(0), next_tier.min_spend_12m - spend) if next_tier else None,
        "referral_code": code,
        "referral_url": tokens.referral_url(code),
        "page_url": tokens.page_url(contact.pk),
        "referrals_made": referrals["made"],
        "referrals_credited": referrals["credited"],
    }


def loyalty_summary(contact: Contact, *, now: datetime | None = None) -> dict[str, Any]:
    """The standing, with who referred the contact and the latest entries and
    redemptions: the points statement, the customer's own page and the API."""
    return {
        **loyalty_standing(contact, now=now),
        "referred_by": Referral.objects.filter(referred=contact).select_related("referrer").first(),
        "entries": list(
            PointEntry.objects.filter(contact=contact)
            .select_related("order", "created_by", "referral__referred")
            .order_by("-occurred_at", "-id")[:LAST_ENTRIES]
        ),
        "redemptions": list(Redemption.objects.filter(contact=contact)[:LAST_ENTRIES]),
    }


def template_variables(contact_ids: set[int]) -> dict[int, dict[str, Any]]:
    """`loyalty` of each contact for message templates, in a handful of queries for the
    whole batch (cadences.context)."""
    ids = sorted(contact_ids)
    points = balances(ids)
    tiers = {
        row[0]: row[1:]
        for row in Account.objects.filter(contact_id__in=ids, tier__isnull=False).values_list(
            "contact_id", "tier__name", "tier__slug", "tier__benefits"
        )
    }
    codes = referral_codes_ensure(contact_ids=ids)
    site = settings.REGUA_SITE_URL
    found = {}
    for contact_id in ids:
        name, slug, benefits = tiers.get(contact_id, ("", "", ""))
        code = codes.get(contact_id, "")
        found[contact_id] = {
            "points": points.get(contact_id, 0),
            "tier": name,
            "tier_code": slug,
            "tier_benefits": benefits,
            "referral_code": code,
            "referral_url": tokens.referral_url(code, site) if code else "",
            "page_url": tokens.page_url(contact_id, site),
        }
    return found


def programme_overview(*, user: User, now: datetime | None = None) -> dict[str, Any]:
    """The programme at a glance: members per tier, points outstanding, the last 30 days'
    movements, referrals by status, rewards taken."""
    now = now or timezone.now()
    since = now - timedelta(days=30)
    members: dict[int | None, int] = dict(
        Account.objects.order_by().values("tier").annotate(n=Count("pk")).values_list("tier", "n")
    )
    tiers = [(tier, members.get(tier.pk, 0)) for tier in Tier.objects.all()]
    ledger = PointEntry.objects.order_by()
    outstanding = ledger.aggregate(s=Sum("points"))["s"] or 0
    movements = dict(
        ledger.filter(occurred_at__gte=since, occurred_at__lte=now)
        .values("kind")
        .annotate(s=Sum("points"))
        .values_list("kind", "s")
    )
    referrals = dict(
        Referral.objects.order_by()
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return {
        "tiers": tiers,
        "no_tier": members.get(None, 0),
        "members": sum(members.values()),
        "outstanding": outstanding,
        "earned_30d": (movements.get(EntryKind.EARN, 0) or 0)
        + (movements.get(EntryKind.REFERRAL, 0) or 0),
        "redeemed_30d": -(movements.get(EntryKind.REDEEM, 0) or 0),
        "expired_30d": -(movements.get(EntryKind.EXPIRE, 0) or 0),
        "referrals": [(status, referrals.get(status.value, 0)) for status in ReferralStatus],
        # Names only of the contacts this user may see (the totals above are anonymous).
        "redemptions": list(
            Redemption.objects.filter(contact__in=contacts_visible_to(user)).select_related(
                "contact"
            )[:10]
        ),
    }

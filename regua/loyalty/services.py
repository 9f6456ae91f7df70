"""Writes of the loyalty programme: the ledger, redemptions, referrals and the refresh.

Every write appends to the ledger (PointEntry) and never changes it. The scheduled work
is set-based: `loyalty_refresh` credits every purchase not yet credited with one read and
one INSERT, expires points with one aggregate and one INSERT, and recomputes every tier
from one aggregate of the orders (docs/loyalty.md has the rules).
"""

import calendar
import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from regua.analytics.frames import PURCHASED
from regua.commerce.models import Order, OrderStatus
from regua.customers.models import Contact
from regua.events.ingest import fingerprint
from regua.events.models import Event
from regua.lib.bulk import insert_many, update_many
from regua.users.models import User

from .models import (
    Account,
    EntryKind,
    IneligibleReason,
    PointEntry,
    Redemption,
    Referral,
    ReferralCode,
    ReferralStatus,
    RefreshRun,
    Reward,
    Tier,
    new_code,
)

logger = logging.getLogger(__name__)

REVERSED = [OrderStatus.CANCELLED, OrderStatus.REFUNDED]
ENTRY_FIELDS = [
    "contact_id",
    "kind",
    "points",
    "order_id",
    "referral_id",
    "reason",
    "occurred_at",
    "expires_on",
    "created_at",
]
ACCOUNT_FIELDS = [
    "contact_id",
    "tier_id",
    "tier_since",
    "spend_12m",
    "milestone",
    "refreshed_at",
    "created_at",
    "updated_at",
]
TIER_CHANGED = "loyalty_tier_changed"
MILESTONE = "loyalty_points_milestone"


class LoyaltyError(ValueError):
    """A refused write; `field` names the input at fault (for forms and the API)."""

    def __init__(self, message: str, field: str = "points") -> None:
        super().__init__(message)
        self.field = field


# -- Dates ------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), on the month's last day when it is short."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def expiry_for(moment: datetime) -> date | None:
    """The day points credited at `moment` expire (REGUA_LOYALTY_EXPIRY_MONTHS later)."""
    months = settings.REGUA_LOYALTY_EXPIRY_MONTHS
    return add_months(timezone.localdate(moment), months) if months > 0 else None


def points_for(total: Decimal) -> int:
    """Points for an amount in reais: REGUA_LOYALTY_POINTS_PER_BRL per whole real, rounded
    down (R$ 99,90 earns 99 points at 1 per real)."""
    rate = settings.REGUA_LOYALTY_POINTS_PER_BRL
    return int((Decimal(total) * rate).to_integral_value(rounding=ROUND_FLOOR))


# -- Reading the ledger (the writes below need it) --------------------------------------


def balances(contact_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Each contact's balance, the sum of its entries, in one GROUP BY."""
    entries = PointEntry.objects.all()
    if contact_ids is not None:
        entries = entries.filter(contact_id__in=list(contact_ids))
    rows = entries.order_by().values("contact_id").annotate(total=Sum("points"))
    return {row["contact_id"]: row["total"] or 0 for row in rows}


def balance_of(contact: Contact) -> int:
    return balances([contact.pk]).get(contact.pk, 0)


# -- Manual writes ----------------------------------------------------------------------


LEDGER_LOCK = 0x6C6F79616C7479  # "loyalty"


def ledger_lock() -> None:
    """Serialise the writes that read the ledger before writing to it: a debit checks
    the balance, an expiry computes what is left. On SQLite the IMMEDIATE transactions
    already run one writer at a time; PostgreSQL takes a transaction advisory lock (two
    redemptions at once must not spend the same points, nor two expiries expire twice)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LEDGER_LOCK])


def _expire_lapsed(contact: Contact, now: datetime) -> None:
    """Book what has lapsed before a debit, in a transaction of its own: the points are
    gone whether or not the debit then goes through, and the refusal says so."""
    with transaction.atomic():
        ledger_lock()
        loyalty_expire(now=now, contact_ids=[contact.pk])


def _debit(
    *, contact: Contact, kind: EntryKind, points: int, reason: str, by: User | None, now: datetime
) -> PointEntry:
    """Book `points` (> 0) out of the balance, refusing more than it holds. Called in a
    transaction, after _expire_lapsed (so lapsed points cannot be spent)."""
    if points <= 0:
        raise LoyaltyError(_("Enter a number of points greater than zero."))
    ledger_lock()
    available = balance_of(contact)
    if points > available:
        raise LoyaltyError(
            _("Not enough points: the balance is %(balance)s, %(points)s were asked for.")
            % {"balance": available, "points": points}
        )
    return PointEntry.objects.create(
        contact=contact, kind=kind, points=-points, reason=reason, created_by=by, occurred_at=now
    )


def points_adjust(
    *, contact: Contact, points: int, reason: str, by: User | None, now: datetime | None = None
) -> PointEntry:
    """A manual correction: positive adds points (they expire like earned ones), negative
    takes them back (never below zero). The reason is required: the ledger says why."""
    now = now or timezone.now()
    if not reason.strip():
        raise LoyaltyError(_("Say why the points are adjusted."), field="reason")
    if points == 0:
        raise LoyaltyError(_("Enter a number of points other than zero."))
    if points < 0:
        _expire_lapsed(contact, now)
    with transaction.atomic():
        if points < 0:
            return _debit(
                contact=contact,
                kind=EntryKind.ADJUST,
                points=-points,
                reason=reason.strip(),
                by=by,
                now=now,
            )
        return PointEntry.objects.create(
            contact=contact,
            kind=EntryKind.ADJUST,
            points=points,
            reason=reason.strip(),
            created_by=by,
            occurred_at=now,
            expires_on=expiry_for(now),
        )


def points_redeem(
    *,
    contact: Contact,
    points: int,
    reason: str = "",
    by: User | None = None,
    now: datetime | None = None,
) -> PointEntry:
    """Spend points (not for a catalogue reward: reward_redeem does that)."""
    now = now or timezone.now()
    _expire_lapsed(contact, now)
    with transaction.atomic():
        return _debit(
            contact=contact,
            kind=EntryKind.REDEEM,
            points=points,
            reason=reason.strip(),
            by=by,
            now=now,
        )


def reward_redeem(
    *, contact: Contact, reward: Reward, by: User | None = None, now: datetime | None = None
) -> Redemption:
    """Exchange points for a reward: checks it is on offer and in stock, takes one from
    the stock and the points from the balance, all or nothing."""
    now = now or timezone.now()
    if not reward.active:
        raise LoyaltyError(_("This reward is not on offer."), field="reward")
    _expire_lapsed(contact, now)
    with transaction.atomic():
        if reward.stock is not None:
            # A conditional UPDATE: two redemptions of the last one cannot both succeed.
            taken = Reward.objects.filter(pk=reward.pk, stock__gt=0).update(
                stock=F("stock") - 1, updated_at=now
            )
            if not taken:
                raise LoyaltyError(_("This reward is out of stock."), field="reward")
        entry = _debit(
            contact=contact,
            kind=EntryKind.REDEEM,
            points=reward.points_cost,
            reason=reward.name[:200],
            by=by,
            now=now,
        )
        return Redemption.objects.create(
            contact=contact,
            reward=reward,
            reward_name=reward.name,
            points=reward.points_cost,
            entry=entry,
            created_by=by,
        )


# -- Referrals --------------------------------------------------------------------------


def referral_codes_ensure(*, contact_ids: Iterable[int]) -> dict[int, str]:
    """The referral code of each contact, creating the missing ones in one INSERT.

    A random code that collides with another is dropped by the unique index; the loop
    draws again for those (rare: 31^8 codes)."""
    wanted = set(contact_ids)
    found = referral_codes_of(wanted)
    for _attempt in range(5):
        missing = wanted - found.keys()
        if not missing:
            break
        now = timezone.now()
        insert_many(
            ReferralCode,
            ["contact_id", "code", "created_at"],
            ((contact_id, new_code(), now) for contact_id in sorted(missing)),
            ignore_conflicts=True,
        )
        found.update(referral_codes_of(missing))
    return found


LOOKUP_BATCH = 10_000  # ids per query: SQLite refuses statements with too many variables


def referral_codes_of(contact_ids: set[int]) -> dict[int, str]:
    ordered = sorted(contact_ids)
    found: dict[int, str] = {}
    for start in range(0, len(ordered), LOOKUP_BATCH):
        batch = ordered[start : start + LOOKUP_BATCH]
        found.update(
            ReferralCode.objects.filter(contact_id__in=batch).values_list("contact_id", "code")
        )
    return found


def referral_code_for(*, contact: Contact) -> str:
    return referral_codes_ensure(contact_ids=[contact.pk])[contact.pk]


def referral_record(*, code: str, referred: Contact, now: datetime | None = None) -> Referral:
    """Record that `referred` came through the code of another contact.

    Refused: an unknown code, one's own code, a contact already referred, and a contact
    who has already bought (a referral rewards bringing a new customer; one who already
    buys was not brought by the referrer, and crediting after the fact would let friends
    trade codes for points)."""
    now = now or timezone.now()
    owner = ReferralCode.objects.filter(code=code.strip().upper()).first()
    if owner is None:
        raise LoyaltyError(_("No customer has this referral code."), field="referrer_code")
    if owner.contact_id == referred.pk:
        raise LoyaltyError(_("A customer cannot refer themselves."), field="contact")
    if Referral.objects.filter(referred=referred).exists():
        raise LoyaltyError(_("This customer was already referred."), field="contact")
    if Order.objects.filter(contact=referred, status__in=PURCHASED, ordered_at__lte=now).exists():
        raise LoyaltyError(
            _("This customer has already bought: referrals count for new customers only."),
            field="contact",
        )
    try:
        with transaction.atomic():
            return Referral.objects.create(
                referrer_id=owner.contact_id, referred=referred, code=owner.code, recorded_at=now
            )
    except IntegrityError:  # referred at this very moment by another request
        raise LoyaltyError(_("This customer was already referred."), field="contact") from None


# -- The refresh ------------------------------------------------------------------------


@dataclass
class RefreshSummary:
    now: str = ""
    orders_credited: int = 0
    points_earned: int = 0
    orders_reversed: int = 0
    referrals_credited: int = 0
    referrals_ineligible: int = 0
    referrals_reversed: int = 0
    contacts_expired: int = 0
    points_expired: int = 0
    accounts: int = 0
    tier_changes: int = 0
    milestones: int = 0
    seconds: float = 0.0
    tiers: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _entries(rows: Iterable[tuple[Any, ...]]) -> int:
    now = timezone.now()
    return insert_many(
        PointEntry, ENTRY_FIELDS, ((*row, now) for row in rows), ignore_conflicts=True
    )


def loyalty_accrue(*, now: datetime, summary: RefreshSummary | None = None) -> RefreshSummary:
    """Credit the purchases and referrals not yet credited; take back cancelled ones.

    1. Every paid, shipped or delivered order up to `now` without an earn entry earns
       points_for(total), dated at the order, in one INSERT (the unique (order, kind)
       index makes a second run, or a concurrent one, add nothing).
    2. Every credited order since cancelled or refunded gets one reversing adjustment.
    3. Pending referrals whose referred contact has bought: the first purchase credits
       the referrer once, unless the referrer was deleted or the purchase came before
       the referral was recorded (then the referral is closed as not eligible).
    4. A credited referral whose first order was cancelled or refunded is taken back.
    """
    summary = summary or RefreshSummary()
    credited = PointEntry.objects.filter(order=OuterRef("pk"), kind=EntryKind.EARN)
    rate = settings.REGUA_LOYALTY_POINTS_PER_BRL
    rows = []
    if rate > 0:
        orders = (
            Order.objects.filter(
                status__in=PURCHASED, ordered_at__lte=now, total__gte=Decimal(1) / rate
            )
            .exclude(Exists(credited))
            .order_by()
            .values_list("pk", "contact_id", "total", "ordered_at")
        )
        for order_id, contact_id, total, ordered_at in orders.iterator(chunk_size=5000):
            points = points_for(total)
            if points > 0:
                rows.append(
                    (
                        contact_id,
                        "earn",
                        points,
                        order_id,
                        None,
                        "",
                        ordered_at,
                        expiry_for(ordered_at),
                    )
                )
    summary.orders_credited += _entries(rows)
    summary.points_earned += sum(row[2] for row in rows)
    today = timezone.localdate(now)
    reversed_orders = (
        PointEntry.objects.filter(kind=EntryKind.EARN, order__status__in=REVERSED)
        .exclude(Exists(PointEntry.objects.filter(order=OuterRef("order"), kind=EntryKind.ADJUST)))
        .order_by()
        .values_list("contact_id", "order_id", "points", "expires_on")
    )
    summary.orders_reversed += _entries(
        (
            contact_id,
            "adjust",
            -_left_to_take(points, expires, today),
            order_id,
            None,
            "",
            now,
            None,
        )
        for contact_id, order_id, points, expires in reversed_orders
    )
    _referrals_attribute(now, summary)
    return summary


def _referrals_attribute(now: datetime, summary: RefreshSummary) -> None:
    first = Order.objects.filter(
        contact=OuterRef("referred"), status__in=PURCHASED, ordered_at__lte=now
    ).order_by("ordered_at", "pk")
    pending = list(
        Referral.objects.filter(status=ReferralStatus.PENDING)
        .annotate(
            first_id=Subquery(first.values("pk")[:1]),
            first_at=Subquery(first.values("ordered_at")[:1]),
        )
        .filter(first_id__isnull=False)
    )
    bonus = settings.REGUA_LOYALTY_REFERRAL_POINTS
    rows = []
    for referral in pending:
        referral.order_id = referral.first_id
        if referral.referrer_id is None:
            referral.status, referral.reason = ReferralStatus.INELIGIBLE, "referrer_deleted"
        elif referral.first_at < referral.recorded_at:
            referral.status, referral.reason = ReferralStatus.INELIGIBLE, "already_customer"
        else:
            referral.status, referral.reason = ReferralStatus.CREDITED, ""
            if bonus > 0:
                rows.append(
                    (
                        referral.referrer_id,
                        "referral",
                        bonus,
                        None,
                        referral.pk,
                        "",
                        referral.first_at,
                        expiry_for(referral.first_at),
                    )
                )
        referral.updated_at = now
    _entries(rows)
    Referral.objects.bulk_update(
        pending, ["status", "reason", "order", "updated_at"], batch_size=500
    )
    summary.referrals_credited += sum(r.status == ReferralStatus.CREDITED for r in pending)
    summary.referrals_ineligible += sum(r.status == ReferralStatus.INELIGIBLE for r in pending)
    taken_back = (
        PointEntry.objects.filter(kind=EntryKind.REFERRAL, referral__order__status__in=REVERSED)
        .exclude(
            Exists(PointEntry.objects.filter(referral=OuterRef("referral"), kind=EntryKind.ADJUST))
        )
        .order_by()
        .values_list("contact_id", "referral_id", "points", "expires_on")
    )
    today = timezone.localdate(now)
    summary.referrals_reversed += _entries(
        (
            contact_id,
            "adjust",
            -_left_to_take(points, expires, today),
            None,
            referral_id,
            "",
            now,
            None,
        )
        for contact_id, referral_id, points, expires in taken_back
    )


def _left_to_take(points: int, expires_on: date | None, today: date) -> int:
    """What a reversal takes back from a lot: all of it while it is still valid; nothing
    once its expiry day has passed, since its points are already gone (spent or expired;
    taking them again would charge the customer twice). The reversal is still written,
    with 0 points, so the lot counts as handled."""
    return points if expires_on is None or expires_on > today else 0


def fifo_sums(entries: QuerySet[PointEntry], until: date) -> Any:
    """Per contact: `due`, the points of the lots expiring by `until`, and `spent`, all
    the points debited; what is left to expire is due + spent when positive.

    A lot taken back by a reversal (its order refunded, its referral undone) and that
    reversal cancel out: both are left out, so a refund neither expires other points
    early nor keeps lapsed ones alive. A reversal of 0 (the lot had lapsed) takes
    nothing and leaves the lot in.
    """
    taken_back = Exists(
        PointEntry.objects.filter(
            Q(order=OuterRef("order"), order__isnull=False)
            | Q(referral=OuterRef("referral"), referral__isnull=False),
            kind=EntryKind.ADJUST,
            points__lt=0,
        )
    )
    reversal = Q(kind=EntryKind.ADJUST) & (Q(order__isnull=False) | Q(referral__isnull=False))
    return (
        entries.annotate(taken_back=taken_back)
        .order_by()
        .values("contact_id")
        .annotate(
            due=Sum("points", filter=Q(points__gt=0, expires_on__lte=until, taken_back=False)),
            spent=Sum("points", filter=Q(points__lt=0) & ~reversal),
        )
    )


def loyalty_expire(
    *,
    now: datetime,
    contact_ids: Iterable[int] | None = None,
    summary: RefreshSummary | None = None,
) -> RefreshSummary:
    """Expire the points past their day, first in first out.

    The rule: every debit (redemption, expiry, negative adjustment) consumes the
    earliest-expiring points first. So the points due to expire by today are a prefix of
    the lots, and what is left of them is (points of lots expired by today) − (all
    points ever debited), when positive. Points already redeemed are never expired, and
    a second run adds nothing (the first run's expiry entry counts as debited). One
    aggregate over the contacts with a lapsed lot, one INSERT.
    """
    summary = summary or RefreshSummary()
    today = timezone.localdate(now)
    lapsed = PointEntry.objects.filter(expires_on__lte=today, points__gt=0)
    if contact_ids is not None:
        lapsed = lapsed.filter(contact_id__in=list(contact_ids))
    rows = fifo_sums(PointEntry.objects.filter(contact_id__in=lapsed.values("contact_id")), today)
    entries = []
    for row in rows:
        left = (row["due"] or 0) + (row["spent"] or 0)
        if left > 0:
            entries.append((row["contact_id"], "expire", -left, None, None, "", now, None))
    _entries(entries)
    summary.contacts_expired += len(entries)
    summary.points_expired += -sum(row[2] for row in entries)
    return summary


def tier_for(spend: Decimal, tiers: list[Tier]) -> Tier | None:
    """The highest tier whose minimum the spend reaches (tiers sorted by minimum)."""
    reached = None
    for tier in tiers:
        if spend >= tier.min_spend_12m:
            reached = tier
    return reached


def loyalty_tiers_refresh(
    *, now: datetime, summary: RefreshSummary | None = None
) -> RefreshSummary:
    """Recompute every member's tier and milestone; announce the changes as events.

    1. One aggregate of the purchases in the 12 months up to `now`, one of the ledger,
       one read of the accounts.
    2. Each member (an account, a purchase in the window or a ledger entry) gets the
       highest tier its spend reaches, and the highest milestone its balance reaches.
    3. New accounts in one INSERT, changed ones in one executemany UPDATE; a tier change
       appends `loyalty_tier_changed`, a milestone passed for the first time appends
       `loyalty_points_milestone` (the highest passed), both at `now`.
    """
    summary = summary or RefreshSummary()
    tiers = list(Tier.objects.order_by("min_spend_12m"))
    by_id = {tier.pk: tier for tier in tiers}
    local = timezone.localtime(now)
    year_ago = add_months(local.date(), -12)
    since = local.replace(year=year_ago.year, month=year_ago.month, day=year_ago.day)
    spend = dict(
        Order.objects.filter(status__in=PURCHASED, ordered_at__gt=since, ordered_at__lte=now)
        .order_by()
        .values("contact_id")
        .annotate(s=Sum("total"))
        .values_list("contact_id", "s")
    )
    points = balances()
    accounts = {
        row[0]: row[1:]
        for row in Account.objects.values_list(
            "contact_id", "pk", "tier_id", "spend_12m", "milestone"
        ).iterator(chunk_size=5000)
    }
    milestones = sorted(settings.REGUA_LOYALTY_MILESTONES)
    created, changed, events = [], [], []
    for contact_id in spend.keys() | points.keys() | accounts.keys():
        total = Decimal(spend.get(contact_id) or 0).quantize(Decimal("0.01"))
        tier = tier_for(total, tiers)
        balance = points.get(contact_id, 0)
        reached = max((m for m in milestones if balance >= m), default=0)
        known = accounts.get(contact_id)
        old_tier_id, old_milestone = (known[1], known[3]) if known else (None, 0)
        new_tier_id = tier.pk if tier else None
        milestone = max(reached, old_milestone)
        if new_tier_id != old_tier_id:
            old = by_id.get(old_tier_id) if old_tier_id else None
            events.append((contact_id, TIER_CHANGED, _tier_change(old, tier)))
        if reached > old_milestone:
            events.append((contact_id, MILESTONE, {"milestone": reached, "points": balance}))
        tier_since = now if new_tier_id != old_tier_id else None
        if known is None:
            created.append((contact_id, new_tier_id, tier_since, total, milestone, now, now, now))
        elif (new_tier_id, total, milestone) != (old_tier_id, known[2], old_milestone):
            changed.append((known[0], new_tier_id, total, milestone, now, tier_since))
    insert_many(Account, ACCOUNT_FIELDS, created, ignore_conflicts=True)
    _accounts_update(changed)
    _events_append(events, now)
    summary.accounts = len(accounts) + len(created)
    summary.tier_changes += sum(1 for e in events if e[1] == TIER_CHANGED)
    summary.milestones += sum(1 for e in events if e[1] == MILESTONE)
    return summary


def _tier_change(old: Tier | None, new: Tier | None) -> dict[str, Any]:
    old_min = old.min_spend_12m if old else Decimal(-1)
    new_min = new.min_spend_12m if new else Decimal(-1)
    return {
        "from": old.slug if old else "",
        "to": new.slug if new else "",
        "from_name": old.name if old else "",
        "to_name": new.name if new else "",
        "direction": "up" if new_min > old_min else "down",
    }


def _accounts_update(changed: list[tuple[Any, ...]]) -> None:
    """Changed accounts: the tier's start moves only when the tier changed."""
    moved = [
        (tier, total, m, now, now, since, pk) for pk, tier, total, m, now, since in changed if since
    ]
    kept = [
        (tier, total, m, now, now, pk) for pk, tier, total, m, now, since in changed if not since
    ]
    fields = ["tier_id", "spend_12m", "milestone", "refreshed_at", "updated_at"]
    update_many(Account, [*fields, "tier_since"], moved)
    update_many(Account, fields, kept)


def tier_delete(*, tier: Tier, now: datetime | None = None) -> int:
    """Delete a tier; its members move now to the tier their stored spend still reaches,
    each with a `loyalty_tier_changed` event that names the deleted tier (a refresh run
    after the deletion could no longer say where they came from). Returns how many moved.
    """
    now = now or timezone.now()
    with transaction.atomic():
        others = list(Tier.objects.exclude(pk=tier.pk).order_by("min_spend_12m"))
        members = list(
            Account.objects.filter(tier=tier).values_list("pk", "contact_id", "spend_12m")
        )
        events, moved = [], []
        for pk, contact_id, spend in members:
            lower = tier_for(spend, others)
            moved.append((lower.pk if lower else None, now, now, pk))
            events.append((contact_id, TIER_CHANGED, _tier_change(tier, lower)))
        update_many(Account, ["tier_id", "tier_since", "updated_at"], moved)
        _events_append(events, now)
        tier.delete()
    return len(members)


def _events_append(events: list[tuple[int, str, dict[str, Any]]], now: datetime) -> None:
    """The programme's events join the stream réguas trigger on (regua.events)."""
    rows = []
    for contact_id, name, properties in events:
        print_, _encoded = fingerprint(None, properties)
        rows.append(
            Event(
                contact_id=contact_id,
                name=name,
                occurred_at=now,
                properties=properties,
                fingerprint=print_,
                source="loyalty",
            )
        )
    Event.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)


def loyalty_refresh(*, now: datetime | None = None) -> RefreshSummary:
    """The programme's scheduled pass as of `now`: accrue, expire, tiers and events."""
    started = time.monotonic()
    now = now or timezone.now()
    summary = RefreshSummary(now=now.isoformat())
    with transaction.atomic():
        ledger_lock()
        loyalty_accrue(now=now, summary=summary)
        loyalty_expire(now=now, summary=summary)
        loyalty_tiers_refresh(now=now, summary=summary)
    summary.tiers = tier_counts()
    summary.seconds = round(time.monotonic() - started, 3)
    logger.info("loyalty: %s", summary.as_dict())
    return summary


def tier_counts() -> dict[str, int]:
    rows = Account.objects.order_by().values("tier__slug").annotate(n=Count("pk"))
    return {row["tier__slug"] or "": row["n"] for row in rows}


def loyalty_refresh_due(*, now: datetime) -> bool:
    """Queue the programme's refresh once per REGUA_LOYALTY_REFRESH_MINUTES.

    Called by every worker on each tick: a marker row per time slot makes one of them
    queue it however many run. Returns whether this call queued it."""
    from .tasks import loyalty_refresh_job

    minutes = max(settings.REGUA_LOYALTY_REFRESH_MINUTES, 1)
    slot = str(int(now.timestamp() // (minutes * 60)))
    _marker, created = RefreshRun.objects.get_or_create(slot=slot)
    if created:
        RefreshRun.objects.filter(created_at__lt=now - timedelta(days=7)).delete()
        transaction.on_commit(lambda: loyalty_refresh_job.enqueue(now.isoformat()))
    return created


def ineligible_reason_label(code: str) -> str:
    return str(IneligibleReason(code).label) if code in IneligibleReason.values else ""

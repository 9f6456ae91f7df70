"""The loyalty programme: ledger, accrual, expiry, tiers, events, referrals, pages, API."""

import itertools
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regua.cadences.conditions import to_q
from regua.cadences.rendering import check_message
from regua.commerce.models import Order, OrderStatus
from regua.customers.models import Contact
from regua.events.models import Event
from regua.loyalty import tokens
from regua.loyalty.demo import loyalty_demo
from regua.loyalty.models import (
    Account,
    AppendOnlyError,
    EntryKind,
    PointEntry,
    Redemption,
    Referral,
    ReferralCode,
    ReferralStatus,
    RefreshRun,
    Reward,
    Tier,
)
from regua.loyalty.selectors import loyalty_summary, template_variables
from regua.loyalty.services import (
    LoyaltyError,
    add_months,
    balance_of,
    expiry_for,
    loyalty_accrue,
    loyalty_expire,
    loyalty_refresh,
    loyalty_refresh_due,
    points_adjust,
    points_redeem,
    referral_code_for,
    referral_record,
    reward_redeem,
)
from regua.segments.rules import compile_rule
from regua.users.models import User

T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
_numbers = itertools.count(1)


def order(
    contact: Contact, total: str | int, at: datetime, status: str = OrderStatus.PAID
) -> Order:
    return Order.objects.create(
        external_id=f"L-{next(_numbers)}",
        contact=contact,
        ordered_at=at,
        total=Decimal(str(total)),
        status=status,
    )


def ledger_sum(contact: Contact) -> int:
    return PointEntry.objects.filter(contact=contact).aggregate(s=Sum("points"))["s"] or 0


def events(contact: Contact, name: str) -> list[dict[str, Any]]:
    return [e.properties for e in Event.objects.filter(contact=contact, name=name).order_by("id")]


@pytest.fixture
def tiers(db: None) -> list[Tier]:
    return [
        Tier.objects.create(slug="prata", name="Prata", min_spend_12m=Decimal("500")),
        Tier.objects.create(
            slug="ouro", name="Ouro", min_spend_12m=Decimal("1500"), benefits="Frete grátis"
        ),
    ]


# -- The ledger: append-only, balance = sum, FIFO expiry ------------------------------


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("earn"), st.integers(1, 2000)),
        st.tuples(st.just("redeem"), st.integers(1, 3000)),
        st.tuples(st.just("adjust"), st.integers(-3000, 3000).filter(bool)),
        st.tuples(st.just("advance"), st.integers(1, 400)),
        st.tuples(st.just("expire"), st.just(0)),
    ),
    max_size=14,
)


class LedgerModel:
    """The rule in plain Python: lots with an expiry day; every debit consumes the
    earliest-expiring lots first, so what lapses is (lots due) − (all debits)."""

    def __init__(self) -> None:
        self.lots: list[tuple[date | None, int]] = []
        self.debits = 0

    @property
    def balance(self) -> int:
        return sum(points for _day, points in self.lots) - self.debits

    def expire(self, today: date) -> None:
        due = sum(points for day, points in self.lots if day is not None and day <= today)
        self.debits += max(0, due - self.debits)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
def test_any_sequence_keeps_the_balance_the_sum_of_an_append_only_ledger(
    db: None, ops: list[tuple[str, int]]
) -> None:
    # given a new customer
    contact = Contact.objects.create(email=f"h{next(_numbers)}@exemplo.com.br")
    model = LedgerModel()
    now = T0
    seen: list[tuple[int, int, str]] = []
    for op, amount in ops:
        # when any operation runs
        if op == "earn":
            order(contact, amount, now)
            loyalty_accrue(now=now)
            model.lots.append((expiry_for(now), amount))
        elif op == "advance":
            now += timedelta(days=amount)
        elif op == "expire":
            loyalty_expire(now=now)
            model.expire(now.date())
        elif op == "redeem" or amount < 0:
            wanted = amount if op == "redeem" else -amount
            model.expire(now.date())  # a debit first expires what has lapsed
            try:
                if op == "redeem":
                    points_redeem(contact=contact, points=wanted, now=now)
                else:
                    points_adjust(contact=contact, points=amount, reason="teste", by=None, now=now)
            except LoyaltyError:
                # then a debit beyond the balance is refused
                assert wanted > model.balance
            else:
                assert wanted <= model.balance
                model.debits += wanted
        else:
            points_adjust(contact=contact, points=amount, reason="bônus", by=None, now=now)
            model.lots.append((expiry_for(now), amount))
        # then the balance is the sum of the entries, never negative, and as the rule says
        assert balance_of(contact) == ledger_sum(contact) == model.balance
        assert model.balance >= 0
        # and no entry ever changed or went away
        rows = list(
            PointEntry.objects.filter(contact=contact)
            .order_by("id")
            .values_list("id", "points", "kind")
        )
        assert rows[: len(seen)] == seen
        seen = rows


def test_the_ledger_refuses_updates_and_deletes(make_contact: Callable[..., Contact]) -> None:
    entry = points_adjust(contact=make_contact(), points=10, reason="boas-vindas", by=None)
    entry.points = 1000
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        PointEntry.objects.filter(pk=entry.pk).update(points=1000)
    with pytest.raises(AppendOnlyError):
        PointEntry.objects.filter(pk=entry.pk).delete()
    assert PointEntry.objects.get(pk=entry.pk).points == 10


def test_deleting_a_contact_erases_its_ledger(make_contact: Callable[..., Contact]) -> None:
    contact = make_contact()
    points_adjust(contact=contact, points=500, reason="boas-vindas", by=None)
    reward_redeem(contact=contact, reward=Reward.objects.create(name="Brinde", points_cost=100))
    contact.delete()
    assert not PointEntry.objects.exists() and not Redemption.objects.exists()


def test_expiry_is_fifo_and_never_takes_redeemed_points(
    make_contact: Callable[..., Contact],
) -> None:
    # given 100 points earned in March and 50 in September, 120 redeemed in October
    contact = make_contact()
    order(contact, 100, T0)
    loyalty_accrue(now=T0)
    september = T0 + timedelta(days=184)
    order(contact, 50, september)
    loyalty_accrue(now=september)
    points_redeem(contact=contact, points=120, now=september + timedelta(days=30))
    # when March's points reach their expiry: they were all spent first
    a_year = T0 + timedelta(days=366)
    loyalty_expire(now=a_year)
    assert balance_of(contact) == 30
    # when September's lot expires, only its unspent 30 go
    summary = loyalty_expire(now=september + timedelta(days=366))
    assert summary.points_expired == 30
    assert balance_of(contact) == 0
    # and a second run expires nothing more
    assert loyalty_expire(now=september + timedelta(days=400)).points_expired == 0


def test_unspent_points_expire_after_the_configured_months(
    make_contact: Callable[..., Contact], settings: Any
) -> None:
    settings.REGUA_LOYALTY_EXPIRY_MONTHS = 6
    contact = make_contact()
    order(contact, 100, T0)
    loyalty_accrue(now=T0)
    points_redeem(contact=contact, points=30, now=T0 + timedelta(days=10))
    entry = PointEntry.objects.get(contact=contact, kind=EntryKind.EARN)
    assert entry.expires_on == add_months(date(2026, 3, 10), 6) == date(2026, 9, 10)
    loyalty_expire(now=datetime(2026, 9, 9, 12, tzinfo=UTC))
    assert balance_of(contact) == 70
    loyalty_expire(now=datetime(2026, 9, 10, 12, tzinfo=UTC))
    assert balance_of(contact) == 0
    expired = PointEntry.objects.get(contact=contact, kind=EntryKind.EXPIRE)
    assert expired.points == -70


def test_redeeming_expired_points_is_refused(make_contact: Callable[..., Contact]) -> None:
    contact = make_contact()
    order(contact, 100, T0)
    loyalty_accrue(now=T0)
    with pytest.raises(LoyaltyError, match="balance is 0"):
        points_redeem(contact=contact, points=50, now=T0 + timedelta(days=400))


def test_a_refund_after_the_points_expired_takes_nothing_twice(
    make_contact: Callable[..., Contact],
) -> None:
    # given 100 points from March that expired a year later
    contact = make_contact()
    placed = order(contact, 100, T0)
    loyalty_accrue(now=T0)
    a_year = T0 + timedelta(days=370)
    loyalty_expire(now=a_year)
    assert balance_of(contact) == 0
    # when the March order is refunded after that
    placed.status = OrderStatus.REFUNDED
    placed.save()
    assert loyalty_accrue(now=a_year + timedelta(days=1)).orders_reversed == 1
    # then the lapsed points are not charged again, and the refund is handled once
    assert balance_of(contact) == 0
    assert loyalty_accrue(now=a_year + timedelta(days=2)).orders_reversed == 0


def test_a_refunded_lot_does_not_keep_lapsed_points_alive(
    make_contact: Callable[..., Contact],
) -> None:
    # given 100 points in March and 100 in July; July's order is refunded in August
    contact = make_contact()
    order(contact, 100, T0)
    july = T0 + timedelta(days=120)
    refunded = order(contact, 100, july)
    loyalty_accrue(now=july)
    refunded.status = OrderStatus.REFUNDED
    refunded.save()
    loyalty_accrue(now=july + timedelta(days=30))
    assert balance_of(contact) == 100
    # when March's lot reaches its expiry day, its points go (the refund spent nothing)
    summary = loyalty_expire(now=T0 + timedelta(days=370))
    assert summary.points_expired == 100
    assert balance_of(contact) == 0


# -- Accrual ---------------------------------------------------------------------------


def test_purchases_earn_points_once_rounded_down(make_contact: Callable[..., Contact]) -> None:
    # given a paid, a delivered, a pending order and one under R$ 1
    contact = make_contact()
    order(contact, "99.90", T0)
    order(contact, "250.00", T0, OrderStatus.DELIVERED)
    order(contact, "500.00", T0, OrderStatus.PENDING)
    order(contact, "0.50", T0)
    # when the accrual runs twice
    first = loyalty_accrue(now=T0 + timedelta(hours=1))
    second = loyalty_accrue(now=T0 + timedelta(hours=2))
    # then the purchases earned once, cents rounded down, pending earned nothing
    assert (first.orders_credited, first.points_earned) == (2, 349)
    assert second.orders_credited == 0
    assert balance_of(contact) == 349
    assert PointEntry.objects.filter(contact=contact).count() == 2


def test_an_order_placed_after_now_waits(make_contact: Callable[..., Contact]) -> None:
    contact = make_contact()
    order(contact, 100, T0 + timedelta(days=1))
    loyalty_accrue(now=T0)
    assert balance_of(contact) == 0


def test_points_per_real_follows_the_setting(
    make_contact: Callable[..., Contact], settings: Any
) -> None:
    settings.REGUA_LOYALTY_POINTS_PER_BRL = 2
    contact = make_contact()
    order(contact, "10.60", T0)
    loyalty_accrue(now=T0)
    assert balance_of(contact) == 21


def test_a_cancelled_order_takes_its_points_back_once(
    make_contact: Callable[..., Contact],
) -> None:
    contact = make_contact()
    placed = order(contact, 300, T0)
    loyalty_accrue(now=T0)
    placed.status = OrderStatus.REFUNDED
    placed.save()
    later = T0 + timedelta(days=3)
    assert loyalty_accrue(now=later).orders_reversed == 1
    assert loyalty_accrue(now=later).orders_reversed == 0
    reversal = PointEntry.objects.get(contact=contact, kind=EntryKind.ADJUST)
    assert (reversal.points, reversal.order_id) == (-300, placed.pk)
    assert balance_of(contact) == 0


# -- Redemption ------------------------------------------------------------------------


def test_a_reward_costs_its_points_and_one_of_its_stock(
    make_contact: Callable[..., Contact],
) -> None:
    contact = make_contact()
    points_adjust(contact=contact, points=900, reason="campanha", by=None)
    mug = Reward.objects.create(name="Caneca exclusiva", points_cost=400, stock=1)
    redemption = reward_redeem(contact=contact, reward=mug)
    assert balance_of(contact) == 500
    assert redemption.entry.points == -400
    mug.refresh_from_db()
    assert mug.stock == 0
    with pytest.raises(LoyaltyError, match="out of stock"):
        reward_redeem(contact=contact, reward=mug)
    assert balance_of(contact) == 500


def test_redeeming_more_than_the_balance_is_refused(make_contact: Callable[..., Contact]) -> None:
    contact = make_contact()
    points_adjust(contact=contact, points=100, reason="campanha", by=None)
    coupon = Reward.objects.create(name="Cupom de R$ 50", points_cost=500, stock=3)
    with pytest.raises(LoyaltyError) as refused:
        reward_redeem(contact=contact, reward=coupon)
    assert "balance is 100, 500 were asked for" in str(refused.value)
    coupon.refresh_from_db()
    assert coupon.stock == 3  # the stock taken is given back with the refusal
    assert not Redemption.objects.exists()
    with pytest.raises(LoyaltyError):
        points_adjust(contact=contact, points=-101, reason="erro", by=None)
    with pytest.raises(LoyaltyError):
        points_adjust(contact=contact, points=5, reason="  ", by=None)
    assert balance_of(contact) == 100


# -- Tiers and events ------------------------------------------------------------------


def test_tiers_follow_the_rolling_twelve_months_and_announce_changes(
    make_contact: Callable[..., Contact], tiers: list[Tier]
) -> None:
    # given R$ 600 of purchases
    contact = make_contact()
    order(contact, 600, T0)
    loyalty_refresh(now=T0 + timedelta(hours=1))
    account = Account.objects.get(contact=contact)
    assert account.tier.slug == "prata"
    assert events(contact, "loyalty_tier_changed") == [
        {"from": "", "to": "prata", "from_name": "", "to_name": "Prata", "direction": "up"}
    ]
    # when R$ 1,000 more come in, the customer goes up; a second refresh adds nothing
    order(contact, 1000, T0 + timedelta(days=30))
    loyalty_refresh(now=T0 + timedelta(days=30, hours=1))
    loyalty_refresh(now=T0 + timedelta(days=30, hours=2))
    changes = events(contact, "loyalty_tier_changed")
    assert [(c["from"], c["to"]) for c in changes] == [("", "prata"), ("prata", "ouro")]
    # when the first purchase leaves the 12-month window, the spend drops below Ouro
    loyalty_refresh(now=T0 + timedelta(days=370))
    account.refresh_from_db()
    assert account.tier.slug == "prata"
    assert account.spend_12m == Decimal("1000.00")
    assert events(contact, "loyalty_tier_changed")[-1]["direction"] == "down"


def test_a_milestone_is_announced_once(make_contact: Callable[..., Contact], settings: Any) -> None:
    settings.REGUA_LOYALTY_MILESTONES = [500, 1000]
    contact = make_contact()
    order(contact, 1200, T0)
    loyalty_refresh(now=T0)
    assert events(contact, "loyalty_points_milestone") == [{"milestone": 1000, "points": 1200}]
    # spending under the milestone and earning back above it says nothing again
    points_redeem(contact=contact, points=800, now=T0 + timedelta(days=1))
    loyalty_refresh(now=T0 + timedelta(days=1))
    order(contact, 900, T0 + timedelta(days=2))
    loyalty_refresh(now=T0 + timedelta(days=2))
    assert len(events(contact, "loyalty_points_milestone")) == 1


def test_the_refresh_is_queued_once_per_slot(db: None, settings: Any) -> None:
    settings.REGUA_LOYALTY_REFRESH_MINUTES = 60
    assert loyalty_refresh_due(now=T0) is True
    assert loyalty_refresh_due(now=T0 + timedelta(minutes=5)) is False
    assert loyalty_refresh_due(now=T0 + timedelta(minutes=61)) is True
    assert RefreshRun.objects.count() == 2


def test_the_command_prints_a_json_summary(make_contact: Callable[..., Contact]) -> None:
    order(make_contact(), 120, T0)
    out = StringIO()
    call_command("loyalty", "refresh", "--now", "2026-03-11T10:00:00+00:00", stdout=out)
    summary = json.loads(out.getvalue())
    assert (summary["orders_credited"], summary["points_earned"]) == (1, 120)


# -- Referrals -------------------------------------------------------------------------


def test_a_referred_first_purchase_credits_the_referrer_once(
    make_contact: Callable[..., Contact], settings: Any
) -> None:
    settings.REGUA_LOYALTY_REFERRAL_POINTS = 200
    referrer, friend = make_contact(), make_contact()
    referral = referral_record(code=referral_code_for(contact=referrer), referred=friend, now=T0)
    first = order(friend, 80, T0 + timedelta(days=2))
    loyalty_refresh(now=T0 + timedelta(days=3))
    order(friend, 90, T0 + timedelta(days=4))
    loyalty_refresh(now=T0 + timedelta(days=5))
    referral.refresh_from_db()
    assert (referral.status, referral.order_id) == (ReferralStatus.CREDITED, first.pk)
    assert balance_of(referrer) == 200
    assert balance_of(friend) == 170
    # when the first order is refunded, the bonus goes back too
    first.status = OrderStatus.REFUNDED
    first.save()
    loyalty_refresh(now=T0 + timedelta(days=6))
    assert balance_of(referrer) == 0


def test_referral_codes_for_many_contacts_are_looked_up_in_batches(
    make_contact: Callable[..., Contact], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A million contacts in one IN (...) is more variables than SQLite takes: the
    # lookups go in batches (three ids at a time here), and every contact gets one code.
    from regua.loyalty import services

    monkeypatch.setattr(services, "LOOKUP_BATCH", 3)
    contacts = [make_contact() for _ in range(10)]
    ids = [c.pk for c in contacts]
    first = services.referral_codes_ensure(contact_ids=ids[:4])
    codes = services.referral_codes_ensure(contact_ids=ids)
    assert sorted(codes) == sorted(ids)
    assert all(codes[pk] == first[pk] for pk in ids[:4])  # existing codes are kept
    assert len(set(codes.values())) == 10
    assert ReferralCode.objects.count() == 10


def test_self_referral_is_refused(make_contact: Callable[..., Contact]) -> None:
    contact = make_contact()
    with pytest.raises(LoyaltyError, match="cannot refer themselves"):
        referral_record(code=referral_code_for(contact=contact), referred=contact)
    assert not Referral.objects.exists()


def test_a_referral_after_the_first_order_earns_nothing(
    make_contact: Callable[..., Contact],
) -> None:
    # Referrals reward bringing a new customer: one who already bought was not brought.
    referrer, customer, late = make_contact(), make_contact(), make_contact()
    code = referral_code_for(contact=referrer)
    order(customer, 100, T0)
    with pytest.raises(LoyaltyError, match="already bought"):
        referral_record(code=code, referred=customer, now=T0 + timedelta(days=1))
    # given a referral recorded before an order that the shop reports later, dated earlier
    referral = referral_record(code=code, referred=late, now=T0 + timedelta(days=1))
    order(late, 100, T0)
    loyalty_refresh(now=T0 + timedelta(days=2))
    referral.refresh_from_db()
    assert (referral.status, referral.reason) == (ReferralStatus.INELIGIBLE, "already_customer")
    assert balance_of(referrer) == 0


def test_a_deleted_referrer_is_credited_nothing_and_breaks_nothing(
    make_contact: Callable[..., Contact],
) -> None:
    referrer, friend = make_contact(), make_contact()
    referral = referral_record(code=referral_code_for(contact=referrer), referred=friend, now=T0)
    referrer.delete()
    order(friend, 100, T0 + timedelta(days=1))
    summary = loyalty_refresh(now=T0 + timedelta(days=2))
    referral.refresh_from_db()
    assert referral.referrer_id is None
    assert (referral.status, referral.reason) == (ReferralStatus.INELIGIBLE, "referrer_deleted")
    assert summary.referrals_credited == 0
    assert not PointEntry.objects.filter(kind=EntryKind.REFERRAL).exists()
    assert balance_of(friend) == 100


def test_a_customer_is_referred_once_and_codes_must_exist(
    make_contact: Callable[..., Contact],
) -> None:
    one, two, friend = make_contact(), make_contact(), make_contact()
    referral_record(code=referral_code_for(contact=one), referred=friend)
    with pytest.raises(LoyaltyError, match="already referred"):
        referral_record(code=referral_code_for(contact=two), referred=friend)
    with pytest.raises(LoyaltyError, match="No customer has this referral code"):
        referral_record(code="NOPE1234", referred=two)


# -- Template variables and segments -----------------------------------------------------


def test_templates_read_balance_tier_and_links(
    make_contact: Callable[..., Contact], tiers: list[Tier]
) -> None:
    contact = make_contact()
    order(contact, 1600, T0)
    loyalty_refresh(now=T0)
    variables = template_variables({contact.pk})[contact.pk]
    assert variables["points"] == 1600
    assert (variables["tier"], variables["tier_benefits"]) == ("Ouro", "Frete grátis")
    assert variables["referral_url"].endswith(f"/r/{variables['referral_code']}")
    assert tokens.read(variables["page_url"].rstrip("/").rsplit("/", 1)[1]) == contact.pk
    message = {
        "pt-br": {
            "subject": "Você tem {{ loyalty.points }} pontos",
            "body": "Nível {{ loyalty.tier }}: {{ loyalty.tier_benefits }}. "
            "[Indique]({{ loyalty.referral_url }}) · [Seus pontos]({{ loyalty.page_url }})",
        }
    }
    assert check_message("email", message) == []


def test_segments_select_by_tier_and_points(
    make_contact: Callable[..., Contact], tiers: list[Tier]
) -> None:
    gold, silver, nobody = make_contact(), make_contact(), make_contact()
    order(gold, 2000, T0)
    order(silver, 600, T0)
    loyalty_refresh(now=T0)

    def members(field: str, op: str, value: Any) -> set[int]:
        rule = {"match": "all", "conditions": [{"field": field, "op": op, "value": value}]}
        via_rule = set(Contact.objects.filter(compile_rule(rule)).values_list("pk", flat=True))
        via_step = set(
            Contact.objects.filter(to_q([{"field": field, "op": op, "value": value}])).values_list(
                "pk", flat=True
            )
        )
        assert via_rule == via_step
        return via_rule

    assert members("loyalty.tier", "eq", "ouro") == {gold.pk}
    assert members("loyalty.tier", "in", ["prata", "ouro"]) == {gold.pk, silver.pk}
    assert members("loyalty.tier", "eq", "none") == {nobody.pk}
    assert members("loyalty.points", "gte", 600) == {gold.pk, silver.pk}
    assert members("loyalty.points", "lt", 1000) == {silver.pk, nobody.pk}


# -- Pages -----------------------------------------------------------------------------


def test_the_customer_page_opens_by_signed_link_only(
    make_contact: Callable[..., Contact], tiers: list[Tier]
) -> None:
    contact = make_contact(first_name="Clara", language="en")
    order(contact, 1600, T0)
    loyalty_refresh(now=T0)
    Reward.objects.create(name="Frete grátis", points_cost=150)
    client = Client()
    page = client.get(f"/l/{tokens.make(contact.pk)}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Hello, Clara!" in text and "1,600" in text and "Ouro" in text
    assert referral_code_for(contact=contact) in text and "Frete grátis" in text
    other = make_contact()
    forged = tokens.make(other.pk).split(":")[0] + ":" + tokens.make(contact.pk).split(":")[1]
    assert client.get(f"/l/{forged}/").status_code == 404
    assert client.get(f"/l/{contact.pk}:x/").status_code == 404


def test_the_customer_page_speaks_portuguese(make_contact: Callable[..., Contact]) -> None:
    contact = make_contact(first_name="Joana", language="pt-br")
    page = Client().get(f"/l/{tokens.make(contact.pk)}/")
    assert page.status_code == 200
    assert 'lang="pt-br"' in page.content.decode()


def test_a_referral_link_lands_on_the_code(
    make_contact: Callable[..., Contact], settings: Any
) -> None:
    code = referral_code_for(contact=make_contact(first_name="Rafa"))
    landing = Client().get(f"/r/{code}")
    assert landing.status_code == 200 and code in landing.content.decode()
    assert Client().get("/r/NOPE1234").status_code == 404
    settings.REGUA_LOYALTY_SHOP_URL = "https://loja.exemplo.com.br/cadastro"
    moved = Client().get(f"/r/{code}")
    assert moved["Location"] == f"https://loja.exemplo.com.br/cadastro?ref={code}"


def test_agents_read_and_redeem_but_only_managers_adjust(
    make_contact: Callable[..., Contact],
    alice: User,
    manager: User,
    client_for: Callable[[User], Client],
) -> None:
    contact = make_contact(owner=alice)
    points_adjust(contact=contact, points=500, reason="campanha", by=None)
    reward = Reward.objects.create(name="Cupom de R$ 25", points_cost=250)
    agent = client_for(alice)
    for url in [
        "/loyalty/",
        "/loyalty/tiers/",
        "/loyalty/rewards/",
        f"/loyalty/contacts/{contact.pk}/",
    ]:
        assert agent.get(url).status_code == 200, url
    assert agent.get("/loyalty/tiers/new/").status_code == 403
    assert (
        agent.post(
            f"/loyalty/contacts/{contact.pk}/adjust/", {"points": 100, "reason": "x"}
        ).status_code
        == 403
    )
    assert (
        agent.post(f"/loyalty/contacts/{contact.pk}/redeem/", {"reward": reward.pk}).status_code
        == 302
    )
    assert balance_of(contact) == 250
    boss = client_for(manager)
    boss.post(f"/loyalty/contacts/{contact.pk}/adjust/", {"points": -50, "reason": "ajuste"})
    assert balance_of(contact) == 200
    refused = boss.post(
        f"/loyalty/contacts/{contact.pk}/adjust/", {"points": -999, "reason": "erro"}, follow=True
    )
    assert (
        "Not enough points" in refused.content.decode()
        or "Pontos insuficientes" in refused.content.decode()
    )
    assert balance_of(contact) == 200
    page = boss.get(f"/loyalty/contacts/{contact.pk}/")
    assert page.context["summary"]["points"] == 200


def test_managers_edit_tiers_and_rewards(
    manager: User, client_for: Callable[[User], Client]
) -> None:
    boss = client_for(manager)
    saved = boss.post(
        "/loyalty/tiers/new/",
        {"name": "Diamante", "slug": "diamante", "min_spend_12m": "5000", "benefits": "Tudo"},
    )
    assert saved.status_code == 302
    assert Tier.objects.get(slug="diamante").min_spend_12m == Decimal("5000")
    boss.post(
        "/loyalty/rewards/new/", {"name": "Frete grátis", "points_cost": "150", "active": "on"}
    )
    assert Reward.objects.get(name="Frete grátis").stock is None
    reserved = boss.post("/loyalty/tiers/new/", {"name": "X", "slug": "none", "min_spend_12m": "1"})
    assert reserved.status_code == 200 and not Tier.objects.filter(slug="none").exists()


def test_agents_see_only_their_portfolio_ledgers(
    make_contact: Callable[..., Contact],
    alice: User,
    bob: User,
    client_for: Callable[[User], Client],
    settings: Any,
) -> None:
    settings.PORTFOLIO_VISIBILITY = "own"
    contact = make_contact(owner=alice)
    assert client_for(bob).get(f"/loyalty/contacts/{contact.pk}/").status_code == 404
    assert client_for(alice).get(f"/loyalty/contacts/{contact.pk}/").status_code == 200


# -- API -------------------------------------------------------------------------------


def test_the_api_records_a_referral_and_reads_the_balance(
    make_contact: Callable[..., Contact], api: Client
) -> None:
    referrer = make_contact()
    friend = make_contact(external_id="shop-42")
    code = referral_code_for(contact=referrer)
    created = api.post(
        "/api/loyalty/referrals",
        {"referrer_code": code.lower(), "contact": "shop-42"},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["contact_id"] == friend.pk
    points_adjust(contact=referrer, points=40, reason="boas-vindas", by=None)
    read = api.get(f"/api/loyalty/contacts/{referrer.email}")
    assert read.status_code == 200
    body = read.json()
    assert (body["points"], body["referral_code"]) == (40, code)
    assert body["entries"][0]["points"] == 40
    assert api.get("/api/loyalty/contacts/nobody@exemplo.com.br").status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"referrer_code": "NOPE1234", "contact": "shop-7"}, "referrer_code"),
        ({"referrer_code": "SELF", "contact": "shop-7"}, "contact"),
        ({"referrer_code": "OWN", "contact": "ghost@exemplo.com.br"}, "contact"),
        ({"referrer_code": "OWN"}, "contact"),
    ],
)
def test_the_api_refuses_bad_referrals_with_the_field_and_reason(
    make_contact: Callable[..., Contact], api: Client, payload: dict[str, str], field: str
) -> None:
    someone = make_contact(external_id="shop-7")
    other = make_contact()
    codes = {"SELF": referral_code_for(contact=someone), "OWN": referral_code_for(contact=other)}
    payload = {k: codes.get(v, v) for k, v in payload.items()}
    refused = api.post("/api/loyalty/referrals", payload, content_type="application/json")
    assert refused.status_code == 422
    detail = refused.json()["detail"][0]
    assert detail["loc"][-1] == field and detail["msg"]
    assert not Referral.objects.exists()


def test_the_api_needs_a_writer_to_record_referrals(
    make_contact: Callable[..., Contact], alice: User
) -> None:
    from regua.users.models import ApiKey

    _key, token = ApiKey.generate(user=alice, name="agente")
    agent = Client(headers={"Authorization": f"Bearer {token}"})
    code = referral_code_for(contact=make_contact())
    refused = agent.post(
        "/api/loyalty/referrals",
        {"referrer_code": code, "contact": make_contact().email},
        content_type="application/json",
    )
    assert refused.status_code == 403


# -- Summary and demo ------------------------------------------------------------------


def test_the_summary_tells_the_next_tier_and_what_is_missing(
    make_contact: Callable[..., Contact], tiers: list[Tier]
) -> None:
    contact = make_contact()
    order(contact, 700, T0)
    loyalty_refresh(now=T0)
    summary = loyalty_summary(contact, now=T0)
    assert summary["tier"]["slug"] == "prata"
    assert summary["next_tier"]["slug"] == "ouro"
    assert summary["spend_missing"] == Decimal("800.00")
    assert summary["points"] == 700 == ledger_sum(contact)
    assert summary["expiring_soon"] == 0
    assert summary["referral_code"]


def test_the_demo_installs_a_programme(make_contact: Callable[..., Contact]) -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    contacts = [make_contact() for _ in range(12)]
    for n, contact in enumerate(contacts[:9]):
        first = now - timedelta(days=400 - n * 40)
        order(contact, 300 + 200 * n, first)
        order(contact, 150, first + timedelta(days=20))
    summary = loyalty_demo(now)
    assert Tier.objects.count() == 3 and Reward.objects.count() == 5
    assert summary.orders_credited == 18
    assert Referral.objects.exists()
    for contact in contacts:
        assert balance_of(contact) == ledger_sum(contact) >= 0
    loyalty_demo(now)  # a second run adds no tier, reward or referral
    assert Tier.objects.count() == 3 and Reward.objects.count() == 5


def test_deleting_an_order_or_a_referred_contact_keeps_the_points(
    make_contact: Callable[..., Contact],
) -> None:
    referrer, friend = make_contact(), make_contact()
    referral_record(code=referral_code_for(contact=referrer), referred=friend, now=T0)
    placed = order(friend, 100, T0 + timedelta(days=1))
    loyalty_refresh(now=T0 + timedelta(days=1))
    placed.delete()
    friend.delete()
    assert balance_of(referrer) == 200
    assert PointEntry.objects.get(contact=referrer).referral_id is None


def test_the_customer_page_warns_of_points_about_to_expire(
    make_contact: Callable[..., Contact],
) -> None:
    from django.utils import timezone

    now = timezone.now()
    contact = make_contact(language="en")
    order(contact, 1500, now - timedelta(days=350))
    loyalty_accrue(now=now)
    points_redeem(contact=contact, points=300, now=now)
    assert loyalty_summary(contact)["expiring_soon"] == 1200
    page = Client().get(f"/l/{tokens.make(contact.pk)}/")
    assert "1,200 points expire within 30 days" in page.content.decode()


def test_the_overview_names_only_the_contacts_an_agent_may_see(
    make_contact: Callable[..., Contact],
    alice: User,
    bob: User,
    client_for: Callable[[User], Client],
    settings: Any,
) -> None:
    # given a redemption by Alice's customer and one by Bob's
    settings.PORTFOLIO_VISIBILITY = "own"
    reward = Reward.objects.create(name="Frete grátis", points_cost=100)
    mine = make_contact(owner=alice, first_name="Clara", last_name="Souza")
    theirs = make_contact(owner=bob, first_name="Pedro", last_name="Alves")
    for contact in (mine, theirs):
        points_adjust(contact=contact, points=100, reason="campanha", by=None)
        reward_redeem(contact=contact, reward=reward)
    # when Alice opens the programme's overview
    page = client_for(alice).get("/loyalty/").content.decode()
    # then she sees her customer's redemption, not Bob's customer's name
    assert "Clara Souza" in page and "Pedro Alves" not in page


def test_deleting_a_tier_moves_its_members_down_and_says_from_where(
    make_contact: Callable[..., Contact],
    tiers: list[Tier],
    manager: User,
    client_for: Callable[[User], Client],
) -> None:
    # given a customer in Ouro (R$ 2.000 in 12 months)
    contact = make_contact()
    order(contact, 2000, T0)
    loyalty_refresh(now=T0 + timedelta(hours=1))
    assert Account.objects.get(contact=contact).tier.slug == "ouro"
    # when a manager deletes Ouro
    response = client_for(manager).post(f"/loyalty/tiers/{tiers[1].pk}/delete/")
    assert response.status_code == 302
    # then the customer is in Prata now, and the event names where they came from
    assert Account.objects.get(contact=contact).tier.slug == "prata"
    changes = events(contact, "loyalty_tier_changed")
    assert changes[-1]["from"] == "ouro" and changes[-1]["to"] == "prata"
    assert changes[-1]["direction"] == "down"
    # and the next refresh announces nothing more
    loyalty_refresh(now=T0 + timedelta(hours=2))
    assert len(events(contact, "loyalty_tier_changed")) == len(changes)

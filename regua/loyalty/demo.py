"""The demo's loyalty programme: Brazilian tiers and rewards, referral codes for every
contact, a few referrals among the demo's customers, then one refresh over the history.

Set-based throughout (a handful of queries whatever the number of contacts); safe to run
twice (tiers and rewards are matched by code and name, referrals by the referred).
"""

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Min

from regua.analytics.frames import PURCHASED
from regua.commerce.models import Order
from regua.customers.models import Contact

from .models import Referral, Reward, Tier
from .services import (
    RefreshSummary,
    loyalty_refresh,
    referral_codes_ensure,
    referral_codes_of,
    reward_redeem,
)

TIERS = [
    (
        "prata",
        "Prata",
        Decimal("500.00"),
        "Frete grátis em compras acima de R$ 150 e acesso antecipado às promoções.",
    ),
    (
        "ouro",
        "Ouro",
        Decimal("1500.00"),
        "Frete grátis em todas as compras, 5% de cashback em pontos e presente de aniversário.",
    ),
    (
        "diamante",
        "Diamante",
        Decimal("5000.00"),
        "Tudo do Ouro, atendimento exclusivo pelo WhatsApp, 10% de desconto no Dia do Cliente "
        "e convites para lançamentos.",
    ),
]
REWARDS = [
    ("Frete grátis", "Uma entrega sem custo em qualquer pedido.", 150, None),
    ("Cupom de R$ 25", "Desconto de R$ 25 em compras a partir de R$ 100.", 250, None),
    ("Cupom de R$ 50", "Desconto de R$ 50 em compras a partir de R$ 200.", 500, None),
    ("Caneca exclusiva", "Caneca de cerâmica com a marca da loja, 300 ml.", 400, 60),
    (
        "Kit degustação de cafés",
        "Três cafés especiais de 100 g, de Minas, Bahia e Paraná.",
        1200,
        25,
    ),
]
REFERRALS = 24
REDEMPTIONS = 8


def loyalty_demo(now: datetime, *, seed: int = 7) -> RefreshSummary:
    """Install the programme over the demo's contacts and orders as of `now`."""
    rng = random.Random(seed)
    for slug, name, minimum, benefits in TIERS:
        Tier.objects.update_or_create(
            slug=slug, defaults={"name": name, "min_spend_12m": minimum, "benefits": benefits}
        )
    for name, description, cost, stock in REWARDS:
        Reward.objects.update_or_create(
            name=name, defaults={"description": description, "points_cost": cost, "stock": stock}
        )
    referral_codes_ensure(contact_ids=Contact.objects.values_list("pk", flat=True))
    _referrals(now, rng)
    summary = loyalty_refresh(now=now)
    _redemptions(now, rng)
    return summary


def _referrals(now: datetime, rng: random.Random) -> None:
    """Referrals among the demo's contacts: customers whose first purchase came in the
    last months were, some of them, brought by an older customer (recorded a few days
    before that purchase); a few leads were referred and have not bought yet."""
    firsts = dict(
        Order.objects.filter(status__in=PURCHASED, ordered_at__lte=now)
        .order_by()
        .values("contact_id")
        .annotate(first=Min("ordered_at"))
        .values_list("contact_id", "first")
    )
    if len(firsts) < 4:
        return
    recent = sorted(c for c, first in firsts.items() if first > now - timedelta(days=180))
    older = sorted(c for c, first in firsts.items() if first <= now - timedelta(days=180))
    bought = Order.objects.filter(status__in=PURCHASED, ordered_at__lte=now).values("contact_id")
    leads = list(
        Contact.objects.exclude(pk__in=bought)  # a subquery: no list of a million ids
        .order_by("pk")
        .values_list("pk", flat=True)[:200]
    )
    if not older:
        return
    taken = set(Referral.objects.values_list("referred_id", flat=True))
    codes = referral_codes_of(set(older))
    rows: list[Referral] = []
    picks: list[tuple[int, Any]] = [
        (c, firsts[c] - timedelta(days=rng.randint(1, 10)))
        for c in rng.sample(recent, min(REFERRALS, len(recent)))
    ]
    picks += [
        (c, now - timedelta(days=rng.randint(1, 20))) for c in rng.sample(leads, min(4, len(leads)))
    ]
    for referred, recorded_at in picks:
        referrer = rng.choice(older)
        if referred in taken or referrer == referred or referrer not in codes:
            continue
        taken.add(referred)
        rows.append(
            Referral(
                referrer_id=referrer,
                referred_id=referred,
                code=codes[referrer],
                recorded_at=recorded_at,
            )
        )
    Referral.objects.bulk_create(rows, ignore_conflicts=True)


def _redemptions(now: datetime, rng: random.Random) -> None:
    """A few customers with points took a reward (one query each: a handful)."""
    from .services import balances

    rewards = list(Reward.objects.filter(active=True))
    if not rewards:
        return
    points = balances()
    cheapest = min(r.points_cost for r in rewards)
    rich = sorted(c for c, balance in points.items() if balance >= cheapest)
    for contact in Contact.objects.filter(pk__in=rng.sample(rich, min(REDEMPTIONS, len(rich)))):
        affordable = [r for r in rewards if r.points_cost <= points[contact.pk]]
        try:
            reward_redeem(contact=contact, reward=rng.choice(affordable), now=now)
        except ValueError:  # out of stock, or the points expired meanwhile
            continue

"""A believable Brazilian online shop, simulated: customers, their orders and their events.

Purchases follow a buy-till-you-die process (Fader & Hardie's BG/NBD story): each customer
buys at their own Poisson rate λ ~ Gamma(r, α) while alive, and after each purchase drops
out with their own probability p ~ Beta(a, b). Rates rise before Dia das Mães, Dia dos
Namorados, Dia dos Pais, Dia do Cliente, Black Friday and Christmas (by thinning). So RFM,
churn, time to second purchase and CLV computed later find real structure to measure.

Everything is generated in blocks of contacts with numpy, vectorised, and returned as rows
ready for the loader: timestamps as UTC text, JSON as canonical text.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np

from regua.analytics.kpis import nps_category
from regua.lib import dates_br
from regua.lib.brazil import state_time_zone
from regua.lib.text import fold, search_key

from . import catalog

DAY = 86400.0
EMPTY_FINGERPRINT = int.from_bytes(
    hashlib.blake2b(b"{}", digest_size=8).digest(), "big", signed=True
)


def fingerprint(properties_json: str) -> int:
    """The events ingest's fingerprint of canonical properties JSON (see events.ingest)."""
    if properties_json == "{}":
        return EMPTY_FINGERPRINT
    digest = hashlib.blake2b(properties_json.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _weights(pairs: list[tuple[str, int]]) -> tuple[list[str], np.ndarray]:
    names = [name for name, _w in pairs]
    weights = np.array([w for _n, w in pairs], dtype=float)
    return names, weights / weights.sum()


def utc_text(seconds: np.ndarray) -> list[str]:
    """Epoch seconds → 'YYYY-MM-DD HH:MM:SS' (UTC), the text the database takes."""
    text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s").tolist()
    return [value[:10] + " " + value[11:] for value in text]


@dataclass
class Shop:
    """What is shared by all blocks: the time window, the catalogue, the team."""

    contacts: int
    months: int
    seed: int
    now: datetime
    agents: list[int] = field(default_factory=list)
    companies: int = 0

    def __post_init__(self) -> None:
        self.end = self.now.timestamp()
        self.start = (self.now - timedelta(days=self.months * 30.4375)).timestamp()
        self.season = self._seasonality()
        self.season_max = float(self.season.max())
        self.domains, self.domain_p = _weights(catalog.EMAIL_DOMAINS)
        self.sources, self.source_p = _weights(catalog.SOURCES)
        cities = catalog.CITIES
        weights = np.array([c[3] for c in cities], dtype=float)
        self.city_p = weights / weights.sum()

    def _seasonality(self) -> np.ndarray:
        """A purchase-rate multiplier per day of the window."""
        days = int((self.end - self.start) // DAY) + 2
        first = datetime.fromtimestamp(self.start, UTC).date()
        season = np.ones(days)

        def boost(day: date, before: int, after: int, factor: float) -> None:
            index = (day - first).days
            low, high = max(0, index - before), min(days, index + after + 1)
            if low < high:
                season[low:high] = np.maximum(season[low:high], factor)

        for year in range(first.year, self.now.year + 1):
            boost(dates_br.mothers_day(year), 10, 0, 2.2)
            boost(dates_br.valentines_day(year), 6, 0, 1.5)
            boost(dates_br.fathers_day(year), 7, 0, 1.7)
            boost(dates_br.customer_day(year), 2, 1, 1.5)
            boost(dates_br.black_friday(year), 3, 3, 3.5)
            boost(date(year, 12, 23), 15, 0, 2.2)
        return season

    def set_catalogue(self, products: list[tuple[int, str, float, int]]) -> None:
        """The shop's products as (id, sku, price, category index), grouped by category."""
        self.products = sorted(products, key=lambda p: (p[3], p[0]))
        self.skus = [p[1] for p in self.products]
        self.prices = np.array([p[2] for p in self.products])
        categories = np.array([p[3] for p in self.products])
        count = int(categories.max()) + 1
        self.category_start = np.array([np.argmax(categories == c) for c in range(count)])
        self.category_size = np.bincount(categories, minlength=count)
        position = {sku: i for i, sku in enumerate(self.skus)}
        self.gift_kits = [
            (dates_br.mothers_day, 10, position["PRES-001"]),
            (dates_br.fathers_day, 7, position["PRES-002"]),
            (lambda year: date(year, 12, 24), 14, position["PRES-003"]),
        ]

    def season_at(self, seconds: np.ndarray) -> np.ndarray:
        index = ((seconds - self.start) // DAY).astype(np.int64)
        return self.season[np.clip(index, 0, len(self.season) - 1)]

    def seasonal_window(self, seconds: np.ndarray, day_of: object, before: int) -> np.ndarray:
        """Which of the given times fall in the `before` days up to a yearly date."""
        result = np.zeros(len(seconds), dtype=bool)
        first = datetime.fromtimestamp(self.start, UTC).year
        for year in range(first, self.now.year + 1):
            day = day_of(year)  # type: ignore[operator]
            end = datetime(day.year, day.month, day.day, 23, 59, tzinfo=UTC).timestamp()
            result |= (seconds <= end) & (seconds > end - (before + 1) * DAY)
        return result


@dataclass
class Block:
    """One block of contacts and everything about them, as rows for the loader."""

    contacts: list[tuple] = field(default_factory=list)
    orders: list[tuple] = field(default_factory=list)
    items: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    consents: list[tuple] = field(default_factory=list)
    consent_log: list[tuple] = field(default_factory=list)
    stage_changes: list[tuple] = field(default_factory=list)
    tags: list[tuple] = field(default_factory=list)  # (contact id, tag key)
    roles: list[tuple] = field(default_factory=list)
    interactions: list[tuple] = field(default_factory=list)
    next_order: int = 0
    next_item: int = 0
    next_event: int = 0


def simulate_block(shop: Shop, index: int, first_id: int, n: int, ids: dict[str, int]) -> Block:
    """Contacts first_id … first_id + n - 1 and their history. `ids` holds the next free
    ids of orders, items and events (updated)."""
    rng = np.random.default_rng([shop.seed, index])
    people = _people(shop, rng, first_id, n)
    orders = _orders(shop, rng, people)
    block = Block()
    _order_rows(shop, rng, people, orders, block, ids)
    _contact_rows(shop, rng, people, orders, block)
    _event_rows(shop, rng, people, orders, block)
    _interaction_rows(shop, rng, people, block)
    return block


# --- the people ---------------------------------------------------------------------------


def _people(shop: Shop, rng: np.random.Generator, first_id: int, n: int) -> dict[str, np.ndarray]:
    ids = np.arange(first_id, first_id + n)
    female = rng.random(n) < 0.54
    span = shop.end - shop.start
    # Signups grow over the window: density ∝ e^(g·t), by inverse transform.
    growth = 1.2
    u = rng.random(n)
    signup = shop.start + span * np.log1p(u * np.expm1(growth)) / growth
    age_years = np.clip(rng.triangular(18, 33, 80, n), 18, 80)
    born = shop.end - age_years * 365.25 * DAY
    return {
        "id": ids,
        "female": female,
        "first": np.where(
            female, rng.integers(0, len(catalog.FEMALE), n), rng.integers(0, len(catalog.MALE), n)
        ),
        "last1": rng.integers(0, len(catalog.SURNAMES), n),
        "last2": np.where(rng.random(n) < 0.6, rng.integers(0, len(catalog.SURNAMES), n), -1),
        "city": rng.choice(len(catalog.CITIES), n, p=shop.city_p),
        "domain": rng.choice(len(shop.domains), n, p=shop.domain_p),
        "source": rng.choice(len(shop.sources), n, p=shop.source_p),
        "signup": signup,
        "born": born,
        "favourite": rng.integers(0, len(catalog.CATALOGUE), n),
        "club": rng.random(n) < 0.3,
    }


def _orders(
    shop: Shop, rng: np.random.Generator, people: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The BG/NBD purchase process with seasonal thinning: order times per contact."""
    n = len(people["id"])
    converts = rng.random(n) < 0.7
    first = people["signup"] + rng.exponential(9 * DAY, n)
    rate = rng.gamma(shape=1.4, scale=1 / 36.0, size=n)  # purchases per day while alive
    dropout = rng.beta(1.2, 11.0, n)
    alive = converts & (first < shop.end)
    dead = np.zeros(n, dtype=bool)
    time = first.copy()
    who, when = [], []
    for _ in range(120):
        active = np.nonzero(alive)[0]
        if not len(active):
            break
        who.append(active)
        when.append(time[active])
        drops = rng.random(len(active)) < dropout[active]
        dead[active[drops]] = True
        alive[active[drops]] = False
        nxt = time[active].copy()
        pending = np.ones(len(active), dtype=bool)
        while pending.any():
            step = rng.exponential(1.0, pending.sum()) / (rate[active[pending]] * shop.season_max)
            nxt[pending] += np.maximum(step, 0.5) * DAY
            accepted = rng.random(pending.sum()) < shop.season_at(nxt[pending]) / shop.season_max
            still = np.nonzero(pending)[0][~accepted]
            pending[:] = False
            pending[still] = True
            pending &= nxt < shop.end
        time[active] = nxt
        alive[active] &= nxt < shop.end
    contact = np.concatenate(who) if who else np.zeros(0, dtype=np.int64)
    at = np.concatenate(when) if when else np.zeros(0)
    # Shopping hours: 08:00–23:00 in Brasília time (UTC−3), never before the signup.
    at = at - (at % DAY) + rng.uniform(11 * 3600, 26 * 3600, len(at))
    at = np.clip(np.maximum(at, people["signup"][contact] + 600), None, shop.end - 60)
    order = np.lexsort((at, contact))
    return {"contact": contact[order], "at": at[order], "dropped": dead}


# --- rows ---------------------------------------------------------------------------------


def _per_contact(n: int, contact: np.ndarray, values: np.ndarray, how: str) -> np.ndarray:
    result = np.full(n, np.nan)
    if not len(contact):
        return result
    if how == "first":
        starts = np.r_[0, np.nonzero(np.diff(contact))[0] + 1]
        result[contact[starts]] = values[starts]
    elif how == "last":
        ends = np.r_[np.nonzero(np.diff(contact))[0], len(contact) - 1]
        result[contact[ends]] = values[ends]
    return result


def _contact_rows(
    shop: Shop,
    rng: np.random.Generator,
    people: dict[str, np.ndarray],
    orders: dict[str, np.ndarray],
    block: Block,
) -> None:
    ids = people["id"]
    n = len(ids)
    counts = np.bincount(orders["contact"], minlength=n)
    first_order = _per_contact(n, orders["contact"], orders["at"], "first")
    last_order = _per_contact(n, orders["contact"], orders["at"], "last")
    people["counts"], people["first_order"], people["last_order"] = counts, first_order, last_order
    since_last = (shop.end - last_order) / DAY
    engaged = (counts == 0) & (rng.random(n) < 0.35) & (shop.end - people["signup"] > 7 * DAY)
    # Club members who stopped buying cancel their subscription 30–75 days after the last order.
    cancelled = people["club"] & orders["dropped"] & (counts > 0) & (since_last >= 75)
    people["cancel_at"] = np.where(cancelled, last_order + rng.uniform(30, 75, n) * DAY, np.nan)
    stage = np.full(n, "lead", dtype=object)
    stage[engaged] = "prospect"
    stage[counts > 0] = "customer"
    stage[(counts > 0) & (since_last >= 120)] = "inactive"
    stage[(counts > 0) & (since_last >= 240)] = "churned"
    stage[cancelled] = "churned"
    people["stage"] = stage
    signup_text = utc_text(people["signup"])
    now_text = utc_text(np.array([shop.end]))[0]
    born_days = people["born"].astype("datetime64[s]").astype("datetime64[D]")
    born = np.datetime_as_string(born_days, unit="D").tolist()
    plans = rng.choice(["básico", "plus", "premium"], n, p=[0.6, 0.3, 0.1])
    b2b = ids % 25 == 0
    people["b2b"] = b2b
    people["company"] = (ids // 25) % max(shop.companies, 1) + 1
    agents = shop.agents or [None]
    owner = np.full(n, None, dtype=object)
    spend = orders["spend"]
    vip = (spend > 0) & (spend >= np.quantile(spend, 0.95))
    people["vip"] = vip
    owner[vip] = [agents[int(i) % len(agents)] for i in ids[vip]]
    owner[b2b] = [agents[(c - 1) % len(agents)] for c in people["company"][b2b]]
    people["owner"] = owner
    for i in range(n):
        female = people["female"][i]
        first = (catalog.FEMALE if female else catalog.MALE)[people["first"][i]]
        last = catalog.SURNAMES[people["last1"][i]]
        if people["last2"][i] >= 0 and people["last2"][i] != people["last1"][i]:
            last = f"{catalog.SURNAMES[people['last2'][i]]} {last}"
        city, uf, ddd, _w = catalog.CITIES[people["city"][i]]
        cid = int(ids[i])
        email = f"{fold(first)}.{fold(last.split()[-1])}{cid}@{shop.domains[people['domain'][i]]}"
        phone = f"+55{ddd}9{rng.integers(60000000, 99999999)}"
        attributes = (
            f'{{"plano":"{plans[i]}","mrr":{PLAN_MRR[plans[i]]}}}'
            if people["club"][i] and counts[i]
            else "{}"
        )
        block.contacts.append(
            (
                cid,
                f"C{cid:07d}",
                email,
                first,
                last,
                search_key(f"{first} {last}"),
                phone,
                born[i],
                "female" if female else "male",
                city,
                uf,
                "BR",
                state_time_zone(uf),
                "pt-br",
                stage[i],
                shop.sources[people["source"][i]],
                "",
                owner[i],
                attributes,
                signup_text[i],
                now_text,
            )
        )
    _stage_rows(shop, rng, people, block)
    _consent_rows(shop, rng, people, block)


def _stage_rows(
    shop: Shop, rng: np.random.Generator, people: dict[str, np.ndarray], block: Block
) -> None:
    """Lifecycle history: lead at signup (implicit), then the moves the stage implies."""
    changes = []  # (contact id, from, to, epoch seconds)
    for i, stage in enumerate(people["stage"]):
        cid, last = int(people["id"][i]), people["last_order"][i]
        if stage == "prospect":
            changes.append((cid, "lead", "prospect", people["signup"][i] + rng.uniform(1, 7) * DAY))
        if people["counts"][i] == 0:
            continue
        changes.append((cid, "lead", "customer", people["first_order"][i]))
        if not np.isnan(people["cancel_at"][i]):
            changes.append((cid, "customer", "churned", people["cancel_at"][i]))
        elif stage in ("inactive", "churned"):
            changes.append((cid, "customer", "inactive", last + 120 * DAY))
            if stage == "churned":
                changes.append((cid, "inactive", "churned", last + 240 * DAY))
    if changes:
        at = utc_text(np.array([c[3] for c in changes]))
        block.stage_changes.extend(
            (cid, old, new, when, "demo", when)
            for (cid, old, new, _t), when in zip(changes, at, strict=True)
        )


CONSENT_SHARE = {"email": 0.8, "whatsapp": 0.45, "sms": 0.25, "phone": 0.15}
# The version of the signup form's consent wording the demo customers agreed to (LGPD);
# purpose and legal basis take their defaults: marketing, on consent.
CONSENT_TEXT_VERSION = "cadastro-2024.1"


def _consent_rows(
    shop: Shop, rng: np.random.Generator, people: dict[str, np.ndarray], block: Block
) -> None:
    n = len(people["id"])
    signup_text = utc_text(people["signup"])
    for channel, share in CONSENT_SHARE.items():
        granted = np.nonzero(rng.random(n) < share)[0]
        withdrawn = rng.random(len(granted)) < (0.06 if channel == "email" else 0.03)
        later = people["signup"][granted] + rng.uniform(0, 1, len(granted)) * (
            shop.end - people["signup"][granted]
        )
        later_text = utc_text(later)
        for j, i in enumerate(granted):
            cid = int(people["id"][i])
            block.consent_log.append(
                (
                    cid,
                    channel,
                    "granted",
                    "cadastro no site",
                    signup_text[i],
                    signup_text[i],
                    CONSENT_TEXT_VERSION,
                )
            )
            if withdrawn[j]:
                block.consent_log.append(
                    (
                        cid,
                        channel,
                        "withdrawn",
                        "descadastro",
                        later_text[j],
                        later_text[j],
                        CONSENT_TEXT_VERSION,
                    )
                )
                block.consents.append(
                    (
                        cid,
                        channel,
                        "withdrawn",
                        "descadastro",
                        later_text[j],
                        signup_text[i],
                        later_text[j],
                        CONSENT_TEXT_VERSION,
                    )
                )
            else:
                block.consents.append(
                    (
                        cid,
                        channel,
                        "granted",
                        "cadastro no site",
                        signup_text[i],
                        signup_text[i],
                        signup_text[i],
                        CONSENT_TEXT_VERSION,
                    )
                )
                if channel == "email":
                    block.tags.append((cid, "newsletter"))
    for i in np.nonzero(people["b2b"])[0]:
        block.tags.append((int(people["id"][i]), "b2b"))
    for i in np.nonzero(people["club"] & (people["counts"] > 0))[0]:
        block.tags.append((int(people["id"][i]), "clube"))
    for i in np.nonzero(people["vip"])[0]:
        block.tags.append((int(people["id"][i]), "vip"))
    for i in np.unique(people["black_friday"]):
        block.tags.append((int(people["id"][i]), "black-friday"))
    for i in np.nonzero(people["b2b"])[0]:
        role = rng.choice(["decision_maker", "influencer", "user"], p=[0.4, 0.35, 0.25])
        title = catalog.JOB_TITLES[role][int(rng.integers(len(catalog.JOB_TITLES[role])))]
        joined = signup_text[i]
        block.roles.append(
            (int(people["id"][i]), int(people["company"][i]), role, title, joined, joined)
        )


def _order_rows(
    shop: Shop,
    rng: np.random.Generator,
    people: dict[str, np.ndarray],
    orders: dict[str, np.ndarray],
    block: Block,
    ids: dict[str, int],
) -> None:
    n, m = len(people["id"]), len(orders["contact"])
    contact, at = orders["contact"], orders["at"]
    order_ids = ids["order"] + np.arange(m)
    ids["order"] += m
    per_order = rng.choice([1, 2, 3, 4], m, p=[0.5, 0.3, 0.15, 0.05])
    item_order = np.repeat(np.arange(m), per_order)
    product = _pick_products(shop, rng, people["favourite"][contact[item_order]])
    first_item = np.r_[0, np.cumsum(per_order)[:-1]]
    for day_of, before, sku_index in shop.gift_kits:
        gift = shop.seasonal_window(at, day_of, before) & (rng.random(m) < 0.35)
        product[first_item[gift]] = sku_index
    quantity = np.where(rng.random(len(item_order)) < 0.85, 1, 2)
    price = shop.prices[product]
    subtotal = np.bincount(item_order, weights=quantity * price, minlength=m)
    black_friday = shop.seasonal_window(
        at, lambda y: dates_br.black_friday(y) + timedelta(days=3), 6
    )
    rate = np.where(rng.random(m) < 0.12, 0.10, 0.0)
    rate = np.where(black_friday & (rng.random(m) < 0.6), 0.20, rate)
    discount = np.round(subtotal * rate, 2)
    total = np.round(subtotal - discount, 2)
    age = (shop.end - at) / DAY
    status = np.where(age < 2, "paid", np.where(age < 7, "shipped", "delivered")).astype(object)
    roll = rng.random(m)
    status[roll < 0.03] = "cancelled"
    status[(roll >= 0.03) & (roll < 0.04) & (age > 7)] = "refunded"
    channel = rng.choice(["site", "app", "loja-fisica"], m, p=[0.7, 0.2, 0.1])
    counted = ~np.isin(status, ["cancelled", "refunded"])
    orders["spend"] = np.bincount(contact, weights=np.where(counted, total, 0), minlength=n)
    orders["id"], orders["total"], orders["status"] = order_ids, total, status
    orders["first_sku"] = (
        np.array(shop.skus, dtype=object)[product[first_item]] if m else np.zeros(0)
    )
    people["black_friday"] = contact[black_friday]
    at_text = utc_text(at)
    for j in range(m):
        block.orders.append(
            (
                int(order_ids[j]),
                f"P{order_ids[j]:09d}",
                int(people["id"][contact[j]]),
                at_text[j],
                status[j],
                f"{total[j]:.2f}",
                f"{discount[j]:.2f}",
                "BRL",
                channel[j],
                at_text[j],
                at_text[j],
            )
        )
    for j, order_index in enumerate(item_order):
        p = product[j]
        block.items.append(
            (
                int(order_ids[order_index]),
                shop.products[p][0],
                shop.skus[p],
                int(quantity[j]),
                f"{price[j]:.2f}",
                at_text[order_index],
                at_text[order_index],
            )
        )


def _pick_products(shop: Shop, rng: np.random.Generator, favourite: np.ndarray) -> np.ndarray:
    """Mostly from the customer's favourite category, else anything in the catalogue."""
    k = len(favourite)
    start, size = shop.category_start[favourite], shop.category_size[favourite]
    in_favourite = start + (rng.random(k) * size).astype(np.int64)
    anywhere = rng.integers(0, len(shop.skus), k)
    return np.where(rng.random(k) < 0.6, in_favourite, anywhere)


# The club's monthly fee per plan (BRL): the recurring revenue of the revenue churn KPI.
PLAN_MRR = {"básico": 29.9, "plus": 49.9, "premium": 89.9}

# Event names in the order of their codes: alphabetical, so sorting by code sorts by name.
EVENT_NAMES = [
    "cancellation",
    "complaint",
    "login",
    "nps_answered",
    "product_viewed",
    "purchase",
    "signup",
    "upgrade",
]
CODE = {name: code for code, name in enumerate(EVENT_NAMES)}


def _event_rows(
    shop: Shop,
    rng: np.random.Generator,
    people: dict[str, np.ndarray],
    orders: dict[str, np.ndarray],
    block: Block,
) -> None:
    n = len(people["id"])
    contact, at = orders["contact"], orders["at"]
    parts: list[tuple[np.ndarray, int, np.ndarray, list[str]]] = []
    signup = people["signup"]
    sources = [shop.sources[s] for s in people["source"]]
    parts.append((np.arange(n), CODE["signup"], signup, [f'{{"source":"{s}"}}' for s in sources]))
    parts.append(
        (
            contact,
            CODE["purchase"],
            at,
            [
                f'{{"order_id":"P{oid:09d}","total":"{total:.2f}"}}'
                for oid, total in zip(orders["id"], orders["total"], strict=True)
            ],
        )
    )
    # Views before each order (of what was bought), and browsing at any time.
    views = 1 + rng.poisson(0.8, len(at))
    view_order = np.repeat(np.arange(len(at)), views)
    view_at = at[view_order] - rng.uniform(0.2, 72, len(view_order)) * 3600
    view_signup = signup[contact[view_order]]
    early = view_at < view_signup
    view_at[early] = view_signup[early] + rng.random(early.sum()) * (
        at[view_order][early] - view_signup[early]
    )
    parts.append(
        (
            contact[view_order],
            CODE["product_viewed"],
            view_at,
            [f'{{"sku":"{sku}"}}' for sku in orders["first_sku"][view_order]],
        )
    )
    browse_rate = np.where(
        people["stage"] == "prospect", 3.0, np.where(people["counts"] > 0, 1.5, 0.8)
    )
    browsing = np.repeat(np.arange(n), rng.poisson(browse_rate))
    browse_at = signup[browsing] + rng.random(len(browsing)) * (shop.end - signup[browsing])
    skus = np.array(shop.skus, dtype=object)[
        _pick_products(shop, rng, people["favourite"][browsing])
    ]
    parts.append(
        (browsing, CODE["product_viewed"], browse_at, [f'{{"sku":"{sku}"}}' for sku in skus])
    )
    # Logins while the customer is active.
    active_until = np.where(
        people["counts"] > 0,
        np.minimum(np.nan_to_num(people["last_order"], nan=shop.end) + 45 * DAY, shop.end),
        np.minimum(signup + 20 * DAY, shop.end),
    )
    span = np.maximum(active_until - signup, 0)
    logins = np.repeat(np.arange(n), rng.poisson(0.025 * span / DAY))
    login_at = signup[logins] + rng.random(len(logins)) * span[logins]
    parts.append((logins, CODE["login"], login_at, ["{}"] * len(logins)))
    # Club members: some upgrade; those who stop buying cancel.
    club_buyers = np.nonzero(people["club"] & (people["counts"] > 0) & (rng.random(n) < 0.25))[0]
    upgrade_at = people["first_order"][club_buyers] + rng.random(len(club_buyers)) * (
        np.minimum(people["last_order"][club_buyers] + 30 * DAY, shop.end)
        - people["first_order"][club_buyers]
    )
    parts.append(
        (
            club_buyers,
            CODE["upgrade"],
            upgrade_at,
            ['{"from":"básico","to":"plus"}'] * len(club_buyers),
        )
    )
    cancelled = np.nonzero(~np.isnan(people["cancel_at"]))[0]
    parts.append(
        (cancelled, CODE["cancellation"], people["cancel_at"][cancelled], ["{}"] * len(cancelled))
    )
    # Complaints about a few orders, days after them.
    complained = np.nonzero((rng.random(len(at)) < 0.025) & (orders["status"] != "paid"))[0]
    complaint_at = at[complained] + rng.uniform(2, 10, len(complained)) * DAY
    keep = complaint_at < shop.end
    complained, complaint_at = complained[keep], complaint_at[keep]
    reasons = rng.choice(catalog.COMPLAINT_REASONS, len(complained))
    parts.append(
        (
            contact[complained],
            CODE["complaint"],
            complaint_at,
            [
                f'{{"order_id":"P{orders["id"][j]:09d}","reason":"{reason}"}}'
                for j, reason in zip(complained, reasons, strict=True)
            ],
        )
    )
    # NPS answers: about a fifth of the buyers answer the survey some 90 days after their
    # first order; loyal customers score higher.
    buyers = np.nonzero((people["counts"] > 0) & (rng.random(n) < 0.2))[0]
    answer_at = people["first_order"][buyers] + rng.uniform(80, 100, len(buyers)) * DAY
    answered = answer_at < shop.end
    buyers, answer_at = buyers[answered], answer_at[answered]
    lean = np.minimum(people["counts"][buyers], 6) / 6
    scores = np.clip(np.round(rng.normal(6.5 + 3 * lean, 2.2)), 0, 10).astype(int)
    parts.append(
        (
            buyers,
            CODE["nps_answered"],
            answer_at,
            [
                f'{{"score":{score},"category":"{nps_category(score)}"}}'
                for score in scores.tolist()
            ],
        )
    )
    who = np.concatenate([p[0] for p in parts])
    code = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    when = np.concatenate([p[2] for p in parts])
    props = [prop for p in parts for prop in p[3]]
    order = np.lexsort((when, code, who))  # the unique index's order: inserts append
    when_text = utc_text(when[order])
    ids = people["id"]
    seen = set()  # the same event twice in one second is one event, as the ingest would make it
    for j, k in enumerate(order.tolist()):
        row = (int(ids[who[k]]), EVENT_NAMES[code[k]], when_text[j], props[k])
        if row not in seen:
            seen.add(row)
            block.events.append((*row, fingerprint(props[k]), "demo", when_text[j]))


def _interaction_rows(
    shop: Shop, rng: np.random.Generator, people: dict[str, np.ndarray], block: Block
) -> None:
    """Notes and calls by the account managers on the contacts they own."""
    owned = np.nonzero(people["owner"] != None)[0]  # noqa: E711 (numpy element-wise)
    counts = rng.poisson(1.5, len(owned))
    for i, count in zip(owned, counts, strict=True):
        signup = people["signup"][i]
        times = np.sort(signup + rng.random(count) * (shop.end - signup))
        for when in utc_text(times):
            kind, subject, body = catalog.NOTES[int(rng.integers(len(catalog.NOTES)))]
            minutes = int(rng.integers(5, 45)) if kind in ("call", "meeting", "visit") else None
            company = int(people["company"][i]) if people["b2b"][i] else None
            block.interactions.append(
                (
                    int(people["id"][i]),
                    company,
                    kind,
                    "outbound",
                    subject,
                    body,
                    "",
                    minutes,
                    when,
                    people["owner"][i],
                    when,
                    when,
                )
            )

"""Segment rules compile to one query that agrees with a plain Python reading of the rule."""

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regua.analytics.frames import day_start
from regua.analytics.models import CustomerScore
from regua.cadences.conditions import to_q
from regua.commerce.models import Order, OrderItem, OrderStatus
from regua.customers.models import Contact
from regua.events.models import Event
from regua.segments.models import Segment
from regua.segments.rules import RuleError, check, compile_rule

TODAY = date(2026, 6, 30)
# A rule "as of" a day reads the moments before the end of that business day.
NOW = day_start(TODAY + timedelta(days=1))
CITIES = ["Recife", "Curitiba", "Belém"]
SEGMENTS = ["champions", "loyal", "at_risk", "hibernating"]


@dataclass
class Person:
    id: int
    gender: str
    city: str
    orders: list[tuple[datetime, float, str]] = field(default_factory=list)  # when, total, sku
    views: list[datetime] = field(default_factory=list)
    rfm_segment: str | None = None
    nps: list[tuple[datetime, str]] = field(default_factory=list)


@pytest.fixture
def people(db: None) -> list[Person]:
    rng = random.Random(11)
    result = []
    for n in range(40):
        contact = Contact.objects.create(
            email=f"p{n}@exemplo.com.br",
            first_name="P",
            gender=rng.choice(["female", "male"]),
            city=rng.choice(CITIES),
        )
        person = Person(contact.pk, contact.gender, contact.city)
        for k in range(rng.choice([0, 0, 1, 2, 3, 5])):
            when = NOW - timedelta(days=rng.randint(1, 120), hours=k)
            total = float(rng.choice([30, 80, 150, 400]))
            sku = rng.choice(["CAFE", "CHA", "XICARA"])
            status = rng.choice([OrderStatus.PAID, OrderStatus.PAID, OrderStatus.CANCELLED])
            order = Order.objects.create(
                external_id=f"{n}-{k}", contact=contact, ordered_at=when, total=total, status=status
            )
            OrderItem.objects.create(order=order, sku=sku, unit_price=total)
            if status == OrderStatus.PAID:
                person.orders.append((when, total, sku))
        for k in range(rng.choice([0, 1, 2, 4])):
            when = NOW - timedelta(days=rng.randint(0, 20), minutes=k)
            Event.objects.create(
                contact=contact, name="product_viewed", occurred_at=when, fingerprint=n * 100 + k
            )
            person.views.append(when)
        if rng.random() < 0.3:
            for k, category in enumerate(rng.sample(["promoter", "passive", "detractor"], 2)):
                when = NOW - timedelta(days=30 - k)
                Event.objects.create(
                    contact=contact,
                    name="nps_answered",
                    occurred_at=when,
                    properties={"score": 5, "category": category},
                    fingerprint=n * 100 + 50 + k,
                )
                person.nps.append((when, category))
        if person.orders:
            person.rfm_segment = rng.choice(SEGMENTS)
            CustomerScore.objects.create(
                contact=contact,
                as_of=TODAY,
                purchases=len(person.orders),
                spend=sum(o[1] for o in person.orders),
                first_purchase_on=TODAY,
                last_purchase_on=TODAY,
                rfm_segment=person.rfm_segment,
                activity_cell="growing",
                relationship_type="loyal",
            )
        result.append(person)
    return result


def compare(a: float, op: str, b: float) -> bool:
    return {
        "eq": a == b,
        "ne": a != b,
        "gt": a > b,
        "gte": a >= b,
        "lt": a < b,
        "lte": a <= b,
    }[op]


def holds(person: Person, item: dict[str, Any]) -> bool:
    """The reference: what the rule means, read in Python."""
    if "match" in item:
        results = [holds(person, child) for child in item["conditions"]]
        if not results:
            return True
        return all(results) if item["match"] == "all" else any(results)
    name, op, value = item["field"], item["op"], item["value"]
    if name in {"gender", "city"}:
        return (getattr(person, name) == value) == (op == "eq")
    if name == "orders.count":
        return compare(len(person.orders), op, value)
    if name == "orders.total":
        return compare(sum(o[1] for o in person.orders), op, value)
    if name == "orders.last":
        recent = any(o[0] >= NOW - timedelta(days=value) for o in person.orders)
        return recent == (op == "within_days")
    if name == "orders.product":
        return any(o[2] == value for o in person.orders) == (op == "has")
    if name == "event.product_viewed":
        since = NOW - timedelta(days=value["days"])
        return compare(len([v for v in person.views if v >= since]), op[-3:], value["count"])
    if name == "score.rfm_segment":
        inside = person.rfm_segment in value
        return person.rfm_segment is not None and inside if op == "in" else not inside
    if name == "nps.category":
        if not person.nps:
            return False
        return (max(person.nps)[1] == value) == (op == "eq")
    raise AssertionError(name)


conditions = st.one_of(
    st.builds(
        lambda f, op, v: {"field": f, "op": op, "value": v},
        st.just("gender"),
        st.sampled_from(["eq", "ne"]),
        st.sampled_from(["female", "male"]),
    ),
    st.builds(
        lambda op, v: {"field": "city", "op": op, "value": v},
        st.sampled_from(["eq", "ne"]),
        st.sampled_from(CITIES),
    ),
    st.builds(
        lambda f, op, v: {"field": f, "op": op, "value": v},
        st.sampled_from(["orders.count", "orders.total"]),
        st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
        st.sampled_from([0, 1, 2, 3, 80, 150, 400]),
    ),
    st.builds(
        lambda op, v: {"field": "orders.last", "op": op, "value": v},
        st.sampled_from(["within_days", "not_within_days"]),
        st.integers(min_value=1, max_value=130),
    ),
    st.builds(
        lambda op, v: {"field": "orders.product", "op": op, "value": v},
        st.sampled_from(["has", "not_has"]),
        st.sampled_from(["CAFE", "CHA", "XICARA"]),
    ),
    st.builds(
        lambda op, count, days: {
            "field": "event.product_viewed",
            "op": op,
            "value": {"count": count, "days": days},
        },
        st.sampled_from(["count_gte", "count_lte"]),
        st.integers(min_value=0, max_value=4),
        st.integers(min_value=1, max_value=25),
    ),
    st.builds(
        lambda op, v: {"field": "score.rfm_segment", "op": op, "value": v},
        st.sampled_from(["in", "not_in"]),
        st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=2, unique=True),
    ),
    st.builds(
        lambda op, v: {"field": "nps.category", "op": op, "value": v},
        st.sampled_from(["eq", "ne"]),
        st.sampled_from(["promoter", "passive", "detractor"]),
    ),
)
groups = st.recursive(
    conditions,
    lambda children: st.builds(
        lambda match, items: {"match": match, "conditions": items},
        st.sampled_from(["all", "any"]),
        st.lists(children, max_size=3),
    ),
    max_leaves=6,
)
rules = st.builds(
    lambda match, items: {"match": match, "conditions": items},
    st.sampled_from(["all", "any"]),
    st.lists(groups, max_size=4),
)


@pytest.mark.django_db
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rule=rules)
def test_a_compiled_rule_selects_exactly_whom_the_rule_describes(
    people: list[Person], rule: dict[str, Any]
) -> None:
    expected = {p.id for p in people if holds(p, rule)}
    with CaptureQueriesContext(connection) as queries:
        found = set(
            Contact.objects.filter(compile_rule(rule, today=TODAY)).values_list("id", flat=True)
        )
    assert found == expected
    assert len(queries) == 1  # one rule, one query


@pytest.mark.django_db
def test_the_compound_segment_of_the_benchmark(people: list[Person]) -> None:
    rule = {
        "match": "all",
        "conditions": [
            {"field": "gender", "op": "eq", "value": "female"},
            {"field": "city", "op": "eq", "value": "Recife"},
            {"field": "score.rfm_segment", "op": "in", "value": ["champions", "loyal", "at_risk"]},
            {"field": "orders.last", "op": "not_within_days", "value": 30},
        ],
    }
    expected = {p.id for p in people if holds(p, rule)}
    assert expected  # the data has members for it
    assert (
        set(Contact.objects.filter(compile_rule(rule, today=TODAY)).values_list("id", flat=True))
        == expected
    )


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"conditions": []}, 'needs "match"'),
        (
            {"match": "all", "conditions": [{"field": "cidade", "op": "eq", "value": "x"}]},
            "item 1: unknown field 'cidade'",
        ),
        (
            {
                "match": "all",
                "conditions": [{"field": "orders.count", "op": "gte", "value": "três"}],
            },
            "is not a number",
        ),
        (
            {
                "match": "any",
                "conditions": [{"field": "score.rfm_segment", "op": "in", "value": ["vip"]}],
            },
            "unknown value 'vip'",
        ),
        (
            {
                "match": "all",
                "conditions": [{"field": "orders.last", "op": "within_days", "value": -3}],
            },
            "not a number of days",
        ),
        (
            {"match": "all", "conditions": [{"match": "any", "conditions": [{"op": "eq"}]}]},
            "item 1: item 1: needs field and op",
        ),
        (
            {"match": "all", "conditions": [{"field": "segment", "op": "in", "value": ["Nenhum"]}]},
            "no segment named 'Nenhum'",
        ),
    ],
)
def test_a_broken_rule_is_refused_with_the_item_and_the_reason(
    db: None, rule: dict[str, Any], message: str
) -> None:
    problems = check(rule)
    assert problems and message in problems[0]


@pytest.mark.django_db
def test_segments_nest_and_a_cycle_is_refused(people: list[Person]) -> None:
    recife = Segment.objects.create(
        name="Recife",
        rule={"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "Recife"}]},
    )
    women = Segment.objects.create(
        name="Mulheres de Recife",
        rule={
            "match": "all",
            "conditions": [
                {"field": "segment", "op": "in", "value": ["Recife"]},
                {"field": "gender", "op": "eq", "value": "female"},
            ],
        },
    )
    expected = {p.id for p in people if p.city == "Recife" and p.gender == "female"}
    assert set(women.members(today=TODAY).values_list("id", flat=True)) == expected
    recife.rule = {
        "match": "all",
        "conditions": [{"field": "segment", "op": "in", "value": ["Mulheres de Recife"]}],
    }
    recife.save()
    with pytest.raises(RuleError, match="nest at most"):
        women.as_q()


@pytest.mark.django_db
def test_a_regua_audience_can_name_a_segment_and_use_every_segment_field(
    people: list[Person],
) -> None:
    Segment.objects.create(
        name="Compradores de café",
        rule={
            "match": "all",
            "conditions": [{"field": "orders.product", "op": "has", "value": "CAFE"}],
        },
    )
    audience = [
        {"field": "segment", "op": "in", "value": ["Compradores de café"]},
        {"field": "orders.count", "op": "gte", "value": 2},
    ]
    expected = {
        p.id for p in people if any(o[2] == "CAFE" for o in p.orders) and len(p.orders) >= 2
    }
    assert (
        set(Contact.objects.filter(to_q(audience, today=TODAY)).values_list("id", flat=True))
        == expected
    )


@pytest.mark.django_db
def test_the_repurchase_regua_reminds_customers_two_days_before_their_next_purchase() -> None:
    from pathlib import Path

    import time_machine

    from regua.cadences.models import Delivery
    from regua.cadences.tick import tick
    from regua.cadences.yaml_io import cadence_import, cadence_set_status
    from regua.customers.models import Consent

    # given: customers due to buy again in 1, 10 and -20 days, and one who just bought
    now = datetime(2026, 6, 30, 17, 0, tzinfo=UTC)  # 14:00 in São Paulo
    due = {}
    for name, days, last_order_days in (
        ("soon", 1, 30),
        ("later", 10, 30),
        ("long_gone", -20, 60),
        ("just_bought", 1, 2),
    ):
        contact = Contact.objects.create(email=f"{name}@exemplo.com.br", first_name=name)
        Consent.objects.create(
            contact=contact, channel="email", status="granted", recorded_at=now - timedelta(days=90)
        )
        Order.objects.create(
            external_id=name,
            contact=contact,
            ordered_at=now - timedelta(days=last_order_days),
            total=90,
        )
        CustomerScore.objects.create(
            contact=contact,
            as_of=TODAY,
            purchases=3,
            spend=270,
            first_purchase_on=TODAY,
            last_purchase_on=TODAY,
            activity_cell="growing",
            relationship_type="loyal",
            next_purchase_on=TODAY + timedelta(days=days),
        )
        due[name] = contact
    defaults = Path(__file__).parent.parent / "regua" / "cadences" / "defaults"
    cadence, _created = cadence_import((defaults / "repurchase.yaml").read_text("utf-8"))
    with time_machine.travel(now - timedelta(hours=1), tick=False):
        cadence_set_status(cadence, "active")
    # when
    with time_machine.travel(now, tick=False):
        tick(now=now)
    # then: only the customer due soon who has not just bought is reminded (or held out)
    entered = set(cadence.enrollments.values_list("contact__first_name", flat=True))
    assert entered == {"soon"}
    assert (
        Delivery.objects.filter(contact=due["soon"]).exists() or cadence.enrollments.get().holdout
    )

"""Hypothesis against the segment rules (regua/benchmarks/fuzz.py holds the properties;
`regua bench --only fuzz` runs them with 10,000 inputs each): any JSON-ish rule tree is
either accepted and compiled to SQL that runs, or refused with a message — never an
exception, never a 500 from the live count."""

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regua.benchmarks.fuzz import check_segment_count_view, check_segment_rule, rule_tree
from regua.users.models import User

pytestmark = pytest.mark.django_db

CI = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@CI
@given(rule_tree)
def test_any_rule_compiles_and_counts_or_is_refused_with_a_message(rule: Any) -> None:
    check_segment_rule(rule)


@CI
@given(st.one_of(rule_tree, st.text(max_size=60)))
def test_the_live_count_answers_any_post(manager: User, rule: Any) -> None:
    check_segment_count_view(rule, manager)


@pytest.mark.parametrize(
    "rule",
    [
        {"match": "all", "conditions": [{"field": "age", "op": "gte", "value": 10**6}]},
        {"match": "all", "conditions": [{"field": "orders.total", "op": "gt", "value": 10**400}]},
        {
            "match": "all",
            "conditions": [{"field": "orders.count", "op": "gt", "value": float("nan")}],
        },
        {
            "match": "all",
            "conditions": [{"field": "event.login", "op": "count_gte", "value": {"count": 2**70}}],
        },
        {"match": "all", "conditions": [{"field": "city", "op": "eq", "value": {"a": [1]}}]},
        {"match": "all", "conditions": [{"field": "city", "op": "in", "value": [{"a": 1}]}]},
        {"match": "all", "conditions": [{"field": "attributes.plano", "op": "gt", "value": [1]}]},
        {
            "match": "all",
            "conditions": [{"field": "score.next_purchase_in_days", "op": "eq", "value": 1e300}],
        },
        {"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "\x00"}]},
    ],
)
def test_known_awkward_rules(rule: Any, manager: User) -> None:
    check_segment_rule(rule)
    check_segment_count_view(rule, manager)


@pytest.mark.parametrize("text", ["1" * 5000, "[" * 50_000, '{"match": ' + "9" * 5000 + "}"])
def test_json_the_parser_cannot_hold_is_refused_not_crashed_on(text: str, manager: User) -> None:
    check_segment_count_view(text, manager)

"""Fuzzers for what users feed Régua (issue 8): the CSV importers and the segment rules.

Each fuzzer is a hypothesis strategy and a property, shared by the tests (a few hundred
examples, tests/test_fuzz_*.py) and by `regua bench --only fuzz` (10,000 each, with the
schemathesis run of the API: regua/benchmarks/api_fuzz.py):

1. import rows: any mix of good rows and garbage text, cleaned and written as the CSV
   importer does chunk by chunk. Never an exception; every row is accounted for (created,
   updated, unchanged or skipped), every skipped row has its line and a reason, and every
   good row is in the database afterwards.
2. import files: arbitrary bytes, or text in a random encoding and delimiter, read by
   `import_file`. Either ImportFileError (the file cannot be read, with a one-line reason)
   or a result whose errors each name a line; never another exception.
3. segment rules: JSON-ish trees shaped like rules (groups, conditions with real and
   made-up fields, operators and values of every type), through the builder's check,
   the compiler and one COUNT query, and the live-count view as the browser posts it:
   accepted and counted, or refused with a message; never an exception or a 500.

Every example runs in a transaction that is rolled back, so nothing stays behind.
"""

import functools
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regua.cadences.conditions import PLAIN_FIELDS

# -- Examples ---------------------------------------------------------------------------


@contextmanager
def rolled_back() -> Iterator[None]:
    """Run the block in a transaction that is always rolled back."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


_any_text = st.text(max_size=40)
_tricky_text = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "=1+1",
        "-2",
        "1e309",
        "NaN",
        "-0",
        "9" * 40,
        "31/02/2024",
        "2024-13-45",
        "0000-00-00T25:61:61",
        "\ud7ff\uffff",
        "ação;,|\t",
        '"',
        "a" * 300,
        "null",
        "[]",
        "{}",
        "SKU-1:2:10.00|SKU-2:x:y",
    ]
)
cell = st.one_of(_any_text, _tricky_text)


def _row(keys: list[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({}, optional=dict.fromkeys(keys, cell))


_good_contact = st.fixed_dictionaries(
    {
        "external_id": st.from_regex(r"\AK[0-9]{1,6}\Z"),
        "email": st.from_regex(r"\A[a-z]{1,8}[0-9]{0,3}@exemplo\.com\.br\Z"),
        "nome": st.sampled_from(["Ana Lima", "João Souza", "Zé", "Maria da Silva"]),
    }
)
_good_order = st.fixed_dictionaries(
    {
        "customer_id": st.from_regex(r"\AK[0-9]{1,4}\Z"),
        "order_id": st.from_regex(r"\AP[0-9]{1,6}\Z"),
        "ordered_at": st.dates().map(lambda day: day.isoformat()),
        "total": st.decimals(min_value=0, max_value=10**6, places=2).map(str),
    }
)
_good_event = st.fixed_dictionaries(
    {
        "customer_id": st.from_regex(r"\AK[0-9]{1,4}\Z"),
        "name": st.sampled_from(["login", "product_viewed", "signup"]),
        "occurred_at": st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
    }
)
IMPORT_COLUMNS = {
    "contacts": [
        "external_id",
        "email",
        "nome",
        "telefone",
        "data_nascimento",
        "uf",
        "cidade",
        "genero",
        "estagio",
        "tags",
        "empresa",
        "dono",
        "fuso",
        "idioma",
        "attributes",
    ],
    "orders": [
        "customer_id",
        "order_id",
        "ordered_at",
        "total",
        "status",
        "currency",
        "items",
        "channel",
    ],
    "events": ["customer_id", "name", "occurred_at", "event_id", "properties"],
}
GOOD_ROWS = {"contacts": _good_contact, "orders": _good_order, "events": _good_event}


def import_rows(kind: str) -> st.SearchStrategy[list[dict[str, str]]]:
    """A chunk of rows: good ones and garbage, as the CSV importer passes them on."""
    return st.lists(st.one_of(GOOD_ROWS[kind], _row(IMPORT_COLUMNS[kind])), max_size=12)


def import_file_bytes() -> st.SearchStrategy[bytes]:
    """A whole file: raw bytes, or rows joined by a delimiter in some encoding."""
    text_file = st.builds(
        lambda kind, rows, delimiter, encoding: _encoded(kind, rows, delimiter, encoding),
        st.sampled_from(sorted(IMPORT_COLUMNS)),
        st.lists(st.lists(cell, max_size=8), max_size=8),
        st.sampled_from([";", ",", "\t", "|"]),
        st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]),
    )
    return st.one_of(st.binary(max_size=600), text_file)


def _encoded(kind: str, rows: list[list[str]], delimiter: str, encoding: str) -> bytes:
    lines = [delimiter.join(IMPORT_COLUMNS[kind][:5]), *(delimiter.join(r) for r in rows)]
    return "\n".join(lines).encode(encoding, errors="replace")


# JSON-ish values a rule might hold: every type, big and odd numbers included.
json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | _any_text
    | _tricky_text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["count", "days", "x", ""]), children, max_size=3)
    ),
    max_leaves=8,
)
# Every field the rules know (conditions.py), some near misses, and nonsense.
RULE_FIELDS = [
    *sorted(PLAIN_FIELDS),
    "age",
    "owner",
    "tags",
    "consent.email",
    "consent.fax",
    "attributes.plano",
    "attributes.a-b",
    "company.profitability",
    "company.nope",
    "event.login",
    "event.",
    "orders.count",
    "orders.total",
    "orders.last",
    "orders.product",
    "orders.category",
    "orders.nope",
    "score.rfm_segment",
    "score.activity_cell",
    "score.clv",
    "score.p_alive",
    "score.recency_days",
    "score.next_purchase_in_days",
    "score.nope",
    "nps.category",
    "loyalty.tier",
    "loyalty.points",
    "loyalty.nope",
    "segment",
    "nope",
]
RULE_OPS = [
    "eq",
    "ne",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "is_set",
    "is_not_set",
    "has",
    "not_has",
    "within_days",
    "not_within_days",
    "count_gte",
    "count_lte",
    "nope",
]
_anything = st.fixed_dictionaries(
    {
        "field": st.one_of(st.sampled_from(RULE_FIELDS), _any_text, json_value),
        "op": st.one_of(st.sampled_from(RULE_OPS), _any_text, json_value),
    },
    optional={"value": json_value, "extra": json_value},
)
_number = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)
_scalar = st.one_of(st.none(), st.booleans(), _number, _any_text, _tricky_text)
_COMPARE = ["eq", "ne", "gt", "gte", "lt", "lte"]


def _condition_of(
    fields: list[str], ops: list[str], values: st.SearchStrategy[Any]
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"field": st.sampled_from(fields), "op": st.sampled_from(ops), "value": values}
    )


_PLAIN = ["stage", "gender", "city", "state", "language", "source", "time_zone", "owner"]
# Conditions the builder could send, with values of the right shape, the wrong one, and
# the extremes: these get past the check and reach the database.
_plausible = st.one_of(
    _condition_of([*_PLAIN, "attributes.plano"], [*_COMPARE, "is_set", "is_not_set"], _scalar),
    _condition_of([*_PLAIN, "attributes.plano"], ["in", "not_in"], st.lists(_scalar, max_size=3)),
    _condition_of(["age"], _COMPARE, _number),
    _condition_of(
        [
            "orders.count",
            "orders.total",
            "score.clv",
            "score.p_alive",
            "score.recency_days",
            "score.r",
            "loyalty.points",
            "score.next_purchase_in_days",
        ],
        _COMPARE,
        _number,
    ),
    _condition_of(["event.login", "orders.last"], ["within_days", "not_within_days"], _number),
    _condition_of(
        ["event.login", "event.purchase"],
        ["count_gte", "count_lte"],
        st.fixed_dictionaries({"count": _number}, optional={"days": _number | st.none()}),
    ),
    _condition_of(
        ["orders.product", "orders.category", "tags"], ["has", "not_has"], _any_text | _tricky_text
    ),
    _condition_of(
        ["consent.email", "consent.sms"], ["eq", "ne"], st.sampled_from(["granted", "withdrawn"])
    ),
    _condition_of(
        ["score.rfm_segment", "score.activity_cell", "nps.category", "company.profitability"],
        ["eq", "ne", "in", "not_in"],
        st.one_of(
            st.sampled_from(["loyal", "champions", "vip", "promoter", "high"]),
            st.lists(st.sampled_from(["loyal", "promoter", "low", "x"]), min_size=1, max_size=3),
        ),
    ),
    _condition_of(
        ["loyalty.tier"], ["eq", "in"], st.sampled_from(["none", ["none"], ["ouro", "none"]])
    ),
)
_condition = st.one_of(_plausible, _plausible, _plausible, _anything)
rule_tree = st.recursive(
    _condition | json_value,
    lambda children: st.fixed_dictionaries(
        {
            "match": st.one_of(st.sampled_from(["all", "any"]), json_value),
            "conditions": st.one_of(st.lists(children, max_size=4), json_value),
        }
    ),
    max_leaves=10,
)


# -- Properties -------------------------------------------------------------------------


def check_import_rows(kind_name: str, rows: list[dict[str, str]]) -> None:
    """Clean and write one chunk as the importer does; every row accounted for, every
    refused row reported with its line, every good row kept."""
    from regua.commerce.models import Order
    from regua.customers.models import Contact
    from regua.events.models import Event
    from regua.imports.runner import KINDS

    kind = KINDS[kind_name]
    lines = list(enumerate(rows, start=2))
    by_field = [(line, {kind.field_name(k): v for k, v in row.items()}) for line, row in lines]
    with rolled_back():
        batch = kind.clean(by_field, _zone())
        result = kind.write(batch, "fuzz", True)
        counted = result.created + result.updated + result.unchanged + result.skipped
        if kind_name == "contacts":
            assert counted == len(rows), (counted, len(rows))
        else:  # rows for the same order or event merge: at most one outcome each
            assert counted <= len(rows) and result.skipped <= len(rows)
        refused = {error.line for error in result.errors}
        assert all(2 <= error.line <= len(rows) + 1 for error in result.errors)
        assert all(str(error.message) for error in result.errors)
        assert len(refused) == result.skipped or kind_name != "contacts"
        kept = {
            "contacts": lambda row: Contact.objects.filter(external_id=row["external_id"]),
            "orders": lambda row: Order.objects.filter(external_id=row["order_id"]),
            "events": lambda row: Event.objects.filter(contact__external_id=row["customer_id"]),
        }[kind_name]
        for line, row in lines:
            if _is_good(kind_name, row) and line not in refused:
                assert kept(row).exists(), (line, row)


def _is_good(kind_name: str, row: dict[str, str]) -> bool:
    return set(row) == set(GOOD_ROWS_KEYS[kind_name])


GOOD_ROWS_KEYS = {
    "contacts": ("external_id", "email", "nome"),
    "orders": ("customer_id", "order_id", "ordered_at", "total"),
    "events": ("customer_id", "name", "occurred_at"),
}


def _zone() -> Any:
    from django.utils import timezone

    return timezone.get_default_timezone()


def check_import_file(kind_name: str, data: bytes) -> None:
    """A whole file through import_file: readable or refused, never a crash."""
    from regua.imports.csvfile import ImportFileError
    from regua.imports.runner import import_file

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_bytes(data)
        with rolled_back():
            try:
                result = import_file(kind_name, path, parallel=False)
            except ImportFileError as error:
                assert str(error) and "\n" not in str(error)
                return
            assert all(error.line >= 2 and str(error.message) for error in result.errors)


def check_segment_rule(rule: Any) -> None:
    """The builder's check, the compiler and a COUNT: refused with a message or counted."""
    from regua.customers.models import Contact
    from regua.segments.rules import RuleError, check, compile_rule

    problems = check(rule)
    assert all(isinstance(problem, str) and problem for problem in problems)
    if problems:
        return
    with rolled_back():
        try:
            query = compile_rule(rule)
        except RuleError:  # check() would have said so
            raise AssertionError("check() passed a rule the compiler refuses") from None
        Contact.objects.filter(query).count()


def check_segment_count_view(rule: Any, user: Any) -> None:
    """The live count as the builder posts it (JSON text): a 200, counted or refused."""
    from django.test import RequestFactory

    from regua.segments.views import segment_count

    text = rule if isinstance(rule, str) else json.dumps(rule, allow_nan=True)
    request = RequestFactory().post("/segments/count/", {"rule": text})
    request.user = user
    request.htmx = False  # type: ignore[attr-defined]
    with rolled_back():
        response = segment_count(request)
    assert response.status_code == 200


# -- Running them outside pytest (the benchmark) -----------------------------------------


@dataclass
class FuzzRun:
    name: str
    examples: int = 0
    crashes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "seconds": round(self.seconds, 1),
            "crashes": len(self.crashes),
            "first_crashes": self.crashes[:5],
        }


def run(
    name: str,
    strategy: st.SearchStrategy[Any],
    check: Callable[[Any], None],
    examples: int,
    *,
    seed: int = 8,
) -> FuzzRun:
    """`check` on `examples` generated inputs, counting (not stopping at) the crashes."""
    outcome = FuzzRun(name)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=True,
    )
    @given(strategy)
    def property_(value: Any) -> None:
        outcome.examples += 1
        try:
            check(value)
        except Exception as error:  # a crash is a figure here, not the end of the run
            outcome.crashes.append(f"{type(error).__name__}: {error} ← {value!r}"[:500])

    from hypothesis import seed as hypothesis_seed

    started = time.perf_counter()
    hypothesis_seed(seed)(property_)()
    outcome.seconds = time.perf_counter() - started
    return outcome


def fuzz_all(examples: int, user: Any) -> dict[str, FuzzRun]:
    """Every fuzzer with `examples` inputs each (the benchmark's figures)."""
    runs = {}
    for kind in ("contacts", "orders", "events"):
        runs[f"import_rows_{kind}"] = run(
            f"import rows ({kind})",
            import_rows(kind),
            functools.partial(check_import_rows, kind),
            examples,
        )
    runs["import_files"] = run(
        "import files",
        st.tuples(st.sampled_from(sorted(IMPORT_COLUMNS)), import_file_bytes()),
        lambda pair: check_import_file(*pair),
        examples,
    )
    runs["segment_rules"] = run("segment rules", rule_tree, check_segment_rule, examples)
    runs["segment_count_view"] = run(
        "segment count view",
        st.one_of(rule_tree, _any_text),
        lambda rule: check_segment_count_view(rule, user),
        examples,
    )
    return runs


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Hold back a logger's warnings: a fuzzer's thousands of 404s say nothing."""
    import logging

    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def bench(examples: int, api_examples: int) -> dict[str, Any]:
    """`regua bench --only fuzz`: every fuzzer with `examples` inputs, and schemathesis
    with `api_examples` requests per API operation; all of it rolled back afterwards."""
    from django.db import connection
    from django.test.utils import override_settings

    from regua.users.models import ApiKey, Role, User

    from .api_fuzz import api_fuzz

    started = time.perf_counter()
    # Each example is its own transaction, rolled back: one outer transaction holding
    # 70,000 savepoints makes every rollback slower than the last (SQLite). The user
    # and key the calls need are committed, and deleted at the end.
    user = User.objects.create_user(f"fuzz-{time.time_ns()}@regua.invalid", None, role=Role.MANAGER)
    try:
        _key, token = ApiKey.generate(user=user, name="fuzz")
        with override_settings(RATELIMIT_ENABLE=False), _quiet("django.request"):
            runs = fuzz_all(examples, user)
            api = api_fuzz(token, api_examples)
    finally:
        user.delete()
    statuses: dict[int, int] = {}
    for operation in api.values():
        for status, count in operation.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    errors = [error for operation in api.values() for error in operation.server_errors]
    return {
        "database": connection.vendor,
        "seconds": time.perf_counter() - started,
        "fuzzers": {name: fuzz_run.as_dict() for name, fuzz_run in runs.items()},
        "api": {
            "operations": len(api),
            "requests": sum(operation.examples for operation in api.values()),
            "server_errors": len(errors),
            "statuses": dict(sorted(statuses.items())),
            "first_server_errors": errors[:5],
        },
    }

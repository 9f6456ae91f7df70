"""schemathesis against the REST API's OpenAPI schema (issue 8): no input may give a 5xx.

tests/test_api_fuzz.py runs every operation with a few examples in CI; `regua bench
--only fuzz` runs `api_fuzz` with many per operation. Both call the real WSGI application
in this process, authenticated with an API key, as schemathesis's WSGI transport does,
with two adjustments:

1. Django closes the database connection at the end of a request when it is inside a
   transaction (the test's, or the benchmark's rolled-back one): `same_connection`
   unhooks that for the run, as Django's own test client does;
2. every example runs in a transaction that is rolled back (fuzz.rolled_back), so the
   benchmark leaves its database as it found it.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from .fuzz import rolled_back

SCHEMA_PATH = "/api/openapi.json"


@contextmanager
def same_connection() -> Iterator[None]:
    """Requests made in this block keep the caller's database connection open."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def api_schema() -> Any:
    """The API's schema as the application serves it, calls going to the application."""
    with same_connection():
        return schemathesis.openapi.from_wsgi(SCHEMA_PATH, WSGIHandler())


@dataclass
class OperationRun:
    examples: int = 0
    server_errors: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)


def api_fuzz(token: str, max_examples: int) -> dict[str, OperationRun]:
    """Every operation of the schema with up to `max_examples` generated requests each;
    what each answered, and the requests that got a 5xx."""
    schema = api_schema()
    runs: dict[str, OperationRun] = {}
    headers = {"Authorization": f"Bearer {token}"}
    for result in schema.get_all_operations():
        operation = result.ok()
        runs[operation.label] = _operation_fuzz(operation, headers, max_examples)
    return runs


def _cases(operation: Any) -> Any:
    """Valid requests and invalid ones (wrong types, missing fields, values out of range)."""
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    try:
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    except Exception:  # noqa: S110  (an operation with nothing to get wrong)
        pass
    return st.one_of(strategies)


def _operation_fuzz(operation: Any, headers: dict[str, str], max_examples: int) -> OperationRun:
    run = OperationRun()

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(_cases(operation))
    def call(case: Any) -> None:
        run.examples += 1
        with same_connection(), rolled_back():
            response = case.call(headers=headers)
        run.statuses[response.status_code] = run.statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            run.server_errors.append(
                f"{response.status_code} {case.method} {case.formatted_path} "
                f"query={case.query} body={case.body!r}"[:500]
            )

    call()
    return run

"""Hypothesis against the CSV importers (regua/benchmarks/fuzz.py holds the properties;
`regua bench --only fuzz` runs them with 10,000 inputs each): arbitrary rows and files
never crash an import; every bad row is reported with its line, every good row kept."""

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regua.benchmarks.fuzz import (
    IMPORT_COLUMNS,
    check_import_file,
    check_import_rows,
    import_file_bytes,
    import_rows,
)

pytestmark = pytest.mark.django_db

# A few hundred inputs in all here; the benchmark runs 10,000 of each.
CI = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("kind", ["contacts", "orders", "events"])
def test_any_chunk_of_rows_is_imported_or_reported_row_by_row(kind: str) -> None:
    @CI
    @given(import_rows(kind))
    def each(rows: list[dict[str, str]]) -> None:
        check_import_rows(kind, rows)

    each()


@CI
@given(st.sampled_from(sorted(IMPORT_COLUMNS)), import_file_bytes())
def test_any_file_is_imported_or_refused_with_a_reason(kind: str, data: bytes) -> None:
    check_import_file(kind, data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 10,
        b'email\n"unterminated\n',
        b"email;nome\n" + b"a;" * 5000 + b"\n",
        "email;nome\nana@x.com;Ana\n".encode("utf-16-le"),
        b"\xef\xbb\xbf",
        b"\n\n\n",
        b"email\r\n\r\n\r\nana@x.com\r\n",
    ],
)
def test_known_awkward_files(data: Any) -> None:
    check_import_file("contacts", data)


@pytest.mark.parametrize(
    "cell", ['"' + "[" * 50_000 + '"', '"{""a"": ' + "9" * 5000 + '}"'], ids=["deep", "long"]
)
def test_json_a_cell_cannot_hold_is_a_row_error(cell: str, tmp_path: Any) -> None:
    from regua.imports.runner import import_file

    path = tmp_path / "events.csv"
    path.write_text(f"customer_id;name;occurred_at;properties\nK1;login;2025-01-02;{cell}\n")
    result = import_file("events", path, parallel=False)
    assert result.skipped == 1
    assert [(e.line, e.field) for e in result.errors] == [(2, "properties")]
    assert "invalid JSON" in str(result.errors[0].message)

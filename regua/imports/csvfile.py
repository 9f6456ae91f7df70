"""Reading the CSV files that shops and spreadsheets export.

Brazilian files come as UTF-8 (with or without a BOM), Windows-1252 or Latin-1, with ';'
as often as ',' between values. The encoding is found by trying UTF-8 over the whole file
(a streaming pass at disk speed), the delimiter from the header line.
"""

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.utils.translation import gettext as _

DELIMITERS = ";,\t|"
_BLOCK = 1 << 20
csv.field_size_limit(1 << 24)


class ImportFileError(Exception):
    """The file cannot be read at all; the message says why, in one line."""


class CsvRecordError(Exception):
    """A record the csv module cannot parse, which ends the reading of the file."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _detect_encoding(path: Path) -> str:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        head = handle.read(4)
        handle.seek(0)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return "utf-16"
        try:
            while block := handle.read(_BLOCK):
                decoder.decode(block)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
    # Windows-1252 is what Excel writes in Brazil; it leaves five bytes undefined, which
    # Latin-1 reads as control characters.
    try:
        with path.open("rb") as handle:
            while block := handle.read(_BLOCK):
                block.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


# What a file starts with, for the kinds people upload by mistake instead of a CSV.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "zip"),  # .xlsx, .ods, .docx and .zip alike
    (b"\xd0\xcf\x11\xe0", "ole"),  # Excel 97 (.xls), Word 97
    (b"%PDF", "binary"),
    (b"\x89PNG", "binary"),
    (b"\xff\xd8\xff", "binary"),  # JPEG
    (b"GIF8", "binary"),
    (b"\x1f\x8b", "binary"),  # gzip
)  # programs and most other binaries hold NUL bytes, which sniff_problem refuses
SNIFF_BYTES = 8192
# Share of control characters (other than tab, CR, LF) above which text is not text.
MAX_CONTROL_SHARE = 0.01


def sniff_problem(head: bytes) -> str | None:
    """Why a file that starts with `head` is not a CSV we can read, or None when it may be.

    Looks at the content, not the name: an .xlsx renamed to .csv is still a workbook.
    """
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return _("the file is in UTF-32: save it as CSV in UTF-8")
    for signature, kind in SIGNATURES:
        if head.startswith(signature):
            if kind == "zip":  # .xlsx (.ods and .docx are zips too, and rarer)
                return _("this is a spreadsheet workbook (.xlsx), not CSV: save it as CSV")
            if kind == "ole":
                return _("this is an Excel 97 workbook (.xls), not CSV: save it as CSV")
            return _("this is a binary file, not CSV")
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return None
    if b"\x00" in head:
        # Text in UTF-16 without its byte-order mark: every other byte is zero.
        if head[1::2].count(0) > len(head) // 4 or head[0::2].count(0) > len(head) // 4:
            return _("the file looks like UTF-16 without a byte-order mark: save it as UTF-8")
        return _("this is a binary file, not CSV")
    controls = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 13)) + head.count(127)
    if head and controls > len(head) * MAX_CONTROL_SHARE:
        return _("this is a binary file, not CSV")
    return None


def _check_not_binary(path: Path) -> None:
    with path.open("rb") as handle:
        problem = sniff_problem(handle.read(SNIFF_BYTES))
    if problem:
        raise ImportFileError(problem)


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass
class CsvFile:
    """An open CSV file: its header, and its records with their line numbers."""

    path: Path
    encoding: str
    delimiter: str
    headers: list[str]
    size: int
    _raw: BinaryIO | None = field(default=None, repr=False)

    @classmethod
    def open(cls, path: str | Path) -> "CsvFile":
        path = Path(path)
        if not path.is_file():
            raise ImportFileError(_("no such file: %(path)s") % {"path": path})
        size = path.stat().st_size
        if size == 0:
            raise ImportFileError(_("the file is empty"))
        _check_not_binary(path)
        encoding = _detect_encoding(path)
        with path.open(encoding=encoding, newline="") as handle:
            first = handle.readline()
        delimiter = _sniff_delimiter(first)
        headers = next(csv.reader([first], delimiter=delimiter), [])
        headers = [h.strip() for h in headers]
        if not any(headers):
            raise ImportFileError(_("the first line has no column names"))
        seen = set()
        for header in headers:
            if header and header in seen:
                raise ImportFileError(_("the column %(name)s appears twice") % {"name": header})
            seen.add(header)
        return cls(path, encoding, delimiter, headers, size)

    @property
    def position(self) -> int:
        """Bytes read so far (ahead of the records by up to one buffer): for progress."""
        return self._raw.tell() if self._raw and not self._raw.closed else 0

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """(line number, values) for each non-empty record after the header.

        The line number is where the record starts, counting the header as line 1, as a
        spreadsheet shows it.
        """
        with self.path.open("rb") as raw:
            self._raw = raw
            text = io.TextIOWrapper(raw, encoding=self.encoding, newline="")
            reader = csv.reader(text, delimiter=self.delimiter)
            next(reader, None)
            start = reader.line_num + 1
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    # The csv module cannot resume after a malformed record.
                    raise CsvRecordError(start, str(exc)) from None
                line, start = start, reader.line_num + 1
                if "".join(values).strip():  # skips blank lines, and lines of empty cells
                    yield line, values

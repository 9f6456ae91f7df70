"""CSV files people open in spreadsheets: UTF-8 that Excel reads, no formulas run.

Every CSV the app writes goes through here (the downloads through csv_response or
csv_lines, the analytics command's polars frames through safe_frame), so a contact named
`=HYPERLINK("http://evil.example", "click")` arrives in the spreadsheet as that text,
not as a live formula (CSV injection, OWASP).

A text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return (or their
full-width forms, which some spreadsheets also read as formulas) gets a leading
apostrophe. One exception: a text that is nothing but a negative number ("-12,50",
"-1.234,56", "-7") stays as it is. A spreadsheet reads it as the number it is, which is
what the person exporting wants, and a bare number cannot call anything. Numbers that
are numbers (int, float, Decimal) are never touched. A leading `+` is always escaped:
"+5511987654321" is a phone number, which should stay text.
"""

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse

if TYPE_CHECKING:
    import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
# Digits with dots and commas, in either notation, after a minus sign.
NEGATIVE_NUMBER = re.compile(r"-[\d.,]*\d[\d.,]*\Z")


def safe_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, made plain text (a leading
    apostrophe); numbers, negative numbers written as text and other values pass unchanged."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_STARTS)
        and not NEGATIVE_NUMBER.match(value)
    ):
        return "'" + value
    return value


class _Line:
    def write(self, value: str) -> str:
        return value


def csv_lines(
    header: Sequence[Any], rows: Iterable[Sequence[Any]], *, delimiter: str = ","
) -> Iterator[str]:
    """The file line by line: a byte-order mark (Excel then reads UTF-8 right), the
    header, and every row, every cell made safe."""
    writer = csv.writer(_Line(), delimiter=delimiter)
    yield "\ufeff" + writer.writerow([safe_cell(value) for value in header])
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


def csv_response(
    filename: str,
    header: Sequence[Any],
    rows: Iterable[Sequence[Any]],
    *,
    stream: bool = True,
    delimiter: str = ",",
) -> HttpResponseBase:
    """A download of csv_lines: streamed as the rows come, or whole for a small table."""
    lines = csv_lines(header, rows, delimiter=delimiter)
    content_type = "text/csv; charset=utf-8"
    response: HttpResponseBase = (
        StreamingHttpResponse(lines, content_type=content_type)
        if stream
        else HttpResponse("".join(lines), content_type=content_type)
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def safe_frame(frame: "pl.DataFrame") -> "pl.DataFrame":
    """A polars frame with its text columns made safe as safe_cell makes a cell (the
    column names too), for `frame.write_csv`: numeric columns are left as they are."""
    import polars as pl

    def escaped(name: str) -> pl.Expr:
        column = pl.col(name)
        risky = pl.any_horizontal([column.str.starts_with(start) for start in FORMULA_STARTS])
        negative = column.str.contains(r"^-[\d.,]*\d[\d.,]*$")
        return pl.when(risky & ~negative).then(pl.lit("'") + column).otherwise(column).alias(name)

    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns([escaped(name) for name in text]).rename(
        {name: str(safe_cell(name)) for name in frame.columns}
    )

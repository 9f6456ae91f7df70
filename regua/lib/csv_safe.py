"""CSV files people open in spreadsheets: UTF-8 that Excel reads, no formulas run."""

import csv
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula, made plain text (a leading
    apostrophe); numbers and other values pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Line:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The file line by line: a byte-order mark (Excel then reads UTF-8 right), the
    header, and every row with its cells made safe."""
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(header)
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


def csv_response(
    filename: str, header: Sequence[Any], rows: Iterable[Sequence[Any]], *, stream: bool = True
) -> HttpResponseBase:
    """A download of csv_lines: streamed as the rows come, or whole for a small table."""
    lines = csv_lines(header, rows)
    content_type = "text/csv; charset=utf-8"
    response: HttpResponseBase = (
        StreamingHttpResponse(lines, content_type=content_type)
        if stream
        else HttpResponse("".join(lines), content_type=content_type)
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

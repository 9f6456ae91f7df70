"""What every way data comes in (CSV import, REST API, UI) reports back.

A batch is a list of rows; each row is cleaned and written on its own terms: a bad row is
reported with its line (CSV) or index (API), the field and the reason, and skipped, while
the good rows of the same batch are kept.
"""

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["created", "updated", "unchanged", "error"]


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": str(self.message)}


@dataclass
class Outcome:
    """What happened to one row: its status and the id of the record it created or touched."""

    status: Status
    id: int | None = None


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    contacts_created: int = 0
    errors: list[RowError] = field(default_factory=list)
    outcomes: dict[int, Outcome] = field(default_factory=dict)

    def record(self, line: int, status: Status, record_id: int | None = None) -> None:
        self.outcomes[line] = Outcome(status, record_id)
        if status == "created":
            self.created += 1
        elif status == "updated":
            self.updated += 1
        elif status == "unchanged":
            self.unchanged += 1

    def fail(self, line: int, errors: list[tuple[str, str]]) -> None:
        self.skipped += 1
        self.outcomes[line] = Outcome("error")
        self.errors.extend(RowError(line, name, message) for name, message in errors)

    def merge(self, other: "BatchResult") -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.skipped += other.skipped
        self.contacts_created += other.contacts_created
        self.errors.extend(other.errors)
        self.outcomes.update(other.outcomes)

    def summary(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "contacts_created": self.contacts_created,
            "errors": [error.as_dict() for error in self.errors],
        }


_NON_WORD = re.compile(r"[^0-9a-z]+")


def column_key(header: str) -> str:
    """'Data de Nascimento' → 'data_de_nascimento': how headers and API keys are matched."""
    decomposed = unicodedata.normalize("NFKD", header.strip().casefold())
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_WORD.sub("_", ascii_only).strip("_")


@dataclass
class CleanBatch:
    """Rows cleaned and ready to write, with the result so far (the rows refused).

    Cleaning touches no database, so an importer may clean the next chunk in another
    process while this one is written; a CleanBatch is what travels between them.
    """

    items: list[tuple[int, Any]] = field(default_factory=list)
    result: BatchResult = field(default_factory=BatchResult)
    position: int = 0  # bytes of the file read when the chunk was cut, for progress
    last_line: int = 0  # the file's last line in the chunk: where a resumed import goes on


def given_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """The row's non-blank values. NUL characters are dropped: no real value has one, and
    PostgreSQL cannot store them (a stray one would otherwise fail the whole batch)."""
    given = {}
    for key, value in data.items():
        if isinstance(value, str):
            if not value or value.isspace():
                continue
            if "\x00" in value:
                value = value.replace("\x00", "")
                if not value.strip():
                    continue
        elif value is None:
            continue
        given[key] = value
    return given


def has_nul(value: Any) -> bool:
    """Whether a JSON-able value holds a NUL character anywhere (PostgreSQL refuses them)."""
    return "\\u0000" in json.dumps(value, default=str)

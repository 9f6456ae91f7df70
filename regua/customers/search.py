"""Finding contacts by what a person types in the search box.

One box takes a name (any of its words, by prefix: "cla sou" finds Clara Souza), an e-mail
prefix, a phone number (any part from the area code on) or an external id. Each reading
of the text is a branch that one index answers — a B-tree range for e-mails and phones,
the full-text index for names (FTS5 on SQLite; on PostgreSQL, a stored tsvector column
and its GIN index, migration 0006) — and the branches are joined in one UNION of
contact ids, so the whole search stays a handful of index reads at a million contacts.
"""

import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from regua.lib.text import search_key

from .models import Contact

_WORD = re.compile(r"[0-9a-z]+")
_PHONEISH = re.compile(r"^[\d\s()+.\-]+$")
_EMAILISH = re.compile(r"[._]")  # names have neither: 'maria.s' is the start of an e-mail


@dataclass(frozen=True)
class Window:
    """Which matches a caller needs: `limit` of them, below id `before`, newest first.

    A page of results (or a capped count, which needs no order) needs only that many, so
    each branch stops early instead of collecting every "Silva" in a million contacts.
    """

    before: int | None = None
    limit: int | None = None
    ordered: bool = True


@dataclass(frozen=True)
class Branch:
    """One reading of the search text: a query of contact ids, and how to order them.

    `key` names the id in ORDER BY; a prefix branch orders by "id + 0" so that neither
    planner walks the primary key backwards filtering row by row (fast for a common
    prefix, a full scan for a rare one) instead of reading the prefix's index range.
    """

    sql: str
    params: list[object]
    key: str = "id"


def prefix_q(field: str, prefix: str) -> Q:
    """`field` starts with `prefix`, in a form each backend answers from a B-tree index.

    PostgreSQL: LIKE 'x%' over the varchar_pattern_ops index Django adds to indexed
    character columns. SQLite: its LIKE ignores case and so skips ordinary indexes; a
    range on the binary collation does not.
    """
    if connection.vendor == "sqlite":
        return Q(**{f"{field}__gte": prefix, f"{field}__lt": prefix + "\U0010ffff"})
    return Q(**{f"{field}__startswith": prefix})


def _prefix_branch(column: str, prefix: str) -> Branch:
    if connection.vendor == "sqlite":
        sql = f"SELECT id FROM customers_contact WHERE {column} >= %s AND {column} < %s"
        return Branch(sql, [prefix, prefix + "\U0010ffff"], "id + 0")
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    sql = f"SELECT id FROM customers_contact WHERE {column} LIKE %s"
    return Branch(sql, [escaped + "%"], "id + 0")


def _name_branch(words: list[str]) -> Branch:
    if connection.vendor == "sqlite":
        match = " AND ".join(f'"{word}"*' for word in words)
        sql = "SELECT rowid AS id FROM customers_contact_fts WHERE customers_contact_fts MATCH %s"
        return Branch(sql, [match], "rowid")
    query = " & ".join(f"{word}:*" for word in words)
    sql = "SELECT id FROM customers_contact WHERE search_vector @@ to_tsquery('simple', %s)"
    return Branch(sql, [query])


def _windowed(branch: Branch, window: Window) -> tuple[str, list[object]]:
    sql, params = branch.sql, list(branch.params)
    if window.before is not None:
        sql += f" AND {branch.key.split()[0]} < %s"
        params.append(window.before)
    if window.limit is not None:
        if window.ordered:
            sql += f" ORDER BY {branch.key} DESC"
        sql += " LIMIT %s"
        params.append(window.limit)
    return sql, params


def search_branches(text: str) -> list[Branch]:
    """The readings of what was typed, each a query of matching contact ids."""
    text = text.strip()
    if not text:
        return []
    if "@" in text:
        return [_prefix_branch("email", text.lower())]
    branches = [Branch("SELECT id FROM customers_contact WHERE external_id = %s", [text])]
    digits = re.sub(r"\D", "", text)
    if _PHONEISH.match(text) and len(digits) >= 4:
        # Typed with or without the country code: try both readings.
        return [
            *branches,
            _prefix_branch("phone", "+55" + digits),
            _prefix_branch("phone", "+" + digits),
        ]
    if " " not in text:
        branches.append(_prefix_branch("email", text.lower()))
    words = _WORD.findall(search_key(text))[:8]
    if words and not _EMAILISH.search(text):
        branches.append(_name_branch(words))
    return branches


def contact_search(
    queryset: QuerySet[Contact],
    text: str,
    window: Window = Window(),
) -> QuerySet[Contact]:
    """`queryset` narrowed to what `text` finds; with a window, to that many matches."""
    branches = [_windowed(branch, window) for branch in search_branches(text)]
    if not branches:
        return queryset
    # Each branch is wrapped as a derived table: SQLite refuses ORDER BY / LIMIT directly
    # in the members of a UNION.
    sql = " UNION ".join(
        f"SELECT id FROM ({branch_sql}) AS b{i}" for i, (branch_sql, _params) in enumerate(branches)
    )
    params = [param for _sql, branch_params in branches for param in branch_params]
    return queryset.filter(id__in=RawSQL(sql, params))  # noqa: S611 (parameterised)

"""Finding contacts by what a person types in the search box.

One box takes a name (any of its words, by prefix: "cla sou" finds Clara Souza), an e-mail
prefix, a phone number (any part from the area code on) or an external id. Every branch
is an index lookup on both SQLite and PostgreSQL, so it stays fast at a million contacts.
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
_EMAILISH = re.compile(r"[._]")


def prefix_q(field: str, prefix: str) -> Q:
    """`field` starts with `prefix`, in a form each backend answers from a B-tree index.

    PostgreSQL: LIKE 'x%' over the varchar_pattern_ops index Django adds to indexed
    character columns. SQLite: its LIKE ignores case and so skips ordinary indexes; a
    range on the binary collation does not.
    """
    if connection.vendor == "sqlite":
        return Q(**{f"{field}__gte": prefix, f"{field}__lt": prefix + "\U0010ffff"})
    return Q(**{f"{field}__startswith": prefix})


@dataclass(frozen=True)
class Window:
    """Which matches a caller needs: the newest `limit` below id `before`.

    A page of results (or a capped count) needs only that many, so each branch of the
    search stops early instead of collecting every "Silva" in a million contacts.
    """

    before: int | None = None
    limit: int | None = None


def _windowed(sql: str, params: list[object], key: str, window: Window) -> tuple[str, list[object]]:
    if window.before is not None:
        sql += f" AND {key} < %s"
        params.append(window.before)
    if window.limit is not None:
        sql += f" ORDER BY {key} DESC LIMIT %s"
        params.append(window.limit)
    return sql, params


def name_words_q(text: str, window: Window = Window()) -> Q | None:
    """Contacts whose name has a word starting with each word of `text`."""
    words = _WORD.findall(search_key(text))[:8]
    if not words:
        return None
    if connection.vendor == "sqlite":
        match = " AND ".join(f'"{word}"*' for word in words)
        sql = "SELECT rowid FROM customers_contact_fts WHERE customers_contact_fts MATCH %s"
        return Q(id__in=RawSQL(*_windowed(sql, [match], "rowid", window)))  # noqa: S611
    if connection.vendor == "postgresql":
        query = " & ".join(f"{word}:*" for word in words)
        sql = (
            "SELECT id FROM customers_contact WHERE to_tsvector('simple'::regconfig, "
            "search_name) @@ to_tsquery('simple'::regconfig, %s)"
        )
        return Q(id__in=RawSQL(*_windowed(sql, [query], "id", window)))  # noqa: S611
    return Q(search_name__contains=" ".join(words))


def _prefix_ids_q(field: str, prefix: str, window: Window) -> Q:
    condition = prefix_q(field, prefix)
    if window.limit is None:
        return condition
    ids = Contact.objects.filter(condition)
    if window.before is not None:
        ids = ids.filter(id__lt=window.before)
    return Q(id__in=ids.order_by("-id").values("id")[: window.limit])


def contact_search(
    queryset: QuerySet[Contact],
    text: str,
    window: Window = Window(),
) -> QuerySet[Contact]:
    """`queryset` narrowed to what `text` finds. With a window, only that many matches."""
    text = text.strip()
    if not text:
        return queryset
    if "@" in text:
        return queryset.filter(_prefix_ids_q("email", text.lower(), window))
    digits = re.sub(r"\D", "", text)
    if _PHONEISH.match(text) and len(digits) >= 4:
        # Typed with or without the country code: try both readings.
        national = _prefix_ids_q("phone", "+55" + digits, window)
        international = _prefix_ids_q("phone", "+" + digits, window)
        return queryset.filter(national | international | Q(external_id=text))
    condition = Q(external_id=text)
    if " " not in text:
        condition |= _prefix_ids_q("email", text.lower(), window)
    # A name has no dots or underscores: 'maria.s' is the start of an e-mail address.
    if not _EMAILISH.search(text) and (words := name_words_q(text, window)):
        condition |= words
    return queryset.filter(condition)

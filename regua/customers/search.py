"""Finding contacts by what a person types in the search box.

One box takes a name (any of its words, by prefix: "cla sou" finds Clara Souza), an e-mail
prefix, a phone number (any part from the area code on) or an external id. Every branch
is an index lookup on both SQLite and PostgreSQL, so it stays fast at a million contacts.
"""

import re

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from regua.lib.text import search_key

from .models import Contact

_WORD = re.compile(r"[0-9a-z]+")
_PHONEISH = re.compile(r"^[\d\s()+.\-]+$")


def prefix_q(field: str, prefix: str) -> Q:
    """`field` starts with `prefix`, in a form each backend answers from a B-tree index.

    PostgreSQL: LIKE 'x%' over the varchar_pattern_ops index Django adds to indexed
    character columns. SQLite: its LIKE ignores case and so skips ordinary indexes; a
    range on the binary collation does not.
    """
    if connection.vendor == "sqlite":
        return Q(**{f"{field}__gte": prefix, f"{field}__lt": prefix + "\U0010ffff"})
    return Q(**{f"{field}__startswith": prefix})


def name_words_q(text: str) -> Q | None:
    """Contacts whose name has a word starting with each word of `text`."""
    words = _WORD.findall(search_key(text))[:8]
    if not words:
        return None
    if connection.vendor == "sqlite":
        match = " AND ".join(f'"{word}"*' for word in words)
        sql = "SELECT rowid FROM customers_contact_fts WHERE customers_contact_fts MATCH %s"
        return Q(id__in=RawSQL(sql, [match]))  # noqa: S611 (parameterised)
    if connection.vendor == "postgresql":
        query = " & ".join(f"{word}:*" for word in words)
        sql = (
            "SELECT id FROM customers_contact WHERE to_tsvector('simple'::regconfig, "
            "search_name) @@ to_tsquery('simple'::regconfig, %s)"
        )
        return Q(id__in=RawSQL(sql, [query]))  # noqa: S611 (parameterised)
    return Q(search_name__contains=" ".join(words))


def contact_search(queryset: QuerySet[Contact], text: str) -> QuerySet[Contact]:
    text = text.strip()
    if not text:
        return queryset
    if "@" in text:
        return queryset.filter(prefix_q("email", text.lower()))
    digits = re.sub(r"\D", "", text)
    if _PHONEISH.match(text) and len(digits) >= 4:
        # Typed with or without the country code: try both readings.
        national = prefix_q("phone", "+55" + digits)
        return queryset.filter(national | prefix_q("phone", "+" + digits) | Q(external_id=text))
    condition = Q(external_id=text)
    if words := name_words_q(text):
        condition |= words
    if " " not in text:
        condition |= prefix_q("email", text.lower())
    return queryset.filter(condition)

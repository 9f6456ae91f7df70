"""Finding help articles by the words a visitor types.

An article matches when any of the query's words (text.query_words: folded, stemmed,
common words dropped) occurs in its folded question or answer. Each word scores 2 when
in the question and 1 when only in the answer; articles come best score first, then
the one with more question matches, then in help-centre order. So a question about
"entrega" ranks above an answer that only mentions it.

Why substring matching over stored folded columns rather than a full-text index: a help
centre holds hundreds to a few thousand short articles per language, and one LIKE per
word over each article's distinct words is a scan of a few hundred kilobytes, on SQLite
and PostgreSQL alike (measured with 5,000 articles, 2,500 per language: 10-20 ms a
search on SQLite, 15-40 ms on PostgreSQL); substrings give prefix and stem matches for
free, and there is no second index (FTS5 table, tsvector, pg_trgm) with its triggers to
keep in step.
"""

from functools import reduce
from operator import add, or_

from django.db.models import Case, F, IntegerField, Q, Value, When
from django.db.models.expressions import Combinable

from .models import Article, Language
from .text import query_words

RESULTS = 50


def _hits(field: str, words: list[str]) -> Combinable:
    """How many of `words` occur in `field`, as an SQL expression."""
    return reduce(
        add,
        [
            Case(
                When(Q(**{f"{field}__contains": word}), then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
            for word in words
        ],
    )


def article_search_q(text: str) -> Q:
    """Articles that `text` finds, in any language and state (the admin's search box)."""
    words = query_words(text)
    if not words:
        return Q(pk__in=[])
    return reduce(
        or_,
        [Q(search_all__contains=word) for word in words],
    )


def article_search(text: str, *, language: Language, limit: int = RESULTS) -> list[Article]:
    """The published articles in `language` that `text` finds, best first."""
    words = query_words(text)
    if not words:
        return []
    found = (
        Article.objects.published()
        .filter(article_search_q(text), language=language)
        .select_related("category")
        .annotate(
            question_hits=_hits("search_question", words),
            anywhere_hits=_hits("search_all", words),
        )
        # A word in the question counts twice (it is also in search_all).
        .annotate(score=F("question_hits") + F("anywhere_hits"))
        .order_by(
            "-score",
            "-question_hits",
            "category__position",
            "category__name",
            "position",
            "id",
        )
    )
    return list(found[:limit])

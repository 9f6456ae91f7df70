"""Text normalisation for search keys."""

import re
import unicodedata

_NOT_WORD = re.compile(r"[^0-9a-z@._+\- ]+")
_SPACES = re.compile(r"\s+")


# Portuguese and other Latin accents, folded by a table: the common case, without the
# per-character work of Unicode decomposition.
_LATIN = str.maketrans(
    "àáâãäåçèéêëìíîïñòóôõöùúûüýÿ",
    "aaaaaaceeeeiiiinooooouuuuyy",
)


def fold(value: str) -> str:
    """Lower-case `value` and strip accents: 'João Conceição' → 'joao conceicao'."""
    folded = value.casefold().translate(_LATIN)
    if folded.isascii():
        return folded
    decomposed = unicodedata.normalize("NFKD", folded)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def search_key(value: str) -> str:
    """The form names are indexed and searched in: folded, punctuation-free, single-spaced."""
    return _SPACES.sub(" ", _NOT_WORD.sub(" ", fold(value))).strip()

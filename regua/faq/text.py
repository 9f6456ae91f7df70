"""The words the help centre searches by: folded text on the article side, the typed
words on the visitor's side.

Both sides go through the same folding (lower case, no accents, letters and digits only),
so "Devolução", "DEVOLUCAO" and "devolução" are one word. Matching is by substring
(search.py), which makes a word's stem find all its forms: the query side cuts the common
Portuguese and English plural endings ("devoluções" → "devoluc", found in "devolução").
"""

import re

from regua.lib.text import fold

_WORD = re.compile(r"[0-9a-z]+")

# Words too common to tell articles apart. Dropped from a query unless nothing else is
# left ("como?" still searches for "como").
_STOP_WORDS = """
    a o as os e ou de da do das dos em no na nos nas num numa um uma uns umas para pra por
    pelo pela com sem como que qual quais quando onde meu minha meus minhas se ao aos eu
    voce voces me mais ja sobre posso pode eh
    an the and or of to in on at for from by with is are be can i my me how what when
    where which do does did it its this that you your
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())
MAX_WORDS = 8

# (ending, replacement), longest first. A stem keeps at least three letters, so
# short words ("pao", "mas") stay whole.
_ENDINGS = [
    ("coes", "c"),  # devoluções → devoluc (devolução, devoluções)
    ("cao", "c"),  # devolução → devoluc
    ("oes", ""),  # cartões → cart (cartão, cartões)
    ("aes", ""),
    ("ies", ""),  # deliveries → deliver (delivery, deliveries)
    ("ao", ""),  # cartão → cart
    ("s", ""),  # trocas → troca, coupons → coupon
]
_MIN_STEM = 3


def search_text(value: str) -> str:
    """The stored, searchable form of `value`: 'Troca e Devolução!' → 'troca e devolucao'."""
    return " ".join(_WORD.findall(fold(value)))


def distinct_words(value: str) -> str:
    """Each folded word of `value` once, in order: what matching by presence needs, in
    about half the length of a long answer."""
    return " ".join(dict.fromkeys(_WORD.findall(fold(value))))


def stem(word: str) -> str:
    for ending, replacement in _ENDINGS:
        if word.endswith(ending):
            cut = word[: -len(ending)] + replacement
            return cut if len(cut) >= _MIN_STEM else word
    return word


def query_words(text: str) -> list[str]:
    """The distinct words a search for `text` looks for, stemmed, at most MAX_WORDS."""
    words = list(dict.fromkeys(_WORD.findall(fold(text))))
    meaningful = [word for word in words if word not in STOP_WORDS] or words
    return list(dict.fromkeys(stem(word) for word in meaningful))[:MAX_WORDS]

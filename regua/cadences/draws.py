"""Stable draws (the holdout, the A/B variant) that SQL and Python compute alike.

A multiplicative hash of an id (Knuth's golden-ratio constant) salted by a key, taken
modulo 2³²: the same contact always falls on the same side, draws for different
réguas or steps are independent, and the tick can compute it inside INSERT ... SELECT
on SQLite and PostgreSQL (64-bit integer arithmetic, no overflow below 3·10⁹ ids).
"""

import hashlib

MULTIPLIER = 2_654_435_761
MODULUS = 2**32


def salt(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big")


def share_threshold(percent: int) -> int:
    """Draws below this value make up `percent` % of all draws."""
    return percent * MODULUS // 100


def draw(identifier: int, key: str) -> int:
    return (identifier * MULTIPLIER + salt(key)) % MODULUS


def draw_sql(column: str, key: str) -> str:
    """The same draw as SQL over an integer column (the salt is ours, not user text)."""
    # A bitwise AND, not %: the same in both databases and no placeholder to escape.
    return f"(({column} * {MULTIPLIER} + {salt(key)}) & {MODULUS - 1})"


def variant(identifier: int, key: str) -> str:
    """The A/B draw: "a" or "b", half each."""
    return "a" if draw(identifier, key) < MODULUS // 2 else "b"


def variant_sql(column: str, key: str) -> str:
    return f"CASE WHEN {draw_sql(column, key)} < {MODULUS // 2} THEN 'a' ELSE 'b' END"


def in_share(identifier: int, key: str, percent: int) -> bool:
    return draw(identifier, key) < share_threshold(percent)


def in_share_sql(column: str, key: str, percent: int) -> str:
    return f"({draw_sql(column, key)} < {share_threshold(percent)})"

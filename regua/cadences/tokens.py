"""Signed, unguessable tokens for the public links in messages.

Open pixel, click redirect, unsubscribe and survey links carry the delivery's id signed
with the secret key under a per-purpose salt, so a token for one purpose is worthless for
another and nobody can forge one for someone else's delivery.
"""

import functools
import hashlib

from django.core import signing
from django.urls import reverse

PURPOSES = {"open", "click", "unsubscribe", "survey"}


def _signer(purpose: str) -> signing.Signer:
    assert purpose in PURPOSES
    return signing.Signer(salt=f"regua.{purpose}")


def make(purpose: str, delivery_id: int, extra: str = "") -> str:
    value = f"{delivery_id}.{_digest(extra)}" if extra else str(delivery_id)
    return _signer(purpose).sign(value)


def read(purpose: str, token: str, extra: str = "") -> int | None:
    """The delivery id in a valid token, else None."""
    try:
        value = _signer(purpose).unsign(token)
    except signing.BadSignature:
        return None
    ident, _, digest = value.partition(".")
    if (digest or extra) and digest != _digest(extra):
        return None
    return int(ident) if ident.isdigit() else None


def _digest(extra: str) -> str:
    return hashlib.sha256(extra.encode()).hexdigest()[:16]


def url(purpose: str, delivery_id: int, site_url: str) -> str:
    name = {
        "open": "cadences:open",
        "unsubscribe": "cadences:unsubscribe",
        "survey": "cadences:survey",
    }
    return site_url + reverse(name[purpose], args=[make(purpose, delivery_id)])


def click_url(delivery_id: int, target: str, site_url: str) -> str:
    from urllib.parse import urlencode

    token = make("click", delivery_id, target)
    before, after = _click_route()
    return f"{site_url}{before}{token}{after}?{urlencode({'u': target})}"


@functools.cache
def _click_route() -> tuple[str, str]:
    before, _, after = reverse("cadences:click", args=["TOKEN"]).partition("TOKEN")
    return before, after

"""Signed, unguessable tokens for the public links in messages.

Open pixel, click redirect, unsubscribe and survey links carry the delivery's id signed
with the secret key under a per-purpose salt, so a token for one purpose is worthless for
another and nobody can forge one for someone else's delivery. A click token also signs
the address it leads to (not carried in the token: the link's `u=` parameter), so the
redirect goes only to the links the message really contained (docs/security.md).
"""

import base64
import functools
import hashlib
import hmac

from django.urls import reverse
from django.utils.crypto import salted_hmac

PURPOSES = {"open", "click", "unsubscribe", "survey"}


@functools.cache
def _key(purpose: str) -> bytes:
    """A key per purpose, derived from the secret key once (a batch signs thousands)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return salted_hmac(f"regua.tokens.{purpose}", "key", algorithm="sha256").digest()


def _mac(purpose: str, value: str) -> str:
    digest = hmac.new(_key(purpose), value.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()


def make(purpose: str, delivery_id: int, extra: str = "") -> str:
    """`<delivery id>:<MAC>`; `extra` (a click's target address) is signed, not carried."""
    ident = str(delivery_id)
    return f"{ident}:{_mac(purpose, _signed(ident, extra))}"


def read(purpose: str, token: str, extra: str = "") -> int | None:
    """The delivery id in a valid token for this purpose (and this `extra`), else None."""
    ident, _, mac = token.partition(":")
    if not (ident.isascii() and ident.isdigit()):
        return None
    if not hmac.compare_digest(mac.encode(), _mac(purpose, _signed(ident, extra)).encode()):
        return None
    return int(ident)


def _signed(ident: str, extra: str) -> str:
    # The MAC covers the whole target address, not a short digest of it: finding another
    # address that a token accepts means breaking HMAC-SHA256. The id is digits only, so
    # the newline cannot be moved between the two parts.
    return f"{ident}\n{extra}" if extra else ident


ROUTES = {
    "open": "cadences:open",
    "unsubscribe": "cadences:unsubscribe",
    "survey": "cadences:survey",
}


@functools.cache
def _route(purpose: str) -> tuple[str, str]:
    """The path around a token, reversed once (a batch makes thousands of links)."""
    before, _, after = reverse(ROUTES[purpose], args=["TOKEN"]).partition("TOKEN")
    return before, after


def url(purpose: str, delivery_id: int, site_url: str) -> str:
    before, after = _route(purpose)
    return f"{site_url}{before}{make(purpose, delivery_id)}{after}"


def click_url(delivery_id: int, target: str, site_url: str) -> str:
    from urllib.parse import urlencode

    token = make("click", delivery_id, target)
    before, after = _click_route()
    return f"{site_url}{before}{token}{after}?{urlencode({'u': target})}"


@functools.cache
def _click_route() -> tuple[str, str]:
    before, _, after = reverse("cadences:click", args=["TOKEN"]).partition("TOKEN")
    return before, after

"""Signed links to a customer's loyalty page.

The token is the contact's id and an HMAC of it under a key of its own (derived from the
secret key with a salt no other link uses), so a page link cannot be forged for another
customer, nor made from an unsubscribe or survey token. The links do not expire: they are
printed in e-mails the customer may open months later, and the page only reads.
"""

import base64
import functools
import hashlib
import hmac

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import salted_hmac


@functools.cache
def _key() -> bytes:
    return salted_hmac("regua.loyalty.page", "key", algorithm="sha256").digest()


def _mac(value: str) -> str:
    digest = hmac.new(_key(), value.encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()


def make(contact_id: int) -> str:
    return f"{contact_id}:{_mac(str(contact_id))}"


def read(token: str) -> int | None:
    """The contact id in a valid token, else None."""
    value, _sep, mac = token.rpartition(":")
    if not value.isdigit() or not hmac.compare_digest(mac.encode(), _mac(value).encode()):
        return None
    return int(value)


def page_url(contact_id: int, site_url: str | None = None) -> str:
    site = settings.REGUA_SITE_URL if site_url is None else site_url
    return f"{site}{reverse('loyalty:public_page', args=[make(contact_id)])}"


def referral_url(code: str, site_url: str | None = None) -> str:
    site = settings.REGUA_SITE_URL if site_url is None else site_url
    return f"{site}{reverse('loyalty:referral_landing', args=[code])}"

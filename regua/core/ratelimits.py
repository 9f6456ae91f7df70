"""Rate limits on the doors anyone can knock on: sign-in, password reset, public forms, the API.

Each limit counts requests per client address, per e-mail address typed or per API key,
in fixed windows (a minute for "30/m"), in a table of the database (core.RateCount), so
that every web process and machine adds to the same count. The rates are settings
(REGUA_RATELIMIT_*, "<count>/<period>"; "" turns one off). Over the limit a page answers
429 with Retry-After and says when to try again; the API answers 429 with a JSON body.
A count's row is named by 64 bits of a SHA-256 of the limit, what it counts by and the
window, never by the address itself.

Counting a request is one statement, an upsert that returns the new count: two
processes counting at once never lose one (the row is locked for the increment). On
PostgreSQL it commits without waiting for the disk (synchronous_commit off for that
statement alone): a crash may forget the last fraction of a second's counts, which a
rate limit can afford, while every API call would otherwise wait for a WAL flush behind
the workers' writes. This replaced django-ratelimit over the shared cache, whose add and
locked increment took six round trips a count (2.1 ms a count on PostgreSQL; 0.5 ms
now: docs/benchmarks.md, issue 7, fourth round).
"""

import hashlib
import ipaddress
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import ngettext

from regua.lib.env import RATE

from .models import RateCount


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind REGUA_PROXY_COUNT reverse proxies the
    X-Forwarded-For entry that many places from the right (the ones our proxies added;
    anything left of it is whatever the client sent, and could be forged)."""
    address = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.REGUA_PROXY_COUNT
    if proxies > 0:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return "0.0.0.0"  # noqa: S104 (no address: one shared bucket, never an error)


@dataclass(frozen=True)
class Limit:
    """One count: its name, the setting holding its rate, and what it counts by."""

    group: str
    setting: str
    key: Callable[[HttpRequest], str] = client_ip

    def rate(self) -> str:
        return str(getattr(settings, self.setting, "") or "")


def _typed_email(request: HttpRequest, field: str) -> str:
    return str(request.POST.get(field, "")).strip().lower()


LOGIN_IP = Limit("login-ip", "REGUA_RATELIMIT_LOGIN_IP")
LOGIN_USER = Limit(
    "login-user", "REGUA_RATELIMIT_LOGIN_USER", lambda request: _typed_email(request, "username")
)
RESET_IP = Limit("password-reset-ip", "REGUA_RATELIMIT_PASSWORD_RESET")
RESET_ADDRESS = Limit(
    "password-reset-address",
    "REGUA_RATELIMIT_PASSWORD_RESET",
    lambda request: _typed_email(request, "email"),
)
API_IP = Limit("api-ip", "REGUA_RATELIMIT_API_IP")


def public_form(door: str) -> Limit:
    """A public page's limit per client address (its own count per page)."""
    return Limit(f"public-{door}", "REGUA_RATELIMIT_PUBLIC_FORMS")


def public_link(door: str) -> Limit:
    """A public link's limit per link: many customers may share one address (a mail
    provider posting one-click unsubscribes for all its users), but one link posted
    again and again is counted."""
    return Limit(f"public-{door}-link", "REGUA_RATELIMIT_PUBLIC_FORMS", lambda r: r.path)


def api_key_limit(lookup: str) -> Limit:
    return Limit("api-key", "REGUA_RATELIMIT_API_KEY", lambda request: lookup)


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def split_rate(rate: str) -> tuple[int, int]:
    """'30/m' → (30, 60); '5/15m' → (5, 900): the count allowed and the window's seconds."""
    match = RATE.fullmatch(rate)
    if not match:
        raise ValueError(f"not a rate: {rate!r}")
    count, multiple, unit = match.groups()
    return int(count), _PERIODS[unit] * int(multiple or 1)


def window_end(value: str, period: int, now: float) -> int:
    """The end (epoch seconds, always after `now`) of the window `now` falls in. Windows
    are `period` long and each counted value's are shifted by a fixed amount of its own,
    so that not every count starts again at the same second."""
    now_s = int(now)
    end = now_s - now_s % period + zlib.crc32(value.encode()) % period
    return end + period if end <= now_s else end


def exceeded(request: HttpRequest, *limits: Limit) -> int:
    """Count this request in each limit; the seconds to wait if any is over (else 0)."""
    if not settings.RATELIMIT_ENABLE:
        return 0
    wait = 0
    now = time.time()
    for limit in limits:
        rate = limit.rate()
        if not rate:
            continue
        allowed, period = split_rate(rate)
        value = limit.key(request)
        end = window_end(value, period, now)
        digest = hashlib.sha256(f"{limit.group}\n{rate}\n{value}\n{end}".encode()).digest()
        name = int.from_bytes(digest[:8], "big", signed=True)
        if count(name, datetime.fromtimestamp(end, UTC)) > allowed:
            wait = max(wait, end - int(now))
    return wait


def count(name: int, expires: datetime) -> int:
    """Add one to the count `name` (created, ending at `expires`, if new) and return it.
    A new window's first count also removes the windows that have ended."""
    quote = connection.ops.quote_name
    table = quote(RateCount._meta.db_table)
    key, hits, ends, created, updated = (
        quote(column) for column in ("key", "hits", "expires", "created_at", "updated_at")
    )
    upsert = (
        f"INSERT INTO {table} ({key}, {hits}, {ends}, {created}, {updated}) "
        f"VALUES (%s, 1, %s, %s, %s) ON CONFLICT ({key}) "
        f"DO UPDATE SET {hits} = {table}.{hits} + 1, {updated} = EXCLUDED.{updated} "
        f"RETURNING {hits}"
    )
    adapt = connection.ops.adapt_datetimefield_value
    now = adapt(timezone.now())
    params = [name, adapt(expires), now, now]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            # One round trip, in the implicit transaction of a two-statement query: the
            # SET applies to this upsert only. (Inside a caller's transaction it would
            # apply to all the caller's writes, so there the count simply joins it.)
            cursor.execute(f"SET LOCAL synchronous_commit TO OFF; {upsert}", params)
            cursor.nextset()
        else:
            cursor.execute(upsert, params)
        counted = int(cursor.fetchone()[0])
        if counted == 1:
            cursor.execute(f"DELETE FROM {table} WHERE {ends} < %s", [now])
    return counted


def wait_text(seconds: int) -> str:
    if seconds < 120:
        return ngettext(
            "Please try again in %(n)d second.", "Please try again in %(n)d seconds.", seconds
        ) % {"n": seconds}
    minutes = (seconds + 59) // 60
    return ngettext(
        "Please try again in %(n)d minute.", "Please try again in %(n)d minutes.", minutes
    ) % {"n": minutes}


def too_many(request: HttpRequest, wait: int) -> HttpResponse:
    """The page a person sees over a limit: 429, what happened, when to try again."""
    response = render(
        request,
        "ratelimited.html",
        {"wait": wait_text(wait), "brand": settings.REGUA_BRAND_NAME},
        status=429,
    )
    response["Retry-After"] = str(wait)
    return response


def api_too_many(wait: int) -> JsonResponse:
    response = JsonResponse(
        {"detail": f"Too many requests: try again in {wait} seconds."}, status=429
    )
    response["Retry-After"] = str(wait)
    return response


def refused(request: HttpRequest, *limits: Limit) -> HttpResponse | None:
    """The 429 page when this request is over one of `limits`, else None (go on)."""
    wait = exceeded(request, *limits)
    return too_many(request, wait) if wait else None


class RateLimited(Exception):
    """Raised inside the API (an API key over its limit); answered 429 in JSON."""

    def __init__(self, wait: int) -> None:
        super().__init__(wait)
        self.wait = wait


class ApiRateLimitMiddleware:
    """Every API call counts against its client address (REGUA_RATELIMIT_API_IP) before
    anything else runs, keys that fail too: guessing keys costs requests. The limit per
    key is counted where the key is recognised (regua/core/api.py)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            wait = exceeded(request, API_IP)
            if wait:
                return api_too_many(wait)
        return self.get_response(request)

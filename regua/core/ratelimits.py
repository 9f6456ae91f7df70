"""Rate limits on the doors anyone can knock on: sign-in, password reset, public forms, the API.

Each limit counts requests per client address, per e-mail address typed or per API key,
with django-ratelimit, in the shared cache (settings.CACHES["shared"], a table in the
database: regua/core/cache.py), so that every web process adds to the same count. The
rates are settings (REGUA_RATELIMIT_*, "<count>/<period>"; "" turns one off). Over the
limit a page answers 429 with Retry-After and says when to try again; the API answers
429 with a JSON body. django-ratelimit stores a SHA-256 of what it counts by, never the
address itself.
"""

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import ngettext
from django_ratelimit.core import get_usage


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


def exceeded(request: HttpRequest, *limits: Limit) -> int:
    """Count this request in each limit; the seconds to wait if any is over (else 0)."""
    wait = 0
    for limit in limits:
        rate = limit.rate()
        if not rate:
            continue
        usage = get_usage(
            request,
            group=limit.group,
            key=lambda _group, request, limit=limit: limit.key(request),
            rate=rate,
            increment=True,
        )
        if usage is not None and usage["should_limit"]:
            wait = max(wait, usage["time_left"], 1)
    return wait


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

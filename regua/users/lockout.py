"""Account lockout after repeated failed sign-ins (django-axes; docs/security.md).

Axes counts the failures per e-mail address and client IP in the database (Admin → Axes
→ Access attempts): after AXES_FAILURE_LIMIT of them the pair is refused for
AXES_COOLOFF_TIME, even with the right password, and the login page says so. Deleting
the attempt in the admin unlocks it at once. What this module adds to axes:

- a backend that lets sign-ins made without an HTTP request through (the test client's
  `login()`, a shell): axes refuses those outright, and there is no caller to lock out;
- the e-mail address compared in lower case, as users sign in with it;
- log lines naming no one: axes logs each failure with the address typed and the
  client's IP; here they carry a keyed digest of each instead;
- the lockout answered with the login page and its message (429, Retry-After).
"""

import hashlib
import hmac
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import ngettext


class LockoutBackend(AxesStandaloneBackend):
    """Axes' check before the password's, for sign-ins over HTTP."""

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:  # not over HTTP: the test client, a shell
            return None
        return super().authenticate(request, username, password, **kwargs)  # type: ignore[no-any-return]


def username_of(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The e-mail address tried, as axes counts it: trimmed, lower case."""
    raw = (credentials or {}).get("username")
    if raw is None:
        raw = request.POST.get("username", "") if request is not None else ""
    return str(raw).strip().lower()


def pseudonym(value: str) -> str:
    """A short keyed digest: the same address gives the same one (failures can be
    followed in the log), but the log alone does not tell whose it is."""
    digest = hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256)
    return digest.hexdigest()[:12]


def client_str(
    username: str | None,
    ip_address: str | None,
    user_agent: str | None,
    path_info: Any,
    request: Any,
) -> str:
    path = path_info[0] if isinstance(path_info, tuple) else path_info
    return f"{{user={pseudonym(username or '')}, ip={pseudonym(ip_address or '')}, path={path}}}"


def lockout_minutes() -> int:
    return max(int(settings.AXES_COOLOFF_TIME.total_seconds() // 60), 1)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """The login page again, saying the account is locked here for a while."""
    minutes = lockout_minutes()
    message = ngettext(
        "Too many failed sign-ins: this account is locked on this device for %(n)d minute. "
        "Try again later, or ask an administrator to unlock it.",
        "Too many failed sign-ins: this account is locked on this device for %(n)d minutes. "
        "Try again later, or ask an administrator to unlock it.",
        minutes,
    ) % {"n": minutes}
    form = AuthenticationForm(request, initial={"username": username_of(request, credentials)})
    response = render(
        request,
        "registration/login.html",
        {"form": form, "locked": message, "next": request.POST.get("next", "")},
        status=429,
    )
    response["Retry-After"] = str(minutes * 60)
    return response

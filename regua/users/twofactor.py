"""Two-factor sign-in with an authenticator app (TOTP, django-otp; docs/security.md).

Optional for everyone; REGUA_REQUIRE_2FA_FOR names the roles that must set it up. A
user enrols on Settings → Two-factor sign-in: a new TOTP device (unconfirmed) shows its
QR code and secret, and the first code the app gives confirms it; ten backup codes
(a static device) are shown once, for a lost phone. From then on, signing in asks for a
code after the password.

The gate is TwoFactorMiddleware, not the login view: whatever signed the user in (our
login page, the admin site's, a session from before enrolment), a user with a confirmed
device whose session has not given a code reaches only the code page and sign-out; a
user whose role requires two-factor sign-in and has no device reaches only the
enrolment page. A new page is therefore covered without doing anything.
"""

import base64
from collections.abc import Callable

import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import urlencode
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import Role, User

BACKUP_CODES = 10
APP_DEVICE = "authenticator"
BACKUP_DEVICE = "backup codes"
# Pages a user who still owes a code may open; the enrolment page too for who must enrol.
WHILE_UNVERIFIED = {"login", "login_code", "logout", "set_language"}
WHILE_UNENROLLED = WHILE_UNVERIFIED | {"users:two_factor"}


def has_two_factor(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def two_factor_required(user: User) -> bool:
    """Whether the user's role must use two-factor sign-in (a superuser counts as admin)."""
    roles = set(settings.REGUA_REQUIRE_2FA_FOR)
    return user.role in roles or (user.is_superuser and Role.ADMIN in roles)


def pending_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()


def enrolment_start(*, user: User) -> TOTPDevice:
    """A fresh unconfirmed device (any earlier unconfirmed one is dropped)."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=APP_DEVICE, confirmed=False)


def enrolment_confirm(*, user: User, code: str) -> tuple[TOTPDevice, list[str]] | None:
    """Confirm the pending device with a code from the app; its backup codes with it."""
    device = pending_device(user)
    if device is None or not device.verify_token(_digits(code)):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = backup_codes_renew(user=user)
    return device, codes


def backup_codes_renew(*, user: User) -> list[str]:
    """Ten new single-use codes; the old ones stop working. Shown once, never again."""
    with transaction.atomic():
        device, _created = StaticDevice.objects.get_or_create(
            user=user, name=BACKUP_DEVICE, defaults={"confirmed": True}
        )
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def code_device(user: User, code: str) -> Device | None:
    """The device that accepts `code`: the app's (six digits) or a backup code (used up).

    Each device is asked on its own, so its throttling applies (django-otp doubles the
    wait after each wrong code)."""
    code = _digits(code)
    app = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if app is not None and code.isdigit() and len(code) == app.digits and app.verify_token(code):
        return app
    backup = StaticDevice.objects.filter(user=user, confirmed=True).first()
    if backup is not None and len(code) > app_digits(app) and backup.verify_token(code.lower()):
        return backup
    return None


def app_digits(app: TOTPDevice | None) -> int:
    return app.digits if app is not None else 6


def backup_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def two_factor_disable(*, user: User, code: str) -> bool:
    """Turn two-factor sign-in off, if `code` proves the user still holds a device."""
    if code_device(user, code) is None:
        return False
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
    return True


def qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// address as an inline SVG QR code (no image request)."""
    return str(segno.make(device.config_url, error="m").svg_inline(scale=5, border=2))


def secret_text(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for typing into an app by hand."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _digits(code: str) -> str:
    return code.strip().replace(" ", "")


class TwoFactorMiddleware:
    """Keeps a signed-in user who owes a code (or an enrolment) to the pages for it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not user.is_verified():  # type: ignore[union-attr,attr-defined]
            held = self._gate(request, user)  # type: ignore[arg-type]
            if held is not None:
                return held
        return self.get_response(request)

    def _gate(self, request: HttpRequest, user: User) -> HttpResponse | None:
        if has_two_factor(user):
            open_pages, target = WHILE_UNVERIFIED, "login_code"
        elif two_factor_required(user):
            open_pages, target = WHILE_UNENROLLED, "users:two_factor"
        else:
            return None
        if _url_name(request) in open_pages:
            return None
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": "two-factor sign-in needed"}, status=401)
        query = urlencode({"next": request.get_full_path()}) if request.method == "GET" else ""
        return redirect(f"{reverse(target)}?{query}" if query else reverse(target))


def _url_name(request: HttpRequest) -> str:
    try:
        return resolve(request.path_info).view_name
    except Resolver404:
        return ""

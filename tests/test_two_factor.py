"""Two-factor sign-in with an authenticator app (TOTP; docs/security.md).

Codes are computed as the user's phone would, from the device's key at the frozen time
(django_otp.oath.totp), so every test checks the real arithmetic of the codes.
"""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from regua.users import twofactor
from regua.users.models import User

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
SETTINGS = "/settings/two-factor/"
HOME = "/contacts/"


@pytest.fixture(autouse=True)
def _no_limits(settings: Any) -> None:
    settings.REGUA_RATELIMIT_LOGIN_IP = ""
    settings.REGUA_RATELIMIT_LOGIN_USER = ""
    settings.REGUA_REQUIRE_2FA_FOR = []


def code_for(device: TOTPDevice, at: datetime) -> str:
    """The six digits the authenticator app shows at `at`."""
    with time_machine.travel(at, tick=False):
        return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def english(client: Client) -> Client:
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def enrolled(user: User, at: datetime = T0) -> tuple[TOTPDevice, list[str]]:
    device = twofactor.enrolment_start(user=user)
    with time_machine.travel(at, tick=False):
        done = twofactor.enrolment_confirm(user=user, code=code_for(device, at))
    assert done is not None
    return done


def sign_in(user_email: str, password: str, next_page: str = "") -> tuple[Client, Any]:
    client = english(Client())
    data = {"username": user_email, "password": password, "next": next_page}
    return client, client.post(reverse("login"), data)


# Enrolment -------------------------------------------------------------------------------


def test_a_user_enrols_with_the_qr_code_and_a_first_code(alice: User, client_for: Any) -> None:
    client = english(client_for(alice))
    with time_machine.travel(T0, tick=False):
        # given the settings page, off
        assert "Set up two-factor sign-in" in client.get(SETTINGS).content.decode()
        # when she starts: a QR code (inline SVG) and the key to type by hand
        page = client.post(SETTINGS, {"action": "start"}).content.decode()
        device = TOTPDevice.objects.get(user=alice)
        assert not device.confirmed
        assert re.search(r'<div class="qr" data-testid="qr"><svg [^>]*class="segno"', page)
        secret = re.search(r'data-testid="secret">([A-Z2-7 ]+)<', page).group(1)
        assert secret.replace(" ", "") == twofactor.secret_text(device).replace(" ", "")
        # and confirms with the code her app shows
        done = client.post(SETTINGS, {"action": "confirm", "code": code_for(device, T0)})
        # then it is on, and ten backup codes are shown once
        page = done.content.decode()
        assert "Two-factor sign-in is on" in page
        codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", page)
        assert len(codes) == 10
        device.refresh_from_db()
        assert device.confirmed
        tokens = StaticToken.objects.filter(device__user=alice).values_list("token", flat=True)
        assert set(tokens) == set(codes)
        # the session that enrolled goes on without a code; reloading shows no codes again
        assert client.get(HOME).status_code == 200
        assert not re.findall(r"<li><code>", client.get(SETTINGS).content.decode())


def test_a_wrong_first_code_leaves_two_factor_off(alice: User, client_for: Any) -> None:
    client = english(client_for(alice))
    with time_machine.travel(T0, tick=False):
        client.post(SETTINGS, {"action": "start"})
        device = TOTPDevice.objects.get(user=alice)
        wrong = f"{(int(code_for(device, T0)) + 1) % 1_000_000:06d}"
        page = client.post(SETTINGS, {"action": "confirm", "code": wrong}).content.decode()
    assert "This code is not valid" in page
    assert not TOTPDevice.objects.filter(user=alice, confirmed=True).exists()


# Signing in ------------------------------------------------------------------------------


def test_signing_in_asks_for_the_code_after_the_password(alice: User) -> None:
    device, _codes = enrolled(alice)
    later = T0 + timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        # given the right password
        client, response = sign_in("alice@example.com", "pw-alice-123", "/agenda/")
        # then the code is asked, with the page she wanted kept
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login_code"))
        code_page = response["Location"]
        # and nothing else opens meanwhile
        held = client.get(HOME)
        assert held.status_code == 302 and held["Location"].startswith(reverse("login_code"))
        assert client.get("/api/contacts").status_code == 401
        # when she gives the code her app shows
        done = client.post(code_page, {"code": code_for(device, later), "next": "/agenda/"})
        # then she is in, on the page she wanted
        assert done.status_code == 302 and done["Location"] == "/agenda/"
        assert client.get(HOME).status_code == 200


def test_a_code_is_refused_when_wrong_and_used_only_once(alice: User) -> None:
    device, _codes = enrolled(alice)
    at = T0 + timedelta(minutes=5)
    with time_machine.travel(at, tick=False):
        client, _response = sign_in("alice@example.com", "pw-alice-123")
        code = code_for(device, at)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        page = client.post(reverse("login_code"), {"code": wrong}).content.decode()
        assert "This code is not valid" in page
    # (django-otp makes her wait a second after a wrong code)
    with time_machine.travel(at + timedelta(seconds=2), tick=False):
        assert client.post(reverse("login_code"), {"code": code}).status_code == 302
        # the same code again, in another session: refused (no replay)
        other, _response = sign_in("alice@example.com", "pw-alice-123")
    with time_machine.travel(at + timedelta(seconds=4), tick=False):
        again = other.post(reverse("login_code"), {"code": code})
    assert again.status_code == 200 and "This code is not valid" in again.content.decode()


def test_a_backup_code_signs_in_once(alice: User) -> None:
    _device, codes = enrolled(alice)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        client, _response = sign_in("alice@example.com", "pw-alice-123")
        assert client.post(reverse("login_code"), {"code": codes[0].upper()}).status_code == 302
        assert client.get(HOME).status_code == 200
        other, _response = sign_in("alice@example.com", "pw-alice-123")
        assert other.post(reverse("login_code"), {"code": codes[0]}).status_code == 200
    assert twofactor.backup_codes_left(alice) == 9


def test_five_wrong_codes_end_the_session(alice: User) -> None:
    device, _codes = enrolled(alice)
    client, _response = sign_in("alice@example.com", "pw-alice-123")
    code = int(code_for(device, T0 + timedelta(hours=2)))
    for n in range(5):
        # each attempt after django-otp's growing wait (1, 2, 4, 8 s)
        with time_machine.travel(T0 + timedelta(hours=2, seconds=20 * n), tick=False):
            response = client.post(reverse("login_code"), {"code": f"{(code + 7) % 10**6:06d}"})
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert "_auth_user_id" not in client.session


def test_a_session_that_gave_no_code_reaches_nothing_else(alice: User) -> None:
    # However the session was made (here without the login page), a user with a device
    # must give a code before any page, the admin site's included.
    alice.is_staff = alice.is_superuser = True
    alice.save(update_fields=["is_staff", "is_superuser"])
    enrolled(alice)
    client = english(Client())
    client.force_login(alice)
    for page in (reverse("admin:index"), HOME, SETTINGS):
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"].startswith(reverse("login_code")), page
    assert client.get(reverse("login_code")).status_code == 200


def test_api_keys_need_no_code(alice: User, manager: User, api: Client) -> None:
    enrolled(manager)
    assert api.get("/api/contacts").status_code == 200


# Turning it off, new backup codes --------------------------------------------------------


def test_turning_it_off_needs_a_code(alice: User, client_for: Any) -> None:
    device, _codes = enrolled(alice)
    client = english(client_for(alice))
    at = T0 + timedelta(minutes=10)
    with time_machine.travel(at, tick=False):
        client.post(reverse("login_code"), {"code": code_for(device, at)})
        refused = client.post(SETTINGS, {"action": "disable", "code": "000000"})
        assert "This code is not valid" in refused.content.decode()
        assert twofactor.has_two_factor(alice)
    with time_machine.travel(at + timedelta(minutes=1), tick=False):
        code = code_for(device, at + timedelta(minutes=1))
        done = client.post(SETTINGS, {"action": "disable", "code": code})
    assert done.status_code == 302
    assert not twofactor.has_two_factor(alice)
    assert not StaticToken.objects.filter(device__user=alice).exists()
    # and signing in asks for no code any more
    _client, response = sign_in("alice@example.com", "pw-alice-123")
    assert response["Location"] == HOME


def test_new_backup_codes_replace_the_old_ones(alice: User, client_for: Any) -> None:
    device, old = enrolled(alice)
    client = english(client_for(alice))
    at = T0 + timedelta(minutes=10)
    with time_machine.travel(at, tick=False):
        client.post(reverse("login_code"), {"code": code_for(device, at)})
    with time_machine.travel(at + timedelta(minutes=1), tick=False):
        page = client.post(
            SETTINGS, {"action": "backup", "code": code_for(device, at + timedelta(minutes=1))}
        ).content.decode()
    new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", page)
    assert len(new) == 10 and not set(new) & set(old)
    assert twofactor.code_device(alice, old[1]) is None


# Required for some roles -----------------------------------------------------------------


def test_a_required_role_must_enrol_before_anything_else(
    settings: Any, manager: User, alice: User, client_for: Any
) -> None:
    settings.REGUA_REQUIRE_2FA_FOR = ["manager"]
    client = english(client_for(manager))
    # a manager without a device is sent to enrol, from any page
    held = client.get("/agenda/")
    assert held.status_code == 302 and held["Location"].startswith(SETTINGS)
    page = client.get(SETTINGS).content.decode()
    assert "Your role must use two-factor sign-in" in page
    # an agent is not
    assert client_for(alice).get("/agenda/").status_code == 200
    # once enrolled, the manager goes on
    now = datetime.now(tz=UTC)
    with time_machine.travel(now, tick=False):
        client.post(SETTINGS, {"action": "start"})
        device = TOTPDevice.objects.get(user=manager)
        client.post(SETTINGS, {"action": "confirm", "code": code_for(device, now)})
        assert client.get("/agenda/").status_code == 200


def test_the_required_roles_setting_counts_superusers_as_admins(
    settings: Any, admin_user: User
) -> None:
    settings.REGUA_REQUIRE_2FA_FOR = ["admin"]
    admin_user.role = "agent"
    assert twofactor.two_factor_required(admin_user)
    settings.REGUA_REQUIRE_2FA_FOR = ["manager", "agent"]
    admin_user.role = "admin"
    assert not twofactor.two_factor_required(admin_user)

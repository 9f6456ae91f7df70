"""Account lockout after repeated failed sign-ins (django-axes; docs/security.md)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from regua.users.models import User

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 5, 4, 13, 0, tzinfo=UTC)
LOCKED_EN = "Too many failed sign-ins: this account is locked on this device"


@pytest.fixture(autouse=True)
def _lockout_settings(settings: Any) -> None:
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    settings.REGUA_RATELIMIT_LOGIN_IP = ""
    settings.REGUA_RATELIMIT_LOGIN_USER = ""


def browser(address: str = "192.0.2.10", language: str = "en") -> Client:
    return Client(REMOTE_ADDR=address, headers={"Accept-Language": language})


def sign_in(client: Client, password: str, email: str = "alice@example.com") -> Any:
    return client.post(reverse("login"), {"username": email, "password": password})


def signed_in(response: Any) -> bool:
    return "_auth_user_id" in response.client.session


def fail(client: Client, times: int, email: str = "alice@example.com") -> list[int]:
    """Wrong passwords; the statuses answered (the fifth failure already locks)."""
    statuses = []
    for _ in range(times):
        response = sign_in(client, "wrong password", email)
        assert not signed_in(response)
        statuses.append(response.status_code)
    return statuses


def test_five_failures_lock_the_account_on_that_device_even_with_the_right_password(
    alice: User,
) -> None:
    client = browser()
    with time_machine.travel(T0, tick=False):
        # given five wrong passwords for Alice from one address (any case of her e-mail)
        assert fail(client, 4) == [200] * 4
        assert fail(client, 1, "ALICE@Example.com ") == [429]
        # when the right one comes
        response = sign_in(client, "pw-alice-123")
    # then the login page says the account is locked, and nobody is signed in
    assert response.status_code == 429
    assert int(response["Retry-After"]) == 15 * 60
    page = response.content.decode()
    assert LOCKED_EN in page and "15 minutes" in page
    assert 'name="password"' in page  # the same page, its form still there
    assert not signed_in(response)
    attempt = AccessAttempt.objects.get()
    assert attempt.username == "alice@example.com" and attempt.failures_since_start >= 5


def test_the_lockout_is_per_address_and_device(alice: User, bob: User) -> None:
    with time_machine.travel(T0, tick=False):
        fail(browser("192.0.2.10"), 5)
        # Alice from another device, and Bob from the same one, still sign in
        assert signed_in(sign_in(browser("192.0.2.11"), "pw-alice-123"))
        assert signed_in(sign_in(browser("192.0.2.10"), "pw-bob-123", "bob@example.com"))


def test_the_lockout_ends_after_the_cool_off(alice: User) -> None:
    client = browser()
    with time_machine.travel(T0, tick=False):
        fail(client, 5)
        assert sign_in(client, "pw-alice-123").status_code == 429
    with time_machine.travel(T0 + timedelta(minutes=16), tick=False):
        assert signed_in(sign_in(client, "pw-alice-123"))


def test_a_success_starts_the_count_again(alice: User) -> None:
    client = browser()
    with time_machine.travel(T0, tick=False):
        fail(client, 4)
        assert signed_in(sign_in(client, "pw-alice-123"))
        fail(browser(), 4)
        assert signed_in(sign_in(browser(), "pw-alice-123"))


def test_an_admin_unlocks_an_account_in_the_admin_site(
    alice: User, admin_user: User, client_for: Any
) -> None:
    client = browser()
    with time_machine.travel(T0, tick=False):
        fail(client, 5)
        assert sign_in(client, "pw-alice-123").status_code == 429
        # when an admin deletes the attempt in Admin → Axes → Access attempts
        admin = client_for(admin_user)
        listing = admin.get(reverse("admin:axes_accessattempt_changelist"))
        assert listing.status_code == 200 and "alice@example.com" in listing.content.decode()
        attempt = AccessAttempt.objects.get()
        response = admin.post(
            reverse("admin:axes_accessattempt_changelist"),
            {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
        )
        assert response.status_code == 302
        # then Alice signs in at once
        assert signed_in(sign_in(client, "pw-alice-123"))


def test_the_admin_site_signs_in_through_the_login_page(alice: User) -> None:
    # so its sign-ins are rate limited and locked out like the others
    response = browser().get(reverse("admin:login"), {"next": "/admin/users/"})
    assert response.status_code == 302
    assert response["Location"] == reverse("login") + "?next=%2Fadmin%2Fusers%2F"
    elsewhere = browser().get(reverse("admin:login"), {"next": "https://phishing.example/"})
    assert elsewhere["Location"] == reverse("login") + "?next=%2Fadmin%2F"


def test_the_lockout_speaks_portuguese(alice: User) -> None:
    client = browser(language="pt-BR")
    with time_machine.travel(T0, tick=False):
        fail(client, 5)
        response = sign_in(client, "pw-alice-123")
    assert response.status_code == 429
    assert "esta conta está bloqueada neste dispositivo" in response.content.decode()


def test_the_test_clients_sign_in_without_a_request(alice: User) -> None:
    # Axes needs the request to count failures; signing in from code has none, and the
    # suite's clients (and a shell) must keep working.
    client = Client()
    assert client.login(email="alice@example.com", password="pw-alice-123")
    assert not Client().login(email="alice@example.com", password="wrong")
    forced = Client()
    forced.force_login(alice)
    assert forced.get(reverse("customers:contact_list")).status_code == 200

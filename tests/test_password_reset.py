"""Password reset by e-mail (docs/security.md)."""

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from regua.users.models import User

pytestmark = pytest.mark.django_db

SITE = "https://crm.loja.example"


@pytest.fixture(autouse=True)
def _mail(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.REGUA_SITE_URL = SITE
    settings.REGUA_BRAND_NAME = "Loja da Maria"


def ask(email: str, language: str = "en", host: str = "localhost") -> Any:
    client = Client(headers={"Accept-Language": language, "Host": host})
    return client.post(reverse("password_reset"), {"email": email})


def link_in(message: Any) -> str:
    found = re.search(
        rf"{re.escape(SITE)}(/accounts/password/reset/[^/\s]+/[^/\s]+/)", message.body
    )
    assert found, message.body
    return found.group(1)


def test_the_reset_link_sets_a_new_password_once(alice: User) -> None:
    # given Alice asks for a reset
    response = ask("Alice@Example.com")
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    # then one e-mail comes, from the app's address, with a link to the public site
    (message,) = mail.outbox
    assert message.to == ["alice@example.com"]
    assert "Loja da Maria" in message.subject
    assert "Hello, Alice." in message.body
    path = link_in(message)
    # when she follows it and chooses a new password
    browser = Client(headers={"Accept-Language": "en"})
    form = browser.get(path, follow=True)
    assert 'name="new_password1"' in form.content.decode()
    form_url = form.redirect_chain[-1][0]
    done = browser.post(
        form_url, {"new_password1": "Nova-senha-9z", "new_password2": "Nova-senha-9z"}
    )
    assert done.status_code == 302 and done["Location"] == reverse("password_reset_complete")
    # then the new password works, the old one not
    alice.refresh_from_db()
    assert alice.check_password("Nova-senha-9z") and not alice.check_password("pw-alice-123")
    # and the link is spent
    again = Client(headers={"Accept-Language": "en"}).get(path, follow=True)
    assert 'data-testid="invalid-link"' in again.content.decode()


def test_an_unknown_address_gets_the_same_answer_and_no_mail(alice: User) -> None:
    known, unknown = ask("alice@example.com"), ask("ninguem@example.com")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_no_mail_for_a_deactivated_account(alice: User) -> None:
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert ask("alice@example.com").status_code == 302
    assert mail.outbox == []


def test_the_link_points_to_the_site_whatever_host_the_request_named(
    settings: Any, alice: User
) -> None:
    settings.ALLOWED_HOSTS = ["localhost", "evil.example"]
    ask("alice@example.com", host="evil.example")
    assert "evil.example" not in mail.outbox[0].body
    assert link_in(mail.outbox[0])


def test_the_mail_speaks_the_language_of_the_page(alice: User) -> None:
    ask("alice@example.com", language="pt-BR")
    ask("alice@example.com", language="en")
    portuguese, english = mail.outbox
    assert portuguese.subject == "Sua nova senha para Loja da Maria"
    assert english.subject == "Your new password for Loja da Maria"
    assert "Olá, Alice." in portuguese.body


def test_the_pages_are_in_the_apps_style(alice: User) -> None:
    page = Client(headers={"Accept-Language": "en"}).get(reverse("password_reset")).content.decode()
    assert "regua/regua.css" in page and "Reset your password" in page
    login = Client(headers={"Accept-Language": "en"}).get(reverse("login")).content.decode()
    assert reverse("password_reset") in login

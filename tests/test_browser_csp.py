"""Headless Chromium opens the main pages under the Content-Security-Policy and fails on
any violation it reports (docs/security.md §Headers): an inline script or style, an
on*= handler, a resource from elsewhere. The behaviours that replaced inline handlers
(regua.js) are checked to still work."""

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import expect
from support.access_world import World, delivery_token, loyalty_token, world_build

CHROMIUM = "/usr/bin/chromium"  # the fixture browser_page is in conftest.py

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed"),
]

# Reports the violations Chromium does not always print (from a frame, say) as console
# errors too. An init script is injected by the browser, not by the page: CSP allows it.
REPORTER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("Content Security Policy violation: " + event.violatedDirective + " "
    + event.blockedURI + " at " + event.sourceFile + ":" + event.lineNumber);
});
"""


class Watched:
    """The page, with every CSP report and script error it produced, per address."""

    def __init__(self, page: Any, base: str) -> None:
        self.page, self.base = page, base
        self.problems: list[str] = []
        page.add_init_script(REPORTER)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"{page.url}: error {error}"))

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.problems.append(f"{self.page.url}: {message.text}")

    def visit(self, path: str) -> None:
        response = self.page.goto(f"{self.base}{path}")
        assert response is not None and response.status == 200, path
        self.page.wait_for_load_state("load")

    def sign_in(self, email: str, password: str = "pw") -> None:  # noqa: S107 (the world's)
        self.visit(reverse("login"))
        self.page.fill("#id_username", email)
        self.page.fill("#id_password", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{self.base}{reverse('customers:contact_list')}")


@pytest.fixture
def world(transactional_db: None, settings: Any) -> Iterator[World]:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    world = world_build()
    world.outbox.html = '<p style="color:#333">Olá, <a href="https://loja.example/">loja</a></p>'
    world.outbox.save(update_fields=["html"])
    yield world


def staff_pages(world: World) -> list[str]:
    return [
        reverse("customers:contact_list"),
        reverse("customers:contact_detail", args=[world.secret.pk]),
        reverse("customers:company_list"),
        reverse("customers:company_detail", args=[world.company.pk]),
        reverse("accounts:matrix"),
        reverse("accounts:plan", args=[world.company.pk]),
        reverse("agenda:today"),
        reverse("agenda:week"),
        reverse("agenda:month"),
        reverse("desk:queue"),
        reverse("desk:ticket", args=[world.ticket.pk]),
        reverse("analytics:dashboard"),
        reverse("analytics:nps"),
        reverse("loyalty:overview"),
        reverse("loyalty:contact", args=[world.secret.pk]),
        reverse("segments:list"),
        reverse("segments:edit", args=[world.segment.pk]),
        reverse("cadences:list"),
        reverse("cadences:detail", args=[world.cadence.key]),
        reverse("cadences:outbox"),
        reverse("cadences:outbox_message", args=[world.outbox.pk]),
        reverse("imports:list"),
        reverse("imports:detail", args=[world.job.pk]),
        reverse("users:api_keys"),
        reverse("users:two_factor"),
        reverse("ops:status"),
        "/api/docs",
    ]


def public_pages(world: World) -> list[str]:
    return [
        reverse("login"),
        reverse("password_reset"),
        reverse("cadences:survey", args=[delivery_token(world, "survey")]),
        reverse("cadences:unsubscribe", args=[delivery_token(world, "unsubscribe")]),
        reverse("loyalty:public_page", args=[loyalty_token(world)]),
        reverse("loyalty:referral_landing", args=[world.referral.code]),
        reverse("faq:index"),
        reverse("faq:article", args=[world.article.slug]),
        reverse("desk_public:contact"),
    ]


def test_the_back_office_pages_break_no_rule_of_the_policy(
    live_server: Any, browser_page: Any, world: World
) -> None:
    watched = Watched(browser_page, live_server.url)
    watched.sign_in(world.manager.email)
    for path in staff_pages(world):
        watched.visit(path)
    assert watched.problems == []


def test_the_public_pages_break_no_rule_of_the_policy(
    live_server: Any, browser_page: Any, world: World
) -> None:
    watched = Watched(browser_page, live_server.url)
    for path in public_pages(world):
        watched.visit(path)
    assert watched.problems == []


def test_the_admin_site_breaks_no_rule_of_the_policy(
    live_server: Any, browser_page: Any, world: World
) -> None:
    watched = Watched(browser_page, live_server.url)
    watched.sign_in(world.admin.email)
    for path in ["/admin/", "/admin/users/user/", f"/admin/users/user/{world.alice.pk}/change/"]:
        watched.visit(path)
    assert watched.problems == []


def test_the_behaviours_that_replaced_inline_handlers_still_work(
    live_server: Any, browser_page: Any, world: World
) -> None:
    watched = Watched(browser_page, live_server.url)
    page = watched.page
    watched.sign_in(world.manager.email)
    # the agenda's load bars take their width from data-width
    watched.visit(reverse("agenda:week"))
    bar = page.locator(".progress span[data-width]").first
    assert bar.evaluate("e => e.style.width") == bar.get_attribute("data-width") + "%"
    # the régua's ruler places its steps from data-left
    watched.visit(reverse("cadences:detail", args=[world.cadence.key]))
    step = page.locator(".ruler-step[data-left]").first
    left = step.evaluate("e => e.style.left")
    assert left.endswith("%") and float(left[:-1]) == float(step.get_attribute("data-left"))
    # deleting a segment asks first; saying no keeps it
    watched.visit(reverse("segments:edit", args=[world.segment.pk]))
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("form[data-confirm] button[type=submit]").click()
    assert page.url.endswith(reverse("segments:edit", args=[world.segment.pk]))
    # the language list changes the language as soon as one is chosen
    page.select_option("select[name=language]", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert watched.problems == []

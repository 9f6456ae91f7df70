"""One real session in headless Chromium: a manager installs the default réguas, fixes a
step of the onboarding, activates it and previews it; the ruler fits a phone."""

import re
import shutil

import pytest

from regua.cadences.models import Cadence, Step
from regua.users.models import User

CHROMIUM = "/usr/bin/chromium"  # the fixture browser_page is in conftest.py

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed"),
]
PHONE = {"width": 390, "height": 844}


def test_a_manager_fixes_a_step_activates_and_previews_the_onboarding(
    live_server, browser_page, transactional_db
) -> None:  # type: ignore[no-untyped-def]
    User.objects.create_user(
        "marta@loja.com.br", "senha-da-marta-1", first_name="Marta", role="manager"
    )
    page = browser_page
    url = live_server.url
    # given a manager signed in on the réguas page
    page.goto(f"{url}/reguas/")
    page.fill("#id_username", "marta@loja.com.br")
    page.fill("#id_password", "senha-da-marta-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/reguas/")
    assert page.locator("h1").inner_text() == "Réguas"
    # when she installs the default réguas
    page.click("form[action='/reguas/defaults/'] button[type=submit]")
    page.wait_for_selector("a[href='/reguas/onboarding/']")
    assert Cadence.objects.count() == 12
    # and opens the onboarding: its ruler has five steps, in time order
    page.click("a[href='/reguas/onboarding/']")
    page.wait_for_url(f"{url}/reguas/onboarding/")
    assert "Onboarding SaaS" in page.locator("h1").inner_text()
    marks = page.locator(".ruler .ruler-step")
    assert marks.count() == 5
    names = [marks.nth(n).locator(".ruler-name").inner_text() for n in range(5)]
    assert names == [
        "Boas-vindas",
        "Checagem da experiência",
        "Ligação de alinhamento",
        "Pesquisa NPS",
        "Condição especial do 6º mês",
    ]
    lefts = [marks.nth(n).bounding_box()["x"] for n in range(5)]  # type: ignore[index]
    assert lefts == sorted(lefts)
    # and clicks the day-15 step
    marks.nth(1).click()
    page.wait_for_url(f"{url}/reguas/onboarding/steps/experience_check/")
    subject = page.locator("[name='pt-br_subject']")
    assert "como está sendo sua experiência" in subject.input_value()
    # and mistypes a variable in the subject: the error names the field and the line
    subject.fill("{{ contact.frist_name }}, como está sendo sua experiência?")
    page.click("form.stacked button.primary")
    error = page.locator(".errorlist").first
    error.wait_for()
    assert "message.pt-br.subject" in error.inner_text()
    assert "frist_name" in error.inner_text()
    assert re.search(r"\b1\b", error.inner_text())  # line 1
    assert "frist_name" not in Step.objects.get(key="experience_check").message["pt-br"]["subject"]
    # and fixes it and saves
    page.locator("[name='pt-br_subject']").fill("{{ contact.first_name }}, tudo certo por aí?")
    page.click("form.stacked button.primary")
    page.wait_for_url(f"{url}/reguas/onboarding/")
    saved = Step.objects.get(key="experience_check").message["pt-br"]["subject"]
    assert saved == "{{ contact.first_name }}, tudo certo por aí?"
    # and activates the régua
    page.click("button[name=status][value=active]")
    page.wait_for_selector("h1 .status-active")
    assert Cadence.objects.get(key="onboarding").status == "active"
    # and opens the preview of the next 30 days
    page.click("a[href='/reguas/onboarding/preview/']")
    page.wait_for_url(f"{url}/reguas/onboarding/preview/")
    assert page.locator("table tbody tr").count() == 30
    # then, on a phone, the ruler fits the screen: nothing scrolls sideways
    page.set_viewport_size(PHONE)
    page.goto(f"{url}/reguas/onboarding/")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    for n in range(5):
        box = marks.nth(n).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]

"""Headless Chromium on a phone-sized screen: a customer answers the NPS survey from the
e-mail's link, picks a score with a tap, writes why, and sees the thanks in Portuguese."""

import shutil

import pytest
from conftest import PHONE
from test_nps import survey_link  # noqa: F401  (a survey e-mail sent to a new contact)

from regua.events.models import Event

CHROMIUM = "/usr/bin/chromium"  # the fixture phone_page is in conftest.py

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed"),
]


def test_a_customer_answers_the_survey_on_a_phone(
    live_server,
    phone_page,
    survey_link,  # noqa: F811  (the fixture imported above)
    transactional_db,
) -> None:  # type: ignore[no-untyped-def]
    # given: Clara, who reads Portuguese, opens the survey link on her phone
    delivery, url = survey_link(
        first_name="Clara", last_name="Souza", email="clara@exemplo.com.br", language="pt-br"
    )
    clara = delivery.contact
    page = phone_page
    page.goto(f"{live_server.url}{url}")
    # then: the question in Portuguese, the scale's ends named, nothing wider than the screen
    assert page.locator("html").get_attribute("lang") == "pt-br"
    assert "Qual a probabilidade de você recomendar" in page.locator("h1").inner_text()
    assert page.get_by_text("Nada provável").is_visible()
    assert page.get_by_text("Extremamente provável").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # and every score is a button big enough for a thumb, inside the screen
    for n in range(11):
        box = page.locator(f".scores label:has(input[value='{n}']) span").bounding_box()
        assert box is not None
        assert box["height"] >= 44 and box["width"] >= 40, (n, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (n, box)
    # when: she taps 9, says why and sends
    page.locator(".scores label:has(input[value='9'])").tap()
    assert page.locator("input[name=score][value='9']").is_checked()
    page.fill("#comment", "Entrega rápida e atendimento muito atencioso.")
    page.locator("button[type=submit]").tap()
    # then: the thanks, in Portuguese
    page.get_by_text("Obrigado!").wait_for()
    assert "Sua resposta foi registrada" in page.locator("[role=status]").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # and one answer on her timeline, with the score and the comment
    (answer,) = Event.objects.filter(contact=clara, name="nps_answered")
    assert answer.properties["score"] == 9
    assert answer.properties["comment"] == "Entrega rápida e atendimento muito atencioso."
    # when: she follows "change my answer" and taps 10 instead
    page.locator("[data-testid=change-answer]").tap()
    page.locator("textarea#comment").wait_for()
    assert page.locator("input[name=score][value='9']").is_checked()
    assert page.locator("#comment").input_value().startswith("Entrega rápida")
    page.locator(".scores label:has(input[value='10'])").tap()
    page.locator("button[type=submit]").tap()
    page.locator("[role=status]").wait_for()
    # then: still one answer, now a 10
    (answer,) = Event.objects.filter(contact=clara, name="nps_answered")
    assert answer.properties["score"] == 10
    assert "edited_at" in answer.properties

"""Headless Chromium on a phone-sized screen: a customer answers the NPS survey from the
e-mail's link, picks a score with a tap, writes why, and sees the thanks in Portuguese."""

import os
import shutil
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from regua.cadences import tokens
from regua.cadences.models import Delivery, DeliveryStatus, Enrollment
from regua.cadences.yaml_io import cadence_import
from regua.customers.models import Contact
from regua.events.models import Event

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
PHONE = {"width": 375, "height": 740}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed"),
]

REGUA = """
key: pos-venda
name: Pós-venda
objective: loyalty
trigger: {kind: event, event: purchase}
steps:
  - key: nps
    name: Pesquisa NPS
    offset: 3mo
    channel: email
    message:
      pt-br: {subject: "Uma pergunta", body: "[Responder]({{ links.survey }})"}
"""


@pytest.fixture
def phone() -> Iterator[object]:
    """A touch screen 375 px wide, as conftest's browser_page launches Chromium."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    database = connections.settings["default"]
    max_age, database["CONN_MAX_AGE"] = database["CONN_MAX_AGE"], 0
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="pt-BR",
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    database["CONN_MAX_AGE"] = max_age


def survey_url(contact: Contact) -> str:
    cadence, _created = cadence_import(REGUA)
    step = cadence.steps.get(key="nps")
    sent = timezone.now() - timedelta(days=1)
    enrollment = Enrollment.objects.create(
        cadence=cadence, contact=contact, occurrence="compra-1", entered_at=sent
    )
    delivery = Delivery.objects.create(
        enrollment=enrollment,
        step=step,
        cadence=cadence,
        contact=contact,
        channel=step.channel,
        status=DeliveryStatus.SENT,
        due_at=sent,
        sent_at=sent,
    )
    return reverse("cadences:survey", args=[tokens.make("survey", delivery.pk)])


def test_a_customer_answers_the_survey_on_a_phone(live_server, phone, transactional_db) -> None:  # type: ignore[no-untyped-def]
    # given: Clara, who reads Portuguese, opens the survey link on her phone
    clara = Contact.objects.create(
        first_name="Clara", last_name="Souza", email="clara@exemplo.com.br", language="pt-br"
    )
    page = phone
    page.goto(f"{live_server.url}{survey_url(clara)}")
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

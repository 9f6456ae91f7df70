"""Headless Chromium: an analyst builds a segment with the rule builder, watches the live
count, saves it and makes it a régua's audience."""

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from regua.cadences.models import Cadence
from regua.cadences.yaml_io import cadence_import
from regua.commerce.models import Order
from regua.customers.models import Contact
from regua.segments.models import Segment
from regua.users.models import User

CHROMIUM = "/usr/bin/chromium"  # the fixture browser_page is in conftest.py
DEFAULTS = Path(__file__).parent.parent / "regua" / "cadences" / "defaults"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed"),
]


def test_an_analyst_builds_a_segment_and_uses_it_as_a_reguas_audience(
    live_server, browser_page, transactional_db
) -> None:  # type: ignore[no-untyped-def]
    # given: customers in two cities, some who bought recently
    User.objects.create_user("marta@loja.com.br", "senha-da-marta-1", role="manager")
    now = timezone.now()
    for n in range(6):
        contact = Contact.objects.create(
            email=f"c{n}@exemplo.com.br", city="Recife" if n < 4 else "Curitiba"
        )
        if n % 2 == 0:
            Order.objects.create(
                external_id=f"p{n}", contact=contact, ordered_at=now - timedelta(days=3), total=90
            )
    cadence, _created = cadence_import((DEFAULTS / "birthday.yaml").read_text("utf-8"))
    page = browser_page
    url = live_server.url
    page.goto(f"{url}/segments/new/")
    page.fill("#id_username", "marta@loja.com.br")
    page.fill("#id_password", "senha-da-marta-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/segments/new/")
    # when: she adds "city is Recife" and sees the count
    page.fill("#id_name", "Recife sem compra recente")
    page.get_by_role("button", name="+ condição").first.click()
    condition = page.locator(".condition").first
    condition.get_by_label("Valor").fill("Recife")
    # (Playwright's expect, not wait_for_function: the page's CSP forbids evaluating strings)
    expect(page.get_by_test_id("live-count")).to_have_text("4")
    # and adds "did not purchase in the last 30 days"
    page.get_by_role("button", name="+ condição").first.click()
    second = page.locator(".condition").nth(1)
    second.get_by_label("Campo").select_option(label="Comprou")
    second.get_by_label("Operador").select_option("not_within_days")
    second.get_by_label("dias").fill("30")
    expect(page.get_by_test_id("live-count")).to_have_text("2")
    page.click("#segment-form button[type=submit].primary")
    page.wait_for_selector(".messages")
    segment = Segment.objects.get(name="Recife sem compra recente")
    assert {c.email for c in segment.members()} == {"c1@exemplo.com.br", "c3@exemplo.com.br"}
    # then: the segment is offered as the birthday régua's audience
    page.goto(f"{url}/reguas/{cadence.key}/settings/")
    page.select_option("#id_audience_segment", "Recife sem compra recente")
    page.click("form.card button[type=submit].primary")
    page.wait_for_url(f"{url}/reguas/{cadence.key}/")
    cadence = Cadence.objects.get(pk=cadence.pk)
    assert cadence.audience[0] == {
        "field": "segment",
        "op": "in",
        "value": ["Recife sem compra recente"],
    }

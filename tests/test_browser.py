"""One real session in headless Chromium: sign in, search, open the dossier, add a note."""

import shutil

import pytest
from playwright.sync_api import expect

from regua.customers.models import Contact, Interaction
from regua.users.models import User

CHROMIUM = "/usr/bin/chromium"  # the fixture browser_page is in conftest.py

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed"),
]


def test_an_agent_finds_a_customer_and_notes_a_call(
    live_server, browser_page, transactional_db
) -> None:  # type: ignore[no-untyped-def]
    # given an agent and a few customers
    User.objects.create_user(
        "carla@loja.com.br", "senha-da-carla-1", first_name="Carla", role="agent"
    )
    clara = Contact.objects.create(
        first_name="Clara",
        last_name="Souza Lima",
        email="clara@gmail.com",
        city="Recife",
        state="PE",
        phone="+5581987654321",
    )
    for name in ("Bruno Alves", "Camila Rocha", "Diego Nunes"):
        first, last = name.split()
        Contact.objects.create(first_name=first, last_name=last, email=f"{first.lower()}@x.com")
    page = browser_page
    # when she signs in
    page.goto(f"{live_server.url}/contacts/")
    page.fill("#id_username", "carla@loja.com.br")
    page.fill("#id_password", "senha-da-carla-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/contacts/")
    assert page.locator("h1").inner_text() == "Contatos"
    # and types a surname in the search box (the list updates as she types)
    page.fill("input[name=q]", "souza")
    # (Playwright's expect, not wait_for_function: the page's CSP forbids evaluating strings)
    expect(page.locator("table.list tbody a")).to_have_count(1)
    # and opens the dossier
    page.click("table.list tbody a")
    page.wait_for_url(f"{live_server.url}/contacts/{clara.pk}/")
    assert "Clara Souza Lima" in page.locator("h1").inner_text()
    assert "+5581987654321" in page.content()
    # and logs a call
    page.select_option("select[name=kind]", "call")
    page.fill("input[name=subject]", "Retorno sobre a entrega")
    page.fill("textarea[name=body]", "Cliente confirmou o recebimento.")
    page.click("#activity button[type=submit]")
    page.wait_for_selector("text=Registrado na linha do tempo.")
    timeline = page.locator("[data-testid=timeline]").inner_text()
    # then the call is on the timeline, and stored as hers
    assert "Retorno sobre a entrega" in timeline
    note = Interaction.objects.get()
    assert (note.kind, note.author.email, note.contact_id) == (
        "call",
        "carla@loja.com.br",
        clara.pk,
    )

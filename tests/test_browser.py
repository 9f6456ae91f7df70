"""One real session in headless Chromium: sign in, search, open the dossier, add a note."""

import os
import shutil
from collections.abc import Iterator

import pytest

from regua.customers.models import Contact, Interaction
from regua.users.models import User

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed"),
]


@pytest.fixture
def browser_page() -> Iterator[object]:
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # The live server answers each request in a new thread: persistent connections would
    # outlive them and keep the test database busy at teardown.
    database = connections.settings["default"]
    max_age, database["CONN_MAX_AGE"] = database["CONN_MAX_AGE"], 0
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # around it are ordinary synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(locale="pt-BR")
        page.set_default_timeout(15_000)
        yield page
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    database["CONN_MAX_AGE"] = max_age


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
    page.wait_for_function("document.querySelectorAll('table.list tbody a').length === 1")
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

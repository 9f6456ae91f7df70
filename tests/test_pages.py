"""The pages: sign-in, contacts list, dossier, notes, companies — in both languages, with
the portfolio rule for owner, teammate and outsider."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from regua.commerce.models import Order
from regua.customers.models import Company, ContactRole, Interaction
from regua.events.models import Event
from regua.users.models import User

pytestmark = pytest.mark.django_db

PAGES = ["/contacts/", "/companies/", "/imports/", "/settings/api-keys/"]


@pytest.mark.parametrize("url", PAGES)
def test_an_outsider_is_sent_to_sign_in(url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_signing_in_with_e_mail_and_password(alice: User) -> None:
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "alice@example.com", "password": "pw-alice-123"}
    )
    assert response.status_code == 302
    assert client.get("/contacts/").status_code == 200
    assert (
        Client()
        .post("/accounts/login/", {"username": "alice@example.com", "password": "x"})
        .status_code
        == 200
    )


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("pt-br", ["Contatos", "Empresas", "Importações", "Buscar"]),
        ("en", ["Contacts", "Companies", "Imports", "Search"]),
    ],
)
def test_pages_render_in_portuguese_and_english(
    client_for, alice: User, make_contact, language: str, words: list[str]
) -> None:  # type: ignore[no-untyped-def]
    contact = make_contact(first_name="Clara", last_name="Souza")
    client = client_for(alice)
    client.post("/i18n/setlang/", {"language": language, "next": "/contacts/"})
    listing = client.get("/contacts/").content.decode()
    for word in words:
        assert word in listing
    dossier = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert ("Linha do tempo" if language == "pt-br" else "Timeline") in dossier
    for url in PAGES[1:]:
        assert client.get(url).status_code == 200


def test_the_list_searches_filters_and_pages(client_for, alice: User, make_contact) -> None:  # type: ignore[no-untyped-def]
    for i in range(60):
        make_contact(first_name="Ana" if i % 2 else "Bruno", city="Natal")
    make_contact(first_name="Clara", last_name="Souza Lima", email="clara.lima@example.com")
    client = client_for(alice)
    page = client.get("/contacts/").content.decode()
    assert page.count('href="/contacts/') >= 50
    assert "cursor=" in page  # a next page
    found = client.get("/contacts/?q=souza").content.decode()
    assert "clara.lima@example.com" in found
    assert "clara.lima@example.com" in client.get("/contacts/?q=clara.li").content.decode()
    partial = client.get("/contacts/?q=lima", headers={"HX-Request": "true"})
    assert "<html" not in partial.content.decode()
    assert "clara.lima@example.com" in partial.content.decode()
    by_name = client.get("/contacts/?sort=name&city=Natal").content.decode()
    assert by_name.index("Ana") < by_name.index("Bruno")


def test_the_dossier_shows_profile_consent_orders_and_one_timeline(
    client_for, alice: User, make_contact
) -> None:  # type: ignore[no-untyped-def]
    contact = make_contact(first_name="Clara", phone="+5511987654321", city="Natal", state="RN")
    now = timezone.now()
    Order.objects.create(
        contact=contact, external_id="P-77", ordered_at=now - timedelta(days=2), total="149.90"
    )
    Event.objects.create(
        contact=contact,
        name="product_viewed",
        occurred_at=now - timedelta(days=3),
        properties={"sku": "PERF-001"},
        fingerprint=1,
    )
    Interaction.objects.create(
        contact=contact, kind="call", subject="Boas-vindas", occurred_at=now - timedelta(days=1)
    )
    company = Company.objects.create(name="Padaria Pão Dourado")
    ContactRole.objects.create(contact=contact, company=company, role="decision_maker")
    page = client_for(alice).get(f"/contacts/{contact.pk}/").content.decode()
    assert "+5511987654321" in page and "Padaria Pão Dourado" in page
    timeline = page.split('data-testid="timeline"')[1]
    assert timeline.index("Boas-vindas") < timeline.index("P-77") < timeline.index("PERF-001")


def test_adding_a_note_puts_it_on_the_timeline(client_for, alice: User, make_contact) -> None:  # type: ignore[no-untyped-def]
    contact = make_contact()
    client = client_for(alice)
    response = client.post(
        f"/contacts/{contact.pk}/interactions/",
        {"kind": "call", "subject": "Ligação de retorno", "body": "Pediu desconto."},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "Ligação de retorno" in response.content.decode()
    interaction = Interaction.objects.get()
    assert (interaction.author, interaction.kind, interaction.contact) == (alice, "call", contact)
    empty = client.post(
        f"/contacts/{contact.pk}/interactions/", {"kind": "note"}, headers={"HX-Request": "true"}
    )
    assert empty.status_code == 422
    assert Interaction.objects.count() == 1


def test_the_note_form_speaks_the_readers_language_and_keeps_a_refused_notes_text(
    client_for, alice: User, make_contact
) -> None:  # type: ignore[no-untyped-def]
    contact, other = make_contact(), make_contact()
    client = client_for(alice)
    # when: one dossier is read in English, another in Portuguese
    english = client.get(f"/contacts/{contact.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    portuguese = client.get(f"/contacts/{other.pk}/", HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    # then: each shows the note form in its reader's language
    assert "Duration (minutes)" in english and "Duração (minutos)" not in english
    assert "Duração (minutos)" in portuguese and "Duration (minutes)" not in portuguese
    # when: a note dated in the future is refused
    refused = client.post(
        f"/contacts/{contact.pk}/interactions/",
        {"kind": "call", "subject": "Retorno amanhã", "occurred_at": "2099-01-01T10:00"},
        headers={"HX-Request": "true"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    # then: the form comes back with what was typed, the reason, and the kind chosen
    html = refused.content.decode()
    assert refused.status_code == 422
    assert 'value="Retorno amanhã"' in html
    assert "This is in the future" in html
    assert '<option value="call" selected>' in html
    # and the next blank form is blank again
    blank = client.get(f"/contacts/{contact.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Retorno amanhã" not in blank and '<option value="note" selected>' in blank


def test_the_timeline_pages_through_all_sources_in_order(
    client_for, alice: User, make_contact
) -> None:  # type: ignore[no-untyped-def]
    contact = make_contact()
    base = timezone.now() - timedelta(days=100)
    for i in range(30):
        Event.objects.create(
            contact=contact, name="login", occurred_at=base + timedelta(hours=3 * i), fingerprint=i
        )
        Interaction.objects.create(
            contact=contact,
            kind="note",
            subject=f"nota {i}",
            occurred_at=base + timedelta(hours=3 * i + 1),
        )
    from regua.customers.selectors import contact_timeline

    seen, cursor = [], ""
    while True:
        page = contact_timeline(contact, cursor=cursor, size=7)
        seen.extend(page.items)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert len(seen) == 60
    assert [e.at for e in seen] == sorted((e.at for e in seen), reverse=True)
    more = client_for(alice).get(
        f"/contacts/{contact.pk}/timeline/?cursor={contact_timeline(contact).next_cursor}"
    )
    assert more.status_code == 200 and "nota" in more.content.decode()


def test_private_portfolios_hide_other_agents_contacts_everywhere(
    settings, client_for, alice: User, bob: User, manager: User, make_contact
) -> None:  # type: ignore[no-untyped-def]
    settings.PORTFOLIO_VISIBILITY = "own"
    mine = make_contact(owner=alice, email="mine@x.com")
    theirs = make_contact(owner=bob, email="theirs@x.com")
    owner, teammate = client_for(alice), client_for(bob)
    listing = owner.get("/contacts/").content.decode()
    assert "mine@x.com" in listing and "theirs@x.com" not in listing
    assert "theirs@x.com" not in owner.get("/contacts/?q=theirs").content.decode()
    assert owner.get(f"/contacts/{mine.pk}/").status_code == 200
    assert owner.get(f"/contacts/{theirs.pk}/").status_code == 404
    assert owner.get(f"/contacts/{theirs.pk}/timeline/").status_code == 404
    assert (
        owner.post(
            f"/contacts/{theirs.pk}/interactions/", {"kind": "note", "body": "x"}
        ).status_code
        == 404
    )
    assert teammate.get(f"/contacts/{mine.pk}/").status_code == 404
    # managers see the whole base
    assert client_for(manager).get(f"/contacts/{theirs.pk}/").status_code == 200
    settings.PORTFOLIO_VISIBILITY = "all"
    assert teammate.get(f"/contacts/{mine.pk}/").status_code == 200


def test_companies_list_and_power_map(client_for, alice: User, make_contact) -> None:  # type: ignore[no-untyped-def]
    company = Company.objects.create(name="Clínica Sorriso", profitability="high")
    ContactRole.objects.create(
        contact=make_contact(first_name="Dra. Paula"), company=company, role="decision_maker"
    )
    client = client_for(alice)
    assert "Clínica Sorriso" in client.get("/companies/?q=clin").content.decode()
    page = client.get(f"/companies/{company.pk}/").content.decode()
    assert "Dra. Paula" in page


def test_api_keys_are_shown_once_and_can_be_revoked(client_for, alice: User) -> None:  # type: ignore[no-untyped-def]
    client = client_for(alice)
    page = client.post("/settings/api-keys/", {"name": "Loja"}).content.decode()
    token = page.split('data-testid="new-token">')[1].split("<")[0]
    assert token.startswith("rg_")
    assert token not in client.get("/settings/api-keys/").content.decode()
    api = Client(headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/contacts").status_code == 200
    key_id = alice.api_keys.get().pk
    client.post(f"/settings/api-keys/{key_id}/revoke/")
    assert api.get("/api/contacts").status_code == 401

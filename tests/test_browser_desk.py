"""Headless Chromium: an agent answers a complaint with the apology template."""

import shutil

import pytest
from django.core import mail
from django.utils import timezone

from regua.customers.models import Contact
from regua.desk import defaults
from regua.desk.mail import replies_send
from regua.desk.models import (
    BusinessCalendar,
    Message,
    MessageKind,
    ReplyTemplate,
    SlaPolicy,
    Ticket,
    TicketStatus,
)
from regua.desk.services import ticket_open
from regua.users.models import User

CHROMIUM = "/usr/bin/chromium"  # the fixture browser_page is in conftest.py

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed"),
]


def test_an_agent_answers_a_complaint_with_the_apology_template(
    live_server, browser_page, transactional_db
) -> None:  # type: ignore[no-untyped-def]
    # given: the shipped SLA and apology (an earlier transactional test may have emptied
    # the tables the migration filled), Lia's complaint about order 10482, and an agent
    if not SlaPolicy.objects.exists():
        calendar = BusinessCalendar.objects.create(name="Loja", hours=defaults.CALENDAR["hours"])
        SlaPolicy.objects.create(name="Padrão", calendar=calendar, first_response_minutes=600)
    name, kind, _apology, body_pt, body_en = defaults.TEMPLATES[0]
    apology, _created = ReplyTemplate.objects.get_or_create(
        name=name,
        defaults={"kind": kind, "is_apology": True, "body_pt": body_pt, "body_en": body_en},
    )
    User.objects.create_user("beatriz@loja.com.br", "senha-da-bia-1", first_name="Beatriz")
    lia = Contact.objects.create(first_name="Lia", last_name="Campos", email="lia@exemplo.com.br")
    ticket = ticket_open(
        contact=lia,
        subject="Pedido chegou com defeito",
        body="A cafeteira chegou com a tampa quebrada.",
        kind="complaint",
        order_ref="10482",
    )
    page = browser_page
    url = live_server.url
    page.goto(f"{url}/desk/")
    page.fill("#id_username", "beatriz@loja.com.br")
    page.fill("#id_password", "senha-da-bia-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/desk/")
    # when: she opens the ticket from the queue and starts from the apology template
    page.locator(f"tr[data-ticket='{ticket.pk}'] a").first.click()
    page.wait_for_url(f"{url}/desk/{ticket.pk}/")
    page.select_option("#template-select", value=str(apology.pk))
    page.locator("[data-testid=template-picker] button").click()
    page.locator("[data-testid=apology-guidance]").wait_for()
    draft = page.input_value("#id_body")
    assert draft.startswith("Olá, Lia,") and "pedido 10482" in draft
    # then: sending it with the template's [brackets] still in asks her to look again
    page.locator("[data-testid=reply-form] button[type=submit]").click()
    page.locator("[data-testid=reply-warnings]").wait_for()
    assert not Message.objects.filter(kind=MessageKind.REPLY).exists()
    # when: she writes each step in her own words and resolves the ticket
    page.fill(
        "#id_body",
        "Olá, Lia,\n\nPeço desculpas, sinceramente, pela cafeteira que chegou quebrada.\n\n"
        "Imagino a frustração de abrir a caixa e encontrar a tampa partida.\n\n"
        "O que aconteceu: a embalagem não tinha a proteção de isopor.\n\n"
        "O erro foi nosso: despachamos sem conferir a embalagem.\n\n"
        "O que vamos fazer: uma nova cafeteira sai amanhã, sem custo, e agora toda "
        "embalagem é conferida antes do envio.\n\nBeatriz",
    )
    page.select_option("#id_status", "resolved")
    page.locator("[data-testid=reply-form] button[type=submit]").click()
    page.wait_for_url(f"{url}/desk/{ticket.pk}/")
    page.locator("[data-testid=conversation] .message-reply").wait_for()
    # then: the ticket is resolved, answered inside the SLA, and the e-mail goes out
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED
    assert ticket.first_response_met is True
    assert replies_send(now=timezone.now()) == (1, 0)
    sent = mail.outbox[-1]
    assert sent.to == ["lia@exemplo.com.br"] and "tampa partida" in sent.body
    assert "/support/rating/" in sent.body
    assert Ticket.objects.count() == 1

"""Headless Chromium: an account manager completes a call and sets the next date, drags
a task to another day of the week, and a manager hands a portfolio over."""

import shutil
from datetime import date, timedelta

import pytest
from django.utils import timezone

from regua.agenda.models import Move, Task, TaskStatus
from regua.customers.models import Company, Contact
from regua.users.models import User

CHROMIUM = "/usr/bin/chromium"  # the fixture browser_page is in conftest.py

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM), reason="Debian's chromium is not installed"),
]


def _login(page, url: str, email: str, password: str, then: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}{then}")
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}{then}")


def test_an_account_manager_completes_a_call_and_sets_the_next_date(
    live_server, browser_page, transactional_db
) -> None:  # type: ignore[no-untyped-def]
    # given: a call due today with Clara
    clara_owner = User.objects.create_user("joana@loja.com.br", "senha-da-joana-1")
    clara = Contact.objects.create(
        first_name="Clara", last_name="Souza", phone="+5581999990000", owner=clara_owner
    )
    call = Task.objects.create(
        kind="call",
        title="Ligar para a Clara",
        contact=clara,
        owner=clara_owner,
        due_on=timezone.localdate(),
    )
    page = browser_page
    url = live_server.url
    _login(page, url, "joana@loja.com.br", "senha-da-joana-1", "/agenda/")
    # when: she opens the task's completion from today's list and says how it went
    page.locator(f"tr[data-task='{call.pk}'] a.button").click()
    page.fill("#id_outcome", "Clara gostou da proposta e pediu uma reunião")
    page.locator("[data-testid=complete-form] button[type=submit]").click()
    # then: without a next date (or a reason) the call cannot end
    page.locator("[data-testid=complete-form] .errorlist").first.wait_for()
    assert Task.objects.get(pk=call.pk).status == TaskStatus.OPEN
    # when: she sets the next contact date
    next_day = timezone.localdate() + timedelta(days=5)
    page.fill("#id_next_on", next_day.isoformat())
    page.select_option("#id_next_kind", "meeting")
    page.locator("[data-testid=complete-form] button[type=submit]").click()
    page.wait_for_url(f"{url}/agenda/")
    # then: the call is done and the meeting is on the agenda
    assert Task.objects.get(pk=call.pk).status == TaskStatus.DONE
    follow_up = Task.objects.get(follows=call)
    assert (follow_up.due_on, follow_up.kind, follow_up.owner) == (next_day, "meeting", clara_owner)
    assert page.locator(".messages li").first.is_visible()


def test_an_account_manager_drags_a_task_to_another_day(
    live_server, browser_page, transactional_db
) -> None:  # type: ignore[no-untyped-def]
    # given: two tasks on this week's Monday
    joana = User.objects.create_user("joana@loja.com.br", "senha-da-joana-1")
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    moved = Task.objects.create(kind="call", title="Ligar para o Pedro", owner=joana, due_on=monday)
    Task.objects.create(kind="visit", title="Visitar a loja", owner=joana, due_on=monday)
    page = browser_page
    url = live_server.url
    _login(page, url, "joana@loja.com.br", "senha-da-joana-1", "/agenda/week/")
    thursday: date = monday + timedelta(days=3)
    target = f"section[data-day='{thursday.isoformat()}']"
    # when: she drags the call onto Thursday
    page.drag_and_drop(f"li[data-task='{moved.pk}']", target)
    # then: the week reloads with the call on Thursday, and the counts follow
    page.wait_for_selector(f"{target} li[data-task='{moved.pk}']")
    assert Task.objects.get(pk=moved.pk).due_on == thursday
    monday_count = page.locator(f"section[data-day='{monday.isoformat()}'] [data-testid=count]")
    assert monday_count.inner_text().startswith("1 ")


def test_a_manager_hands_over_a_portfolio(live_server, browser_page, transactional_db) -> None:  # type: ignore[no-untyped-def]
    # given: Joana's portfolio; Marta manages the team; Rafael will take it over
    User.objects.create_user("marta@loja.com.br", "senha-da-marta-1", role="manager")
    joana = User.objects.create_user("joana@loja.com.br", "x", first_name="Joana")
    rafael = User.objects.create_user("rafael@loja.com.br", "x", first_name="Rafael")
    contacts = [Contact.objects.create(first_name=f"Cliente {n}", owner=joana) for n in range(5)]
    company = Company.objects.create(name="Mercadinho Boa Vista", owner=joana)
    Task.objects.create(
        kind="call", title="Ligar", owner=joana, contact=contacts[0], due_on=timezone.localdate()
    )
    page = browser_page
    url = live_server.url
    _login(page, url, "marta@loja.com.br", "senha-da-marta-1", "/agenda/handover/")
    # when
    form = page.locator("[data-testid=handover-form]")
    form.locator("#id_from_user").select_option(str(joana.pk))
    form.locator("#id_to_user").select_option(str(rafael.pk))
    form.locator("#id_scope").select_option("portfolio")
    form.locator("button[type=submit]").click()
    # then
    page.wait_for_selector(".messages li")
    assert Contact.objects.filter(owner=rafael).count() == 5
    assert Company.objects.get(pk=company.pk).owner == rafael
    assert Task.objects.get(contact=contacts[0]).owner == rafael
    assert Move.objects.count() == 5 + 1 + 1
    assert "Rafael" in page.locator("table").inner_text()

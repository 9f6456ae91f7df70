"""The account manager's agenda: tasks, follow-ups, the day/week/month/team pages, the feed."""

from collections.abc import Callable
from datetime import date, time, timedelta
from typing import Any

import icalendar
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from regua.agenda.feed import feed_for, feed_url
from regua.agenda.models import Task, TaskKind, TaskSource, TaskStatus
from regua.agenda.services import AgendaError, NextContact, task_complete, task_create
from regua.customers.models import Contact, Interaction
from regua.users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def today() -> date:
    return timezone.localdate()


@pytest.fixture
def make_task(alice: User, today: date) -> Callable[..., Task]:
    def make(**fields: Any) -> Task:
        fields.setdefault("owner", alice)
        fields.setdefault("kind", TaskKind.CALL)
        fields.setdefault("title", "Ligar para o cliente")
        fields.setdefault("due_on", today)
        return Task.objects.create(**fields)

    return make


def test_completing_a_call_needs_an_outcome_and_the_next_date_or_a_reason(
    alice: User, make_contact: Callable[..., Contact], make_task: Callable[..., Task], today: date
) -> None:
    # given
    contact = make_contact(owner=alice)
    call = make_task(contact=contact)
    # when / then: nothing said, nothing next → refused, and the task stays open
    with pytest.raises(AgendaError) as missing_outcome:
        task_complete(task=call, by=alice, outcome="")
    assert missing_outcome.value.field == "outcome"
    with pytest.raises(AgendaError) as missing_next:
        task_complete(task=call, by=alice, outcome="Gostou da proposta")
    assert missing_next.value.field == "next_on"
    call.refresh_from_db()
    assert call.status == TaskStatus.OPEN
    # when: the outcome and the next date
    follow_up = task_complete(
        task=call,
        by=alice,
        outcome="Gostou da proposta; pediu retorno",
        next_contact=NextContact(today + timedelta(days=7), time(10, 30), TaskKind.MEETING),
    )
    # then
    call.refresh_from_db()
    assert call.status == TaskStatus.DONE and call.outcome.startswith("Gostou")
    assert follow_up is not None and follow_up.follows_id == call.pk
    assert follow_up.due_on == today + timedelta(days=7) and follow_up.due_time == time(10, 30)
    assert follow_up.kind == TaskKind.MEETING and follow_up.owner == alice
    assert follow_up.contact == contact and follow_up.source == TaskSource.FOLLOW_UP
    logged = Interaction.objects.get(contact=contact)
    assert logged.kind == "call" and logged.outcome.startswith("Gostou")


def test_a_call_can_end_the_follow_ups_only_with_a_reason(
    alice: User, make_task: Callable[..., Task]
) -> None:
    call = make_task()
    assert task_complete(task=call, by=alice, outcome="Fechou", no_follow_up_reason="won") is None
    call.refresh_from_db()
    assert call.status == TaskStatus.DONE and call.no_follow_up_reason == "won"
    with pytest.raises(AgendaError):
        task_complete(task=call, by=alice, outcome="again", no_follow_up_reason="won")


def test_an_email_task_completes_without_a_next_date(
    alice: User, make_task: Callable[..., Task]
) -> None:
    task = make_task(kind=TaskKind.EMAIL)
    assert task_complete(task=task, by=alice, outcome="") is None
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE


def test_the_next_date_cannot_be_in_the_past(
    alice: User, make_task: Callable[..., Task], today: date
) -> None:
    with pytest.raises(AgendaError) as error:
        task_complete(
            task=make_task(),
            by=alice,
            outcome="ok",
            next_contact=NextContact(today - timedelta(days=1)),
        )
    assert error.value.field == "next_on"


def test_the_complete_page_asks_for_the_next_date_and_creates_the_next_task(
    alice: User,
    client_for: Callable[[User], Client],
    make_contact: Callable[..., Contact],
    make_task: Callable[..., Task],
    today: date,
) -> None:
    call = make_task(contact=make_contact(owner=alice))
    client = client_for(alice)
    url = reverse("agenda:task_complete", args=[call.pk])
    refused = client.post(url, {"outcome": "Atendeu, vai pensar"})
    assert refused.status_code == 422
    assert "next_on" in refused.context["form"].errors
    next_day = (today + timedelta(days=3)).isoformat()
    done = client.post(url, {"outcome": "Atendeu, vai pensar", "next_on": next_day})
    assert done.status_code == 302
    follow_up = Task.objects.get(follows=call)
    assert follow_up.due_on.isoformat() == next_day and follow_up.status == TaskStatus.OPEN


def test_the_today_page_lists_overdue_first_with_count_and_time(
    alice: User,
    bob: User,
    client_for: Callable[[User], Client],
    make_task: Callable[..., Task],
    today: date,
) -> None:
    make_task(title="Atrasada", due_on=today - timedelta(days=2))
    make_task(title="De hoje", kind=TaskKind.MEETING, due_time=time(9))
    make_task(title="Amanhã", due_on=today + timedelta(days=1))
    make_task(title="Concluída", status=TaskStatus.DONE)
    make_task(title="Do Bob", owner=bob)
    page = client_for(alice).get(reverse("agenda:today"))
    html = page.content.decode()
    assert html.index("Atrasada") < html.index("De hoje")
    assert "Amanhã" not in html and "Concluída" not in html and "Do Bob" not in html
    assert page.context["count"] == 2
    assert page.context["minutes"] == 15 + 60  # a call and a meeting


def test_the_week_view_shows_each_days_load_and_marks_an_overloaded_day(
    alice: User,
    client_for: Callable[[User], Client],
    make_task: Callable[..., Task],
    today: date,
    settings: Any,
) -> None:
    settings.REGUA_AGENDA_DAY_MINUTES = 100
    monday = today - timedelta(days=today.weekday())
    for _ in range(2):
        make_task(kind=TaskKind.MEETING, due_on=monday)  # 120 min > 100
    make_task(due_on=monday + timedelta(days=1))
    page = client_for(alice).get(reverse("agenda:week"), {"start": monday.isoformat()})
    days = page.context["days"]
    assert [d.count for d in days[:3]] == [2, 1, 0]
    assert days[0].overloaded and not days[1].overloaded
    assert 'class="day overloaded' in page.content.decode()


def test_the_month_view_counts_tasks_per_day(
    alice: User, client_for: Callable[[User], Client], make_task: Callable[..., Task]
) -> None:
    make_task(due_on=date(2026, 12, 3))
    make_task(due_on=date(2026, 12, 3), kind=TaskKind.VISIT)
    make_task(due_on=date(2027, 1, 3))
    page = client_for(alice).get(reverse("agenda:month"), {"month": "2026-12"})
    loads = {load.day: load for week in page.context["weeks"] for load in week if load}
    assert len(loads) == 31
    assert loads[date(2026, 12, 3)].count == 2 and loads[date(2026, 12, 3)].minutes == 105
    assert sum(load.count for load in loads.values()) == 2


def test_a_task_moves_to_another_day_by_its_date_picker(
    alice: User, client_for: Callable[[User], Client], make_task: Callable[..., Task], today: date
) -> None:
    task = make_task()
    target = today + timedelta(days=4)
    response = client_for(alice).post(
        reverse("agenda:task_reschedule", args=[task.pk]), {"due_on": target.isoformat()}
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.due_on == target


def test_a_selection_moves_to_a_day_or_a_colleague_and_each_move_is_recorded(
    alice: User,
    bob: User,
    client_for: Callable[[User], Client],
    make_task: Callable[..., Task],
    today: date,
) -> None:
    first, second, closed = make_task(), make_task(), make_task(status=TaskStatus.DONE)
    client = client_for(alice)
    url = reverse("agenda:tasks_bulk")
    target = today + timedelta(days=2)
    client.post(url, {"action": "reschedule", "task": [first.pk, second.pk], "due_on": target})
    assert set(Task.objects.filter(due_on=target).values_list("id", flat=True)) == {
        first.pk,
        second.pk,
    }
    client.post(url, {"action": "reassign", "task": [first.pk, closed.pk], "to_user": bob.pk})
    first.refresh_from_db()
    closed.refresh_from_db()
    assert first.owner == bob and closed.owner == alice  # a closed task stays where it was
    from regua.agenda.models import Move

    move = Move.objects.get(kind="task", object_id=first.pk)
    assert (move.from_user, move.to_user, move.moved_by) == (alice, bob, alice)


def test_an_agent_with_a_private_portfolio_sees_and_moves_only_own_tasks(
    alice: User,
    bob: User,
    manager: User,
    client_for: Callable[[User], Client],
    make_task: Callable[..., Task],
    today: date,
    settings: Any,
) -> None:
    settings.PORTFOLIO_VISIBILITY = "own"
    bobs = make_task(owner=bob, title="Tarefa do Bob")
    client = client_for(alice)
    assert client.get(reverse("agenda:task_edit", args=[bobs.pk])).status_code == 404
    assert client.get(reverse("agenda:today"), {"user": bob.pk}).status_code == 403
    assert client.get(reverse("agenda:team")).status_code == 403
    client.post(
        reverse("agenda:tasks_bulk"),
        {"action": "reschedule", "task": [bobs.pk], "due_on": today + timedelta(days=9)},
    )
    bobs.refresh_from_db()
    assert bobs.due_on == today  # the forged selection moved nothing
    # a manager sees the team and Bob's agenda
    boss = client_for(manager)
    assert boss.get(reverse("agenda:team")).status_code == 200
    assert "Tarefa do Bob" in boss.get(reverse("agenda:today"), {"user": bob.pk}).content.decode()


def test_the_team_view_shows_each_persons_load(
    alice: User,
    bob: User,
    manager: User,
    client_for: Callable[[User], Client],
    make_task: Callable[..., Task],
    today: date,
) -> None:
    make_task(due_on=today - timedelta(days=1))
    make_task(owner=bob)
    make_task(owner=bob)
    rows = {
        row.user: row for row in client_for(manager).get(reverse("agenda:team")).context["rows"]
    }
    assert (rows[alice].overdue, rows[alice].today) == (1, 0)
    assert (rows[bob].overdue, rows[bob].today) == (0, 2)


def test_a_new_task_from_the_dossier_goes_to_the_contacts_owner(
    alice: User,
    manager: User,
    client_for: Callable[[User], Client],
    make_contact: Callable[..., Contact],
    today: date,
) -> None:
    contact = make_contact(owner=alice)
    client = client_for(manager)
    url = reverse("agenda:task_new") + f"?contact={contact.pk}"
    form = client.get(url)
    assert form.context["form"].initial["owner"] == alice.pk
    client.post(url, {"kind": "call", "owner": alice.pk, "due_on": today, "priority": 2})
    task = Task.objects.get(contact=contact)
    assert task.owner == alice and task.title.endswith(str(contact))
    assert task.created_by == manager and task.source == TaskSource.MANUAL


def test_task_create_refuses_a_task_about_nothing(alice: User, today: date) -> None:
    with pytest.raises(AgendaError):
        task_create(created_by=alice, owner=alice, kind="other", title=" ", due_on=today)


def test_the_calendar_feed_is_private_signed_and_revocable(
    alice: User,
    client_for: Callable[[User], Client],
    make_contact: Callable[..., Contact],
    make_task: Callable[..., Task],
    today: date,
) -> None:
    make_task(title="Reunião de alinhamento", kind=TaskKind.MEETING, due_time=time(14))
    make_task(title="Ligar sem hora", contact=make_contact(phone="+5511999990000"))
    make_task(title="Já feita", status=TaskStatus.DONE)
    url = feed_url(feed_for(alice))
    path = url.split("://", 1)[1].split("/", 1)[1]
    anonymous = Client()
    response = anonymous.get("/" + path)
    assert response["Content-Type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    events = {str(e["summary"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {"Reunião de alinhamento", "Ligar sem hora"}
    meeting = events["Reunião de alinhamento"]
    assert meeting.decoded("dtstart").hour == 14
    assert meeting.decoded("dtend") - meeting.decoded("dtstart") == timedelta(minutes=60)
    assert events["Ligar sem hora"].decoded("dtstart") == today
    # tampered → 404; a new link revokes the old one
    assert anonymous.get("/" + path.replace(".ics", "x.ics")).status_code == 404
    client_for(alice).post(reverse("agenda:calendar"))
    assert anonymous.get("/" + path).status_code == 404


def test_regua_tasks_and_plain_tasks_share_the_agenda(
    alice: User, client_for: Callable[[User], Client], make_task: Callable[..., Task]
) -> None:
    make_task(title="Chamada de alinhamento (dia 40)", source=TaskSource.REGUA)
    html = client_for(alice).get(reverse("agenda:today"), HTTP_ACCEPT_LANGUAGE="en").content
    assert "Chamada de alinhamento (dia 40)" in html.decode() and b"R\xc3\xa9gua step" in html


def test_the_dossier_shows_open_tasks_upcoming_regua_steps_and_nps(
    alice: User,
    client_for: Callable[[User], Client],
    make_contact: Callable[..., Contact],
    make_task: Callable[..., Task],
) -> None:
    from pathlib import Path

    from regua.cadences.models import Enrollment
    from regua.cadences.yaml_io import cadence_import
    from regua.events.models import Event

    # given: a contact in the onboarding régua, with a call planned and an NPS answer
    contact = make_contact(owner=alice)
    make_task(contact=contact, title="Ligar para alinhar a reunião")
    defaults = Path(__file__).parent.parent / "regua" / "cadences" / "defaults"
    onboarding, _ = cadence_import((defaults / "onboarding.yaml").read_text("utf-8"))
    onboarding.status = "active"
    onboarding.save()
    Enrollment.objects.create(
        cadence=onboarding, contact=contact, occurrence="signup", entered_at=timezone.now()
    )
    Event.objects.create(
        contact=contact,
        name="nps_answered",
        occurred_at=timezone.now(),
        properties={"score": 4, "category": "detractor"},
        fingerprint=1,
    )
    # and a company where she decides and a colleague of hers influences
    from regua.customers.models import Company, ContactRole

    company = Company.objects.create(
        name="Distribuidora Sol", profitability="high", purchase_potential="high"
    )
    ContactRole.objects.create(contact=contact, company=company, role="decision_maker")
    colleague = make_contact(first_name="Renata", last_name="Lima")
    ContactRole.objects.create(contact=colleague, company=company, role="influencer")
    # when
    page = client_for(alice).get(reverse("customers:contact_detail", args=[contact.pk]))
    # then
    html = page.content.decode()
    assert "Ligar para alinhar a reunião" in html
    upcoming = page.context["upcoming"]
    assert upcoming and all(item.step.cadence == onboarding for item in upcoming)
    assert [item.due_at for item in upcoming] == sorted(item.due_at for item in upcoming)
    assert upcoming[0].step.name in html
    assert page.context["nps"]["category"] == "detractor"
    assert 'data-testid="power-map"' in html and "Renata Lima" in html
    assert "Distribuidora Sol" in html
    assert 'data-testid="loyalty"' in html and page.context["loyalty"]["referral_code"] in html


def test_tasks_nobody_owns_are_shown_to_managers_to_be_given_to_someone(
    alice: User,
    manager: User,
    client_for: Callable[[User], Client],
    make_contact: Callable[..., Contact],
    today: date,
    settings: Any,
) -> None:
    # given a régua's call for a contact without an owner
    settings.PORTFOLIO_VISIBILITY = "own"
    orphan = Task.objects.create(
        kind="call",
        title="Ligação de alinhamento (dia 40)",
        owner=None,
        due_on=today,
        contact=make_contact(),
        source=TaskSource.REGUA,
    )
    boss = client_for(manager)
    # the team view says so, and the unowned agenda lists it
    assert boss.get(reverse("agenda:team")).context["unowned"] == 1
    page = boss.get(reverse("agenda:today"), {"user": "none"})
    assert [task.pk for task in page.context["todays"]] == [orphan.pk]
    # the manager gives it to Alice from the selection
    boss.post(
        reverse("agenda:tasks_bulk"),
        {"action": "reassign", "task": [orphan.pk], "to_user": alice.pk},
    )
    orphan.refresh_from_db()
    assert orphan.owner == alice
    # an agent with a private portfolio cannot list the unowned tasks
    assert client_for(alice).get(reverse("agenda:today"), {"user": "none"}).status_code == 403

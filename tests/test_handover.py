"""Hand-over: a task, a selection, a portfolio, an absence and its return."""

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from regua.agenda import services
from regua.agenda.models import HandOver, Move, Task, TaskKind, TaskStatus
from regua.agenda.services import (
    AgendaError,
    NextContact,
    agenda_tick,
    handover_create,
    task_complete,
)
from regua.customers.models import Company, Contact
from regua.users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def today() -> date:
    return timezone.localdate()


def _task(owner: User, due_on: date, **fields: Any) -> Task:
    fields.setdefault("kind", TaskKind.CALL)
    return Task.objects.create(owner=owner, due_on=due_on, title="Ligar", **fields)


def _absence(away: User, stand_in: User, by: User, first: date, last: date) -> HandOver:
    return handover_create(
        from_user=away, to_user=stand_in, scope="tasks", starts_on=first, ends_on=last, by=by
    )


def test_a_portfolio_changes_hands_with_its_contacts_companies_and_open_tasks(
    alice: User, bob: User, manager: User, make_contact: Callable[..., Contact], today: date
) -> None:
    # given: Alice's portfolio, and one contact of Bob's
    mine = [make_contact(owner=alice) for _ in range(3)]
    bobs_contact = make_contact(owner=bob)
    company = Company.objects.create(name="Padaria Pão Quente", owner=alice)
    open_task = _task(alice, today, contact=mine[0])
    done_task = _task(alice, today, status=TaskStatus.DONE)
    # when
    handover = handover_create(from_user=alice, to_user=bob, scope="portfolio", by=manager)
    # then
    assert (handover.contacts_moved, handover.companies_moved, handover.tasks_moved) == (3, 1, 1)
    assert Contact.objects.filter(owner=bob).count() == 4
    assert not Contact.objects.filter(owner=alice).exists()
    company.refresh_from_db()
    open_task.refresh_from_db()
    done_task.refresh_from_db()
    assert company.owner == bob and open_task.owner == bob and done_task.owner == alice
    moves = Move.objects.filter(handover=handover)
    assert moves.count() == 5
    assert {(m.kind, m.from_user_id, m.to_user_id, m.moved_by_id) for m in moves} == {
        ("contact", alice.pk, bob.pk, manager.pk),
        ("company", alice.pk, bob.pk, manager.pk),
        ("task", alice.pk, bob.pk, manager.pk),
    }
    assert not Move.objects.filter(object_id=bobs_contact.pk, kind="contact").exists()


def test_a_portfolio_hand_over_is_all_or_nothing(
    alice: User,
    bob: User,
    manager: User,
    make_contact: Callable[..., Contact],
    today: date,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for _ in range(3):
        make_contact(owner=alice)
    Company.objects.create(name="Oficina do Zé", owner=alice)
    _task(alice, today)
    real = services._owners_change

    def failing(kind: str, *args: Any, **kwargs: Any) -> int:
        if kind == "company":  # the last step: tasks and contacts have moved by now
            raise RuntimeError("disk full")
        return real(kind, *args, **kwargs)

    monkeypatch.setattr(services, "_owners_change", failing)
    with pytest.raises(RuntimeError):
        handover_create(from_user=alice, to_user=bob, scope="portfolio", by=manager)
    assert Contact.objects.filter(owner=alice).count() == 3
    assert Task.objects.filter(owner=alice).count() == 1
    assert not HandOver.objects.exists() and not Move.objects.exists()


def test_an_absence_sends_the_tasks_due_in_it_to_the_stand_in_and_brings_them_back(
    alice: User, bob: User, manager: User, today: date
) -> None:
    # given: Alice is away from tomorrow for a week
    start, end = today + timedelta(days=1), today + timedelta(days=7)
    before = _task(alice, today)
    during = _task(alice, start + timedelta(days=2))
    completed_by_bob = _task(alice, start)
    passed_on = _task(alice, end)
    after = _task(alice, end + timedelta(days=1))
    # when
    absence = handover_create(
        from_user=alice, to_user=bob, scope="tasks", starts_on=start, ends_on=end, by=manager
    )
    # then: only the tasks due in the period went to Bob
    assert absence.tasks_moved == 3
    owners = dict(Task.objects.values_list("id", "owner_id"))
    assert owners[before.pk] == alice.pk and owners[after.pk] == alice.pk
    assert owners[during.pk] == bob.pk
    # while away: a task lands in the period for Alice (a régua call): the tick routes it
    late = _task(alice, start + timedelta(days=3), kind=TaskKind.MEETING)
    assert agenda_tick(now=timezone.now())["absence_moved"] == 1
    late.refresh_from_db()
    assert late.owner == bob
    # Bob completes one and passes another on to the manager
    within = task_complete(
        task=completed_by_bob, by=bob, outcome="ok", next_contact=NextContact(end)
    )
    assert within is not None and within.owner == bob  # due in the absence: Bob's for now
    after_call = _task(alice, start + timedelta(days=1))
    agenda_tick(now=timezone.now())  # routed to Bob
    after = task_complete(
        task=Task.objects.get(pk=after_call.pk),
        by=bob,
        outcome="ok",
        next_contact=NextContact(end + timedelta(days=3)),
    )
    assert after is not None and after.owner == alice  # due after it: straight to Alice
    from regua.agenda.services import tasks_reassign

    tasks_reassign(tasks=Task.objects.filter(pk=passed_on.pk), to_user=manager, by=bob)
    # after the period: the open ones Bob still holds go back to Alice
    after_end = timezone.now() + timedelta(days=9)
    assert agenda_tick(now=after_end)["returned"] == 3
    owners = dict(Task.objects.values_list("id", "owner_id"))
    assert owners[during.pk] == alice.pk and owners[late.pk] == alice.pk
    assert owners[passed_on.pk] == manager.pk
    assert Task.objects.get(pk=completed_by_bob.pk).status == TaskStatus.DONE
    # the follow-up Bob agreed within the absence came back with the rest, once
    assert owners[within.pk] == alice.pk
    absence.refresh_from_db()
    assert absence.returned_at is not None
    assert Move.objects.filter(handover=absence, is_return=True).count() == 3
    assert agenda_tick(now=after_end) == {"absence_moved": 0, "returned": 0}


def test_an_absence_can_be_ended_early_from_the_page(
    alice: User, bob: User, manager: User, client_for: Callable[[User], Client], today: date
) -> None:
    task = _task(alice, today + timedelta(days=1))
    absence = _absence(alice, bob, manager, today, today + timedelta(days=5))
    task.refresh_from_db()
    assert task.owner == bob
    client_for(alice).post(reverse("agenda:handover_return", args=[absence.pk]))
    task.refresh_from_db()
    assert task.owner == alice


def test_a_hand_over_refuses_nonsense(alice: User, bob: User, manager: User, today: date) -> None:
    with pytest.raises(AgendaError) as same:
        handover_create(from_user=alice, to_user=alice, scope="tasks", by=manager)
    assert same.value.field == "to_user"
    with pytest.raises(AgendaError) as backwards:
        handover_create(
            from_user=alice,
            to_user=bob,
            scope="tasks",
            starts_on=today + timedelta(days=3),
            ends_on=today + timedelta(days=1),
            by=manager,
        )
    assert backwards.value.field == "ends_on"
    with pytest.raises(AgendaError) as portfolio_absence:
        handover_create(
            from_user=alice,
            to_user=bob,
            scope="portfolio",
            starts_on=today,
            ends_on=today + timedelta(days=1),
            by=manager,
        )
    assert portfolio_absence.value.field == "scope"


def test_an_agent_hands_over_only_their_own_tasks(
    alice: User,
    bob: User,
    client_for: Callable[[User], Client],
    make_contact: Callable[..., Contact],
    today: date,
) -> None:
    bobs_task = _task(bob, today)
    contact = make_contact(owner=bob)
    client = client_for(alice)
    response = client.post(
        reverse("agenda:handover"),
        {"from_user": bob.pk, "to_user": alice.pk, "scope": "portfolio"},
    )
    assert response.status_code == 200  # the form refused it
    assert "from_user" in response.context["form"].errors
    bobs_task.refresh_from_db()
    contact.refresh_from_db()
    assert bobs_task.owner == bob and contact.owner == bob
    # her own tasks, for good: allowed
    mine = _task(alice, today)
    client.post(
        reverse("agenda:handover"), {"from_user": alice.pk, "to_user": bob.pk, "scope": "tasks"}
    )
    mine.refresh_from_db()
    assert mine.owner == bob


def test_a_manager_hands_over_a_portfolio_from_the_page(
    alice: User,
    bob: User,
    manager: User,
    client_for: Callable[[User], Client],
    make_contact: Callable[..., Contact],
    today: date,
) -> None:
    contact = make_contact(owner=alice)
    _task(alice, today, contact=contact)
    response = client_for(manager).post(
        reverse("agenda:handover"),
        {"from_user": alice.pk, "to_user": bob.pk, "scope": "portfolio", "note": "Férias"},
        follow=True,
    )
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.owner == bob
    assert "Férias" in response.content.decode()


def test_an_absence_that_has_begun_also_takes_the_overdue_tasks(
    alice: User, bob: User, manager: User, today: date
) -> None:
    overdue = _task(alice, today - timedelta(days=3))
    _absence(alice, bob, manager, today, today + timedelta(days=2))
    overdue.refresh_from_db()
    assert overdue.owner == bob


def test_nothing_goes_back_to_a_user_who_has_left(
    alice: User, bob: User, manager: User, today: date
) -> None:
    task = _task(alice, today + timedelta(days=1))
    _absence(alice, bob, manager, today, today + timedelta(days=2))
    alice.is_active = False
    alice.save()
    assert agenda_tick(now=timezone.now() + timedelta(days=5))["returned"] == 0
    task.refresh_from_db()
    assert task.owner == bob


def test_changing_a_tasks_owner_on_its_page_is_a_recorded_move_and_agents_cannot(
    alice: User,
    bob: User,
    manager: User,
    client_for: Callable[[User], Client],
    today: date,
    settings: Any,
) -> None:
    settings.PORTFOLIO_VISIBILITY = "own"
    task = _task(alice, today)
    form = {"kind": "call", "title": "Ligar", "due_on": today.isoformat(), "priority": 2}
    # an agent cannot give her task away from its page
    refused = client_for(alice).post(
        reverse("agenda:task_edit", args=[task.pk]), {**form, "owner": bob.pk}
    )
    assert refused.status_code == 200 and "owner" in refused.context["form"].errors
    task.refresh_from_db()
    assert task.owner == alice
    # a manager can, and the move is recorded
    client_for(manager).post(reverse("agenda:task_edit", args=[task.pk]), {**form, "owner": bob.pk})
    task.refresh_from_db()
    assert task.owner == bob
    move = Move.objects.get(kind="task", object_id=task.pk)
    assert (move.from_user, move.to_user, move.moved_by) == (alice, bob, manager)


def test_a_deleted_users_contacts_and_tasks_are_left_without_owner(
    alice: User, make_contact: Callable[..., Contact], today: date
) -> None:
    # The owner columns have no foreign-key constraint in PostgreSQL (a hand-over would
    # check every moved row at commit); Django keeps the rule instead.
    contact = make_contact(owner=alice)
    task = _task(alice, today, contact=contact)
    alice.delete()
    contact.refresh_from_db()
    task.refresh_from_db()
    assert contact.owner_id is None and task.owner_id is None


def test_a_task_follows_at_most_one_and_a_delivery_makes_at_most_one_task(
    alice: User, today: date
) -> None:
    from django.db import IntegrityError, transaction

    first = _task(alice, today)
    _task(alice, today, follows=first)
    # many tasks follow nothing and come from no delivery
    _task(alice, today)
    _task(alice, today)
    with pytest.raises(IntegrityError), transaction.atomic():
        _task(alice, today, follows=first)
    assert Task.objects.filter(follows=first).count() == 1

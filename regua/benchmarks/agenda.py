"""Issue 5's figures: the agenda pages of a busy user and a portfolio hand-over.

On the configured database (the bench base, whose contacts are reused):
1. a user with 10,000 open tasks (200 overdue, the rest over the next six months, a
   dozen today): server time of the today page, the week and the month view, rendered
   in-process through Django's test client (no network), median and p95 of `runs`;
2. a user owning 50,000 contacts, 2,000 companies and 100,000 open tasks: the portfolio
   hand-over to a colleague and back, each one transaction, median of `handovers` runs.
"""

import random
import statistics
import time
from datetime import date, timedelta
from datetime import time as clock
from typing import Any

from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from regua.agenda.models import HandOver, Move, Task, TaskStatus
from regua.agenda.services import handover_create
from regua.customers.models import Company, Contact
from regua.users.models import Role, User

BUSY_TASKS = 10_000
PORTFOLIO_CONTACTS = 50_000
PORTFOLIO_COMPANIES = 2_000
PORTFOLIO_TASKS = 100_000
KINDS = ["call", "call", "call", "meeting", "email", "visit", "other"]


def _user(email: str, role: str = Role.AGENT) -> User:
    user = User.objects.filter(email=email).first()
    return user or User.objects.create_user(email, "bench-pw-123", role=role, first_name="Bench")


def _tasks(owner: User, count: int, today: date, contact_ids: list[int], seed: int) -> None:
    rng = random.Random(seed)
    now = timezone.now()
    rows = []
    for n in range(count):
        if n < 200:
            due = today - timedelta(days=rng.randint(1, 30))
        elif n < 212:
            due = today
        else:
            due = today + timedelta(days=rng.randint(1, 180))
        rows.append(
            Task(
                owner=owner,
                kind=rng.choice(KINDS),
                title=f"Acompanhamento {n}",
                contact_id=contact_ids[n % len(contact_ids)] if contact_ids else None,
                due_on=due,
                due_time=clock(rng.randint(8, 17), 0) if rng.random() < 0.3 else None,
                priority=rng.choice([1, 2, 2, 3]),
                source="manual",
                created_at=now,
                updated_at=now,
            )
        )
    for start in range(0, len(rows), 5_000):
        Task.objects.bulk_create(rows[start : start + 5_000])


def _prepare(today: date) -> tuple[User, User, User]:
    busy = _user("bench-agenda-busy@example.com")
    owner = _user("bench-agenda-owner@example.com")
    stand_in = _user("bench-agenda-standin@example.com")
    users = [busy.pk, owner.pk, stand_in.pk]
    Move.objects.filter(to_user_id__in=users).delete()
    HandOver.objects.filter(from_user_id__in=users).delete()
    Task.objects.filter(owner_id__in=users).delete()
    contact_ids = list(
        Contact.objects.order_by("id").values_list("id", flat=True)[:PORTFOLIO_CONTACTS]
    )
    with transaction.atomic():
        Contact.objects.filter(owner_id__in=users).update(owner=None)
        Contact.objects.filter(id__in=contact_ids).update(owner=owner)
        Company.objects.filter(owner_id__in=users).update(owner=None)
        company_ids = list(
            Company.objects.order_by("id").values_list("id", flat=True)[:PORTFOLIO_COMPANIES]
        )
        Company.objects.filter(id__in=company_ids).update(owner=owner)
        _tasks(busy, BUSY_TASKS, today, contact_ids[:5_000], seed=1)
        _tasks(owner, PORTFOLIO_TASKS, today, contact_ids, seed=2)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE agenda_task")
            cursor.execute("ANALYZE customers_contact")
    return busy, owner, stand_in


def _page_times(client: Client, path: str, runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs + 2):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    times = sorted(times[2:])  # two warm-up requests
    return {
        "median_ms": statistics.median(times),
        "p95_ms": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
    }


def agenda(runs: int = 20, handovers: int = 3) -> dict[str, Any]:
    today = timezone.localdate()
    busy, owner, stand_in = _prepare(today)
    client = Client(SERVER_NAME="localhost")
    client.force_login(busy)
    figures: dict[str, Any] = {
        "open_tasks_of_user": Task.objects.filter(owner=busy, status=TaskStatus.OPEN).count(),
        "tasks_in_table": Task.objects.count(),
        "contacts_in_table": Contact.objects.count(),
    }
    for name, path in (
        ("today", "/agenda/"),
        ("week", "/agenda/week/"),
        ("month", "/agenda/month/"),
    ):
        figures[name] = _page_times(client, path, runs)
    manager = _user("bench-agenda-manager@example.com", Role.MANAGER)
    seconds = []
    moved: dict[str, int] = {}
    giver, taker = owner, stand_in
    for _ in range(handovers):
        started = time.perf_counter()
        done = handover_create(from_user=giver, to_user=taker, scope="portfolio", by=manager)
        seconds.append(time.perf_counter() - started)
        moved = {
            "contacts": done.contacts_moved,
            "companies": done.companies_moved,
            "tasks": done.tasks_moved,
        }
        giver, taker = taker, giver
    figures["handover"] = {"median_s": statistics.median(seconds), "runs_s": seconds, **moved}
    return figures

"""Issue 6's figures: the ticket queue at 1M tickets, and SLA due times per ticket.

On the configured database (the bench base, whose contacts are reused):
1. 1,000,000 tickets over two years (most closed; about 80,000 still to answer, some
   waiting, some breached), written once and kept between runs;
2. server time of the queue (the default "to answer" view, its second page, one agent's
   tickets, complaints only, breached only, a search by number) and of a ticket page,
   rendered in-process through Django's test client, median and p95 of `runs`;
3. the SLA due times of a new ticket (first response, resolution, warning) over the
   shipped calendar with Brazil's holidays, per ticket, for 10,000 random opening
   instants; beside it, the same due time found by walking minute by minute (the
   obvious implementation, and the tests' reference), as the baseline;
4. opening a ticket end to end (policy, clocks, ticket, message, timeline), median.
"""

import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from regua.customers.models import Contact
from regua.desk import sla
from regua.desk.models import Message, MessageKind, SlaPolicy, Ticket
from regua.desk.services import ticket_open
from regua.lib.bulk import created_as_given
from regua.lib.business_time import Calendar, business_add, is_open
from regua.users.models import Role, User

TICKETS = 1_000_000
BATCH = 5_000
MARK = "[bench]"


def _user(email: str, role: str = Role.AGENT) -> User:
    user = User.objects.filter(email=email).first()
    return user or User.objects.create_user(email, "bench-pw-123", role=role, first_name="Bench")


def _fill(policy: SlaPolicy, team: list[User], total: int, seed: int = 6) -> int:
    """Tickets up to `total` with the bench mark; returns how many exist."""
    have = Ticket.objects.filter(subject__startswith=MARK).count()
    if have >= total:
        return have
    rng = random.Random(seed + have)
    contact_ids = list(Contact.objects.order_by("id").values_list("id", flat=True)[:200_000])
    now = timezone.now()
    calendar = sla.calendar_of(policy.calendar, now)
    statuses = ["closed"] * 85 + ["resolved"] * 5 + ["open"] * 5 + ["new"] * 3 + ["waiting"] * 2
    kinds = ["question"] * 5 + ["complaint"] * 3 + ["request"] * 2
    written = have
    while written < total:
        rows = []
        for n in range(min(BATCH, total - written)):
            status = rng.choice(statuses)
            if status in ("new", "open", "waiting"):
                opened = now - timedelta(minutes=rng.uniform(0, 60 * 24 * 20))
            else:
                opened = now - timedelta(days=rng.uniform(20, 730))
            clocks = sla.clocks(policy, calendar, opened, timedelta(0))
            answered = None
            if status != "new":
                answered = opened + timedelta(minutes=rng.uniform(10, 60 * 30))
            ticket = Ticket(
                subject=f"{MARK} Atendimento {written + n}",
                kind=rng.choice(kinds),
                channel=rng.choice(["email", "whatsapp", "form", "phone", "chat", "api"]),
                status=status,
                priority=rng.choice([1, 2, 2, 2, 3, 4]),
                contact_id=rng.choice(contact_ids),
                assignee=rng.choice(team) if rng.random() < 0.9 else None,
                policy=policy,
                first_response_due=clocks.first_response_due,
                resolution_due=clocks.resolution_due,
                first_responded_at=answered,
                first_response_time=(answered - opened) if answered else None,
                last_message_at=answered or opened,
                created_at=opened,
                updated_at=opened,
            )
            if status == "new":
                ticket.due_at, ticket.warn_at = clocks.first_response_due, clocks.warn_at
                if clocks.first_response_due < now:
                    ticket.first_response_breached_at = clocks.first_response_due
            elif status == "open":
                ticket.due_at = clocks.resolution_due
            elif status == "waiting":
                ticket.paused_at = answered
            else:
                ticket.resolved_at = answered + timedelta(hours=rng.uniform(0, 48))
                ticket.closed_at = ticket.resolved_at if status == "closed" else None
            rows.append(ticket)
        with transaction.atomic(), created_as_given(Ticket):
            Ticket.objects.bulk_create(rows)
        written += len(rows)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE desk_ticket")
    return Ticket.objects.filter(subject__startswith=MARK).count()


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


def _minute_walk(calendar: Calendar, start: datetime, minutes: int) -> datetime:
    """The baseline: step a minute at a time, counting the open ones."""
    moment = start.replace(second=0, microsecond=0)
    counted = 0
    while counted < minutes:
        if is_open(calendar, moment):
            counted += 1
        moment += timedelta(minutes=1)
    return moment


def _clock_times(policy: SlaPolicy, samples: int = 10_000) -> dict[str, float]:
    rng = random.Random(3)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    starts = [base + timedelta(minutes=rng.randrange(0, 60 * 24 * 365)) for _ in range(samples)]
    calendar = sla.calendar_of(policy.calendar, base)
    started = time.perf_counter()
    for start in starts:
        sla.clocks(policy, calendar, start, timedelta(0))
    per_ticket_us = (time.perf_counter() - started) / samples * 1e6
    started = time.perf_counter()
    for start in starts[:2_000]:
        business_add(calendar, start, timedelta(minutes=policy.first_response_minutes))
    add_us = (time.perf_counter() - started) / 2_000 * 1e6
    started = time.perf_counter()
    for start in starts[:200]:
        _minute_walk(calendar, start, policy.first_response_minutes)
    walk_us = (time.perf_counter() - started) / 200 * 1e6
    return {
        "due_times_per_ticket_us": per_ticket_us,
        "first_response_due_us": add_us,
        "minute_walk_us": walk_us,
    }


def desk(runs: int = 20, tickets: int = TICKETS) -> dict[str, Any]:
    policy = SlaPolicy.objects.filter(active=True, priority__isnull=True).order_by("position")[0]
    agent = _user("bench-desk-agent@example.com")
    team = [agent] + [_user(f"bench-desk-{n}@example.com") for n in range(9)]
    started = time.perf_counter()
    count = _fill(policy, team, tickets)
    fill_s = time.perf_counter() - started
    client = Client(SERVER_NAME="localhost")
    client.force_login(_user("bench-desk-manager@example.com", Role.MANAGER))
    some = Ticket.objects.filter(subject__startswith=MARK, status="open").order_by("-id")[0]
    Message.objects.get_or_create(
        ticket=some,
        kind=MessageKind.CUSTOMER,
        defaults={"body": "Meu pedido não chegou.", "created_at": some.created_at},
    )
    figures: dict[str, Any] = {
        "tickets_in_table": Ticket.objects.count(),
        "bench_tickets": count,
        "to_answer": Ticket.objects.filter(status__in=["new", "open"]).count(),
        "fill_s": fill_s,
    }
    for name, path in (
        ("queue", "/desk/"),
        ("queue_page_2", "/desk/?page=2"),
        ("queue_one_agent", f"/desk/?assignee={agent.pk}"),
        ("queue_complaints", "/desk/?kind=complaint"),
        ("queue_breached", "/desk/?breached=1"),
        ("queue_all_closed", "/desk/?view=closed"),
        ("queue_search_number", f"/desk/?view=closed&q=%23{some.pk}"),
        ("ticket_page", f"/desk/{some.pk}/"),
    ):
        figures[name] = _page_times(client, path, runs)
    figures["clocks"] = _clock_times(policy)
    contact = Contact.objects.order_by("id").first()
    opening = []
    for n in range(runs):
        started = time.perf_counter()
        ticket = ticket_open(contact=contact, subject=f"{MARK} novo {n}", body="Olá")
        opening.append((time.perf_counter() - started) * 1000)
        ticket.delete()
    figures["ticket_open_median_ms"] = statistics.median(opening)
    return figures

"""Reads of the agenda: the day's work, the load of each day, the team's.

Every page reads counts and minutes with GROUP BY over the (owner, status, due_on) index
and lists at most a page of tasks, so a user with ten thousand open tasks costs a few
small queries, not ten thousand rows.
"""

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from regua.users.models import Role, User

from .models import MINUTES_BY_KIND, Task, TaskStatus

LIST_LIMIT = 50  # tasks listed per section of the today page (the counts cover all)
DAY_LIMIT = 30  # tasks shown in one day of the week view


def tasks_visible_to(user: User) -> QuerySet[Task]:
    """Agents with private portfolios see their own tasks; everyone else sees all."""
    tasks = Task.objects.all()
    if not user.sees_all_contacts:
        tasks = tasks.filter(owner=user)
    return tasks


def can_manage_team(user: User) -> bool:
    return user.is_superuser or user.role in (Role.ADMIN, Role.MANAGER)


def minutes_expression() -> Coalesce:
    """A task's minutes in SQL: its estimate, else its kind's usual length."""
    by_kind = Case(
        *(When(kind=kind, then=Value(minutes)) for kind, minutes in MINUTES_BY_KIND.items()),
        default=Value(15),
        output_field=IntegerField(),
    )
    return Coalesce("estimated_minutes", by_kind, output_field=IntegerField())


@dataclass
class DayLoad:
    day: date
    count: int = 0
    minutes: int = 0
    tasks: list[Task] = field(default_factory=list)

    @property
    def capacity(self) -> int:
        return settings.REGUA_AGENDA_DAY_MINUTES

    @property
    def overloaded(self) -> bool:
        return self.minutes > self.capacity

    @property
    def percent(self) -> int:
        """The day's load as a share of its capacity, capped at 100 for the bar."""
        return min(100, round(100 * self.minutes / self.capacity)) if self.capacity else 0

    @property
    def more(self) -> int:
        return max(0, self.count - len(self.tasks))


def _open(tasks: QuerySet[Task]) -> QuerySet[Task]:
    return tasks.filter(status=TaskStatus.OPEN)


def _listed(tasks: QuerySet[Task]) -> QuerySet[Task]:
    return tasks.select_related("contact", "company", "owner")


def agenda_today(tasks: QuerySet[Task], today: date) -> dict[str, Any]:
    """Overdue first (oldest first), then today's (by time): counts, minutes, lists."""
    open_tasks = _open(tasks)
    totals = open_tasks.filter(due_on__lte=today).aggregate(
        overdue=Count("id", filter=Q(due_on__lt=today)),
        overdue_minutes=Sum(minutes_expression(), filter=Q(due_on__lt=today)),
        today=Count("id", filter=Q(due_on=today)),
        today_minutes=Sum(minutes_expression(), filter=Q(due_on=today)),
    )
    overdue = list(
        _listed(open_tasks.filter(due_on__lt=today)).order_by("due_on", "-priority", "id")[
            :LIST_LIMIT
        ]
    )
    todays = list(
        _listed(open_tasks.filter(due_on=today)).order_by(
            F("due_time").asc(nulls_last=True), "-priority", "id"
        )[:LIST_LIMIT]
    )
    return {
        "overdue": overdue,
        "todays": todays,
        "overdue_count": totals["overdue"],
        "today_count": totals["today"],
        "overdue_minutes": totals["overdue_minutes"] or 0,
        "today_minutes": totals["today_minutes"] or 0,
        "count": totals["overdue"] + totals["today"],
        "minutes": (totals["overdue_minutes"] or 0) + (totals["today_minutes"] or 0),
        # A range on the instant, not __date: that would convert every completed task's
        # time, and their number only grows.
        "done_today": tasks.filter(
            status=TaskStatus.DONE, completed_at__range=_local_day(today)
        ).count(),
    }


def _local_day(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day, time.max))


def day_loads(tasks: QuerySet[Task], start: date, end: date) -> dict[date, DayLoad]:
    """Open tasks' count and minutes for every day from start to end (inclusive)."""
    loads = {
        start + timedelta(days=n): DayLoad(start + timedelta(days=n))
        for n in range((end - start).days + 1)
    }
    rows = (
        _open(tasks)
        .filter(due_on__range=(start, end))
        .order_by()
        .values("due_on")
        .annotate(count=Count("id"), load_minutes=Sum(minutes_expression()))
    )
    for row in rows:
        load = loads[row["due_on"]]
        load.count, load.minutes = row["count"], row["load_minutes"] or 0
    return loads


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def agenda_week(tasks: QuerySet[Task], start: date) -> list[DayLoad]:
    """Seven days from Monday `start`, each with its load and its first tasks."""
    end = start + timedelta(days=6)
    loads = day_loads(tasks, start, end)
    listed = _listed(_open(tasks).filter(due_on__range=(start, end))).order_by(
        "due_on", F("due_time").asc(nulls_last=True), "-priority", "id"
    )
    busy = [load.day for load in loads.values() if load.count > DAY_LIMIT]
    if busy:
        # A crowded day shows its first DAY_LIMIT tasks; its count says the rest.
        listed = listed.filter(~Q(due_on__in=busy))
        for day in busy:
            loads[day].tasks = list(
                _listed(_open(tasks).filter(due_on=day)).order_by(
                    F("due_time").asc(nulls_last=True), "-priority", "id"
                )[:DAY_LIMIT]
            )
    for task in listed:
        loads[task.due_on].tasks.append(task)
    return list(loads.values())


def agenda_month(tasks: QuerySet[Task], year: int, month: int) -> list[list[DayLoad | None]]:
    """The month as weeks of days (None outside the month), each day with its load."""
    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    loads = day_loads(tasks, first, last)
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    return [[loads.get(day) if day.month == month else None for day in week] for week in weeks]


@dataclass
class TeamRow:
    user: User
    overdue: int = 0
    today: int = 0
    days: list[DayLoad] = field(default_factory=list)

    @property
    def week_count(self) -> int:
        return sum(load.count for load in self.days)

    @property
    def week_minutes(self) -> int:
        return sum(load.minutes for load in self.days)


def agenda_team(users: QuerySet[User], today: date, start: date) -> list[TeamRow]:
    """Each user's overdue, today's and week's load: two GROUP BY queries for the team."""
    end = start + timedelta(days=6)
    rows = {user.pk: TeamRow(user) for user in users}
    for user_row in rows.values():
        user_row.days = [DayLoad(start + timedelta(days=n)) for n in range(7)]
    open_tasks = Task.objects.filter(status=TaskStatus.OPEN, owner__in=list(rows))
    for row in (
        open_tasks.filter(due_on__lte=today)
        .order_by()
        .values("owner")
        .annotate(
            overdue=Count("id", filter=Q(due_on__lt=today)),
            today=Count("id", filter=Q(due_on=today)),
        )
    ):
        rows[row["owner"]].overdue, rows[row["owner"]].today = row["overdue"], row["today"]
    for day_row in (
        open_tasks.filter(due_on__range=(start, end))
        .order_by()
        .values("owner", "due_on")
        .annotate(count=Count("id"), load_minutes=Sum(minutes_expression()))
    ):
        load = rows[day_row["owner"]].days[(day_row["due_on"] - start).days]
        load.count, load.minutes = day_row["count"], day_row["load_minutes"] or 0
    return list(rows.values())


def contact_open_tasks(contact_id: int, limit: int = 10) -> list[Task]:
    return list(
        Task.objects.filter(contact_id=contact_id, status=TaskStatus.OPEN)
        .select_related("owner")
        .order_by("due_on", "due_time", "id")[:limit]
    )

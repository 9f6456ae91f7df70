"""Writes to the agenda: create, complete, reschedule, reassign, hand over, return.

Moves of many rows are set-based: one UPDATE per kind of thing moved and one
INSERT … SELECT that records every move (the Move table), inside one transaction, so a
hand-over of a portfolio is whole or nothing, whatever its size.
"""

from dataclasses import dataclass
from datetime import date, datetime, time

from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from regua.customers.models import Company, Contact, InteractionKind
from regua.customers.services import interaction_log
from regua.lib.bulk import db_datetime_adapter
from regua.lib.business_days import next_business_day
from regua.users.models import User

from .models import (
    HandOver,
    HandOverScope,
    Move,
    MoveKind,
    NoFollowUpReason,
    Task,
    TaskKind,
    TaskPriority,
    TaskSource,
    TaskStatus,
)


class AgendaError(ValueError):
    """A request the agenda refuses, with the form field it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def task_create(
    *,
    created_by: User | None,
    owner: User | None,
    kind: str,
    title: str,
    due_on: date,
    due_time: time | None = None,
    contact: Contact | None = None,
    company: Company | None = None,
    priority: int = 2,
    notes: str = "",
    estimated_minutes: int | None = None,
    source: str = TaskSource.MANUAL,
    follows: Task | None = None,
) -> Task:
    if contact is None and company is None and not title.strip():
        raise AgendaError("title", _("Say what the task is about."))
    return Task.objects.create(
        created_by=created_by,
        owner=owner,
        kind=kind,
        title=title.strip()[:200] or _default_title(kind, contact, company),
        due_on=due_on,
        due_time=due_time,
        contact=contact,
        company=company,
        priority=priority,
        notes=notes,
        estimated_minutes=estimated_minutes,
        source=source,
        follows=follows,
    )


def _default_title(kind: str, contact: Contact | None, company: Company | None) -> str:
    who = str(contact or company or "")
    return f"{TaskKind(kind).label}: {who}"[:200]


# What a completed task leaves on the contact's timeline.
_INTERACTION_OF = {
    TaskKind.CALL: InteractionKind.CALL,
    TaskKind.MEETING: InteractionKind.MEETING,
    TaskKind.EMAIL: InteractionKind.EMAIL,
    TaskKind.VISIT: InteractionKind.VISIT,
    TaskKind.OTHER: InteractionKind.NOTE,
}


@dataclass(frozen=True)
class NextContact:
    """The follow-up agreed on when completing a task."""

    due_on: date
    due_time: time | None = None
    kind: str = ""
    title: str = ""


def task_complete(
    *,
    task: Task,
    by: User,
    outcome: str,
    next_contact: NextContact | None = None,
    no_follow_up_reason: str = "",
    now: datetime | None = None,
) -> Task | None:
    """Close an open task with its outcome; returns the follow-up task, if any.

    A call or meeting cannot end silently: it needs an outcome and either the next
    contact date or a reason why there is none. Other kinds may set a next date too.
    The outcome lands on the contact's timeline as an interaction.
    """
    now = now or timezone.now()
    outcome = outcome.strip()
    if task.status != TaskStatus.OPEN:
        raise AgendaError("status", _("This task is already closed."))
    if task.asks_for_follow_up and not outcome:
        raise AgendaError("outcome", _("Say how the call or meeting went."))
    if next_contact and no_follow_up_reason:
        raise AgendaError(
            "no_follow_up_reason",
            _("Choose either the next contact date or a reason for no further contact."),
        )
    if task.asks_for_follow_up and not next_contact and not no_follow_up_reason:
        raise AgendaError(
            "next_on",
            _("Set the next contact date, or say why there will be no further contact."),
        )
    if no_follow_up_reason and no_follow_up_reason not in NoFollowUpReason.values:
        raise AgendaError("no_follow_up_reason", _("Choose a reason from the list."))
    if next_contact and next_contact.due_on < timezone.localdate(now):
        raise AgendaError("next_on", _("The next contact date cannot be in the past."))
    with transaction.atomic():
        # The conditional update is the lock: a second click, or a colleague completing
        # the same task at once, finds it closed and changes nothing.
        closed = Task.objects.filter(pk=task.pk, status=TaskStatus.OPEN).update(
            status=TaskStatus.DONE,
            completed_at=now,
            outcome=outcome,
            no_follow_up_reason=no_follow_up_reason,
            updated_at=now,
        )
        if not closed:
            raise AgendaError("status", _("This task is already closed."))
        task.refresh_from_db()
        if task.contact_id:
            interaction_log(
                contact=task.contact,  # type: ignore[arg-type]
                author=by,
                kind=_INTERACTION_OF.get(TaskKind(task.kind), InteractionKind.NOTE),
                subject=task.title,
                body=task.notes,
                outcome=outcome[:200],
                occurred_at=now,
            )
        if next_contact is None:
            return None
        kind = next_contact.kind or task.kind
        owner, absence = _follow_up_owner(task, by, next_contact.due_on)
        follow_up = task_create(
            created_by=by,
            owner=owner,
            kind=kind,
            title=next_contact.title
            or _("Follow-up: %(title)s") % {"title": task.title.removeprefix(_("Follow-up: "))},
            due_on=next_contact.due_on,
            due_time=next_contact.due_time,
            contact=task.contact,
            company=task.company,
            priority=task.priority,
            notes=outcome,
            source=TaskSource.FOLLOW_UP,
            follows=task,
        )
        if absence is not None:
            # Taken by the stand-in during the absence: it goes back with the others.
            _owners_change(
                MoveKind.TASK,
                Task.objects.filter(pk=follow_up.pk),
                from_user=owner,
                to_user=owner,  # stays with the stand-in until the return
                by=by,
                handover=absence,
                now=now,
            )
        return follow_up


def _follow_up_owner(task: Task, by: User, due_on: date) -> tuple[User, HandOver | None]:
    """Who owns the next task: the task's owner (or whoever completed an unowned one).

    A stand-in completing an absent colleague's task: a next contact after the absence
    goes to the colleague; one during it stays with the stand-in and comes back with the
    absence's other tasks (the hand-over it is recorded under)."""
    owner = task.owner or by
    move = (
        Move.objects.filter(
            kind=MoveKind.TASK,
            object_id=task.pk,
            is_return=False,
            handover__returned_at__isnull=True,
            handover__ends_on__isnull=False,
            handover__to_user=owner,
        )
        .select_related("handover__from_user")
        .order_by("-id")
        .first()
    )
    if move is None or move.handover is None or not move.handover.from_user.is_active:
        return owner, None
    if due_on > move.handover.ends_on:  # type: ignore[operator]
        return move.handover.from_user, None
    return owner, move.handover


def task_cancel(*, task: Task, reason: str, now: datetime | None = None) -> None:
    now = now or timezone.now()
    Task.objects.filter(pk=task.pk, status=TaskStatus.OPEN).update(
        status=TaskStatus.CANCELLED, outcome=reason.strip(), completed_at=now, updated_at=now
    )


def tasks_reschedule(
    *, tasks: QuerySet[Task], due_on: date, due_time: time | None = None, keep_time: bool = True
) -> int:
    """Move open tasks to another day (dragged on the week view, or picked on a list)."""
    changes: dict[str, object] = {"due_on": due_on, "updated_at": timezone.now()}
    if not keep_time:
        changes["due_time"] = due_time
    return tasks.filter(status=TaskStatus.OPEN).update(**changes)


def tasks_reassign(
    *, tasks: QuerySet[Task], to_user: User, by: User, now: datetime | None = None
) -> int:
    """Give open tasks to another user, recording each move (a selection: thousands at
    most, grouped by their current owner so each group is one exact move)."""
    now = now or timezone.now()
    moved = 0
    with transaction.atomic():
        moving = tasks.filter(status=TaskStatus.OPEN).exclude(owner=to_user)
        owners = set(moving.order_by().values_list("owner_id", flat=True).distinct())
        users = User.objects.in_bulk([pk for pk in owners if pk is not None])
        for owner_id in owners:
            owner = users.get(owner_id) if owner_id is not None else None
            group = moving.filter(owner=owner) if owner else moving.filter(owner__isnull=True)
            moved += _owners_change(
                MoveKind.TASK,
                group,
                from_user=owner,
                to_user=to_user,
                by=by,
                handover=None,
                now=now,
            )
    return moved


def handover_create(
    *,
    from_user: User,
    to_user: User,
    scope: str,
    by: User,
    starts_on: date | None = None,
    ends_on: date | None = None,
    note: str = "",
    now: datetime | None = None,
) -> HandOver:
    """Hand work from one user to another, now (for good) or for an absence.

    1. Without an end date: the open tasks (scope "tasks"), or the whole portfolio —
       the contacts and companies the user owns and all their open tasks — change owner
       now, for good.
    2. With a period: the open tasks due in it go to the stand-in now; tasks that fall
       into the period later (a régua's call, a follow-up) follow them at the next tick
       (`handover_apply_absences`); after the period the ones still open come back
       (`handover_return_due`).
    Everything in one transaction: it all moves or nothing does.
    """
    now = now or timezone.now()
    if from_user.pk == to_user.pk:
        raise AgendaError("to_user", _("Choose someone else to hand the work to."))
    if not to_user.is_active:
        raise AgendaError("to_user", _("This user is no longer active."))
    if ends_on is not None:
        starts_on = starts_on or timezone.localdate(now)
        if ends_on < starts_on:
            raise AgendaError("ends_on", _("The absence must end on or after its first day."))
        if ends_on < timezone.localdate(now):
            raise AgendaError("ends_on", _("This absence is already over."))
        if scope != HandOverScope.TASKS:
            raise AgendaError(
                "scope",
                _(
                    "An absence hands over the tasks due in it; a whole portfolio changes "
                    "hands for good (leave the end date empty)."
                ),
            )
    elif starts_on is not None:
        raise AgendaError("ends_on", _("An absence needs its last day."))
    with transaction.atomic():
        handover = HandOver.objects.create(
            from_user=from_user,
            to_user=to_user,
            scope=scope,
            starts_on=starts_on,
            ends_on=ends_on,
            note=note.strip()[:200],
            created_by=by,
        )
        open_tasks = Task.objects.filter(owner=from_user, status=TaskStatus.OPEN)
        if handover.is_absence:
            open_tasks = _absence_tasks(handover, timezone.localdate(now))
        handover.tasks_moved = _move(MoveKind.TASK, open_tasks, handover, by, now)
        if scope == HandOverScope.PORTFOLIO:
            handover.contacts_moved = _move(
                MoveKind.CONTACT, Contact.objects.filter(owner=from_user), handover, by, now
            )
            handover.companies_moved = _move(
                MoveKind.COMPANY, Company.objects.filter(owner=from_user), handover, by, now
            )
        handover.save(update_fields=["tasks_moved", "contacts_moved", "companies_moved"])
    return handover


def _move(
    kind: str,
    rows: QuerySet[Task] | QuerySet[Contact] | QuerySet[Company],
    handover: HandOver,
    by: User | None,
    now: datetime,
) -> int:
    """Move `rows` (all the absent or leaving user's) to the hand-over's stand-in."""
    return _owners_change(
        kind,
        rows,
        from_user=handover.from_user,
        to_user=handover.to_user,
        by=by,
        handover=handover,
        now=now,
    )


def _owners_change(
    kind: str,
    rows: QuerySet[Task] | QuerySet[Contact] | QuerySet[Company],
    *,
    from_user: User | None,
    to_user: User,
    by: User | None,
    handover: HandOver | None,
    now: datetime,
    is_return: bool = False,
) -> int:
    """Give `rows`, all owned by `from_user`, to `to_user`, with one Move per row moved:
    an INSERT … SELECT of the moves, then one UPDATE, inside the caller's transaction.

    (A single `WITH … UPDATE … RETURNING` statement on PostgreSQL was tried: its plan
    for 50,000 contacts ran for minutes. The UPDATE re-checks the owner, so a row another
    transaction gave away meanwhile is not taken; workers serialise on the hand-over row.)
    """
    select, params = rows.order_by().values("id").query.sql_with_params()
    at = db_datetime_adapter()(now)
    move = [kind, from_user.pk if from_user else None, to_user.pk]
    move += [by.pk if by else None, handover.pk if handover else None, is_return, at]
    columns = (
        "kind, object_id, from_user_id, to_user_id, moved_by_id, handover_id, is_return, created_at"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Move._meta.db_table} ({columns}) "
            f"SELECT %s, moving.id, %s, %s, %s, %s, %s, %s FROM ({select}) moving",
            [*move, *params],
        )
        count = cursor.rowcount
    if count:
        owned = rows.filter(owner=from_user) if from_user else rows.filter(owner__isnull=True)
        owned.update(owner=to_user, updated_at=now)
    return count


def handover_apply_absences(*, today: date) -> int:
    """Send to the stand-in the open tasks that fell into an absence after it began."""
    moved = 0
    # Absences that have not ended, including those still ahead: a task planned today for
    # a day of next week's absence goes to the stand-in now.
    absences = HandOver.objects.filter(returned_at__isnull=True, ends_on__gte=today).values_list(
        "pk", flat=True
    )
    for pk in absences:  # a few absences at a time, never one per task
        with transaction.atomic():
            # The lock lets one worker at a time route an absence's tasks (any number of
            # workers tick each second); the next one finds nothing left to move.
            handover = (
                HandOver.objects.select_for_update(of=("self",))
                .select_related("from_user", "to_user", "created_by")
                .filter(pk=pk, returned_at__isnull=True)
                .first()
            )
            if handover is None or not handover.to_user.is_active:
                continue  # returned meanwhile, or the stand-in left: nothing is sent to them
            late = _absence_tasks(handover, today)
            count = _move(MoveKind.TASK, late, handover, handover.created_by, timezone.now())
            if count:
                HandOver.objects.filter(pk=pk).update(tasks_moved=F("tasks_moved") + count)
        moved += count
    return moved


def _absence_tasks(handover: HandOver, today: date) -> QuerySet[Task]:
    """The absent user's open tasks the stand-in takes: those due in the period and, once
    the absence has begun, those already overdue (nobody else would work them)."""
    tasks = Task.objects.filter(owner=handover.from_user, status=TaskStatus.OPEN)
    if handover.starts_on is not None and handover.starts_on <= today:
        return tasks.filter(due_on__lte=handover.ends_on)
    return tasks.filter(due_on__range=(handover.starts_on, handover.ends_on))


def handover_return(*, handover: HandOver, by: User | None, now: datetime | None = None) -> int:
    """Give back the absence's tasks the stand-in has not completed; returns how many.

    Only tasks this hand-over moved, still open and still with the stand-in, go back: a
    task the stand-in passed on, or completed, stays where it is. Nothing goes back to a
    user who has been deactivated meanwhile: the tasks stay with the stand-in.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = HandOver.objects.filter(pk=handover.pk, returned_at__isnull=True).update(
            returned_at=now, updated_at=now
        )
        if not locked or not handover.from_user.is_active:
            return 0
        moved_ids = Move.objects.filter(
            handover=handover, kind=MoveKind.TASK, is_return=False
        ).values("object_id")
        back = Task.objects.filter(id__in=moved_ids, status=TaskStatus.OPEN, owner=handover.to_user)
        return _owners_change(
            MoveKind.TASK,
            back,
            from_user=handover.to_user,
            to_user=handover.from_user,
            by=by,
            handover=handover,
            now=now,
            is_return=True,
        )


def handover_return_due(*, now: datetime | None = None) -> int:
    """Return the tasks of every absence that ended before today (called by the worker)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    returned = 0
    for handover in HandOver.objects.filter(returned_at__isnull=True, ends_on__lt=today):
        returned += handover_return(handover=handover, by=None, now=now)
    return returned


def agenda_tick(*, now: datetime) -> dict[str, int]:
    """The agenda's share of the worker's tick: route absences, bring tasks back."""
    today = timezone.localdate(now)
    if not HandOver.objects.filter(returned_at__isnull=True, ends_on__isnull=False).exists():
        return {"absence_moved": 0, "returned": 0}
    returned = handover_return_due(now=now)
    return {"absence_moved": handover_apply_absences(today=today), "returned": returned}


def task_for_detractor(
    *, contact: Contact, score: int, comment: str, now: datetime | None = None
) -> Task:
    """A call for the owner of a contact who answered NPS 0–6, due by the next business
    day. One open detractor call per contact: a second low answer before it is done
    adds to its notes instead of a second call."""
    now = now or timezone.now()
    answer = _("NPS answer: %(score)d.") % {"score": score}
    if comment.strip():
        answer += " " + _("Comment: %(comment)s") % {"comment": comment.strip()[:1000]}
    with transaction.atomic():
        task = (
            Task.objects.select_for_update()
            .filter(contact=contact, source=TaskSource.NPS, status=TaskStatus.OPEN)
            .first()
        )
        if task is not None:
            task.notes = f"{task.notes}\n{answer}".strip()
            task.save(update_fields=["notes", "updated_at"])
            return task
        return Task.objects.create(
            kind=TaskKind.CALL,
            title=_("Call back a detractor: %(name)s (NPS %(score)d)")
            % {"name": contact, "score": score},
            notes=answer,
            contact=contact,
            owner=contact.owner,
            due_on=next_business_day(timezone.localdate(now)),
            priority=TaskPriority.HIGH,
            source=TaskSource.NPS,
        )

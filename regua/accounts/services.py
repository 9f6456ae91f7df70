"""Writes to the accounts: classification, roles, the account plan and its review task.

The review date of a plan lives twice: on the plan (review_on) and as one open task in
the owner's agenda (review_task). Only the functions here change either, so they never
disagree: setting the date creates the task, moving it moves the task, clearing it
cancels the task, completing the review closes it and opens the next one.
"""

from datetime import date, datetime

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from regua.agenda.models import Task, TaskKind, TaskSource, TaskStatus
from regua.customers.models import Company, Contact, ContactRole
from regua.users.models import User

from .models import AccountPlan, Initiative, InitiativeStatus

# "Other", not "meeting": the agenda asks for an outcome and a next contact date when a
# call or meeting is done, and the next review date is asked here instead.
REVIEW_TASK_KIND = TaskKind.OTHER


def company_classify(
    *,
    company: Company,
    profitability: str,
    purchase_potential: str,
    relationship_degree: str,
) -> Company:
    """Set the company's three levels, from which its ABC class follows."""
    company.profitability = profitability
    company.purchase_potential = purchase_potential
    company.relationship_degree = relationship_degree
    with transaction.atomic():
        company.save(
            update_fields=[
                "profitability",
                "purchase_potential",
                "relationship_degree",
                "updated_at",
            ]
        )
    return company


def company_owner_set(*, company: Company, owner: User | None) -> Company:
    """Give the account to another account manager (its contacts keep theirs)."""
    company.owner = owner
    with transaction.atomic():
        company.save(update_fields=["owner", "updated_at"])
    return company


def contact_role_set(
    *, company: Company, contact: Contact, role: str, job_title: str = ""
) -> ContactRole:
    """Give the contact a role in the company (one per pair: a second call changes it)."""
    with transaction.atomic():
        contact_role, _created = ContactRole.objects.update_or_create(
            company=company, contact=contact, defaults={"role": role, "job_title": job_title}
        )
    return contact_role


def contact_role_remove(*, contact_role: ContactRole) -> None:
    """Take the contact off the company's power map (the contact itself stays)."""
    contact_role.delete()


def account_plan_save(
    *,
    company: Company,
    objective: str,
    owner: User | None,
    review_on: date | None,
    by: User | None = None,
) -> AccountPlan:
    """Create or change the company's account plan and keep its review task in step.

    The task follows a new date or a new owner; saving the plan unchanged leaves alone a
    review task the agenda has closed.
    """
    with transaction.atomic():
        plan, created = AccountPlan.objects.select_for_update().get_or_create(
            company=company,
            defaults={
                "objective": objective,
                "owner": owner,
                "review_on": review_on,
                "created_by": by,
            },
        )
        changed = created or (plan.review_on, plan.owner_id) != (review_on, owner and owner.pk)
        if not created:
            plan.objective, plan.owner, plan.review_on = objective, owner, review_on
            plan.save(update_fields=["objective", "owner", "review_on", "updated_at"])
        if changed:
            _review_task_sync(plan, by=by)
    return plan


def account_plan_review_complete(
    *, plan: AccountPlan, next_review_on: date, by: User | None = None, at: datetime | None = None
) -> AccountPlan:
    """Record that the plan was reviewed and book the next review.

    The open review task (if the agenda has not closed it already) is done; a new one
    opens on `next_review_on`.
    """
    at = at or timezone.now()
    with transaction.atomic():
        plan = AccountPlan.objects.select_for_update().get(pk=plan.pk)
        if plan.review_task_id:
            Task.objects.filter(pk=plan.review_task_id, status=TaskStatus.OPEN).update(
                status=TaskStatus.DONE, completed_at=at, updated_at=at
            )
        plan.reviewed_at = at
        plan.review_on = next_review_on
        plan.review_task = None
        plan.save(update_fields=["reviewed_at", "review_on", "review_task", "updated_at"])
        _review_task_sync(plan, by=by)
    return plan


def review_task_title(company: Company) -> str:
    return _("Review the account plan: %(company)s") % {"company": company.name}


def _review_task_sync(plan: AccountPlan, *, by: User | None) -> None:
    """Make the plan's open review task match its review date and owner.

    1. No date: an open task is cancelled (nothing to review).
    2. An open task: it moves to the date and the owner.
    3. No open task (none yet, or done or cancelled in the agenda): a new one opens.
    """
    task = None
    if plan.review_task_id is not None:
        task = Task.objects.select_for_update().filter(pk=plan.review_task_id).first()
    is_open = task is not None and task.status == TaskStatus.OPEN
    if plan.review_on is None:
        if task is not None and is_open:
            task.status = TaskStatus.CANCELLED
            task.save(update_fields=["status", "updated_at"])
        return
    if task is not None and is_open:
        task.due_on, task.owner = plan.review_on, plan.owner
        task.title = review_task_title(plan.company)
        task.save(update_fields=["due_on", "owner", "title", "updated_at"])
        return
    plan.review_task = Task.objects.create(
        kind=REVIEW_TASK_KIND,
        title=review_task_title(plan.company),
        notes=_review_notes(plan),
        company=plan.company,
        owner=plan.owner,
        due_on=plan.review_on,
        source=TaskSource.ACCOUNT_PLAN,
        created_by=by,
    )
    plan.save(update_fields=["review_task", "updated_at"])


def _review_notes(plan: AccountPlan) -> str:
    path = reverse("accounts:plan", args=[plan.company_id])
    notes = _("Go through the initiatives, update their status and set the next review date.")
    return f"{notes}\n{path}"


def initiative_save(
    *,
    plan: AccountPlan,
    initiative: Initiative | None = None,
    title: str,
    description: str = "",
    owner: User | None,
    starts_on: date | None,
    due_on: date,
    status: str = InitiativeStatus.PLANNED,
) -> Initiative:
    """Add an initiative to the plan, or change one of its initiatives."""
    initiative = initiative or Initiative(plan=plan)
    if initiative.pk:
        # A bound ModelForm has already copied the posted status onto the instance:
        # compare with the stored one, or "done" would never get its completion time.
        initiative.status = (
            Initiative.objects.filter(pk=initiative.pk).values_list("status", flat=True).get()
        )
    initiative.title, initiative.description, initiative.owner = title, description, owner
    initiative.starts_on, initiative.due_on = starts_on, due_on
    with transaction.atomic():
        _status_set(initiative, status)
        initiative.save()
        AccountPlan.objects.filter(pk=plan.pk).update(updated_at=timezone.now())
    return initiative


def initiative_set_status(*, initiative: Initiative, status: str) -> Initiative:
    with transaction.atomic():
        _status_set(initiative, status)
        initiative.save(update_fields=["status", "completed_at", "updated_at"])
    return initiative


def _status_set(initiative: Initiative, status: str) -> None:
    if status == InitiativeStatus.DONE and initiative.status != InitiativeStatus.DONE:
        initiative.completed_at = timezone.now()
    elif status != InitiativeStatus.DONE:
        initiative.completed_at = None
    initiative.status = status


def initiative_delete(*, initiative: Initiative) -> None:
    initiative.delete()

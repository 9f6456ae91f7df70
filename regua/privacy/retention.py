"""How long personal data is kept (docs/security.md §LGPD, Retention).

Three rules, each off or on by a setting, applied once a day in a background job the
worker queues (`retention_due`, privacy.tasks.retention_job) or on demand
(`retention_apply`):

1. REGUA_AUDIT_RETENTION_MONTHS (default 24): audit entries older than that are deleted.
   The log holds no customer's personal data, but it names staff and their addresses.
2. REGUA_IMPORT_FILE_RETENTION_DAYS (default 0: kept): the CSV files uploaded to finished
   imports are deleted from storage that many days after the import ended; the import's
   report (counts and row errors) stays. A file is the rawest copy of the people it
   lists, and erasure cannot reach inside it.
3. REGUA_ERASE_INACTIVE_MONTHS (default 0: never): contacts with no activity (no event,
   order, delivery, interaction, ticket, task or consent change) for that many months
   are erased as a data subject's request would erase them, at most
   REGUA_ERASE_INACTIVE_BATCH a day. Erasure is irreversible: this is never automatic
   unless someone chose a period.
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from regua.agenda.models import Task
from regua.cadences.models import Delivery
from regua.commerce.models import Order
from regua.customers.models import ConsentChange, Contact, Interaction
from regua.desk.models import Ticket
from regua.events.models import Event
from regua.imports.models import ImportJob, ImportStatus

from . import audit
from .erase import contact_erase
from .models import AuditAction, AuditEntry, Erasure, ErasureReason, RetentionRun

MONTH = timedelta(days=30)


@dataclass
class RetentionSummary:
    audit_entries_deleted: int = 0
    import_files_deleted: int = 0
    contacts_erased: int = 0


def audit_prune(*, now: datetime) -> int:
    months = settings.REGUA_AUDIT_RETENTION_MONTHS
    if not months:
        return 0
    return AuditEntry.objects.filter(created_at__lt=now - months * MONTH).delete()[0]


def import_files_prune(*, now: datetime) -> int:
    days = settings.REGUA_IMPORT_FILE_RETENTION_DAYS
    if not days:
        return 0
    jobs = ImportJob.objects.filter(
        status__in=[ImportStatus.DONE, ImportStatus.FAILED],
        finished_at__lt=now - timedelta(days=days),
    ).exclude(file="")
    deleted = 0
    for job in jobs.only("file"):
        job.file.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(file="")
        deleted += 1
    return deleted


def inactive_contacts(*, since: datetime) -> QuerySet[Contact]:
    """Contacts created before `since` with nothing about them since, not erased yet."""
    recent = {
        "event": Event.objects.filter(contact=OuterRef("pk"), occurred_at__gte=since),
        "order": Order.objects.filter(contact=OuterRef("pk"), ordered_at__gte=since),
        "delivery": Delivery.objects.filter(contact=OuterRef("pk"), due_at__gte=since),
        "note": Interaction.objects.filter(contact=OuterRef("pk"), occurred_at__gte=since),
        "ticket": Ticket.objects.filter(contact=OuterRef("pk"), updated_at__gte=since),
        "task": Task.objects.filter(contact=OuterRef("pk"), updated_at__gte=since),
        "consent": ConsentChange.objects.filter(contact=OuterRef("pk"), recorded_at__gte=since),
    }
    quiet = [~Exists(query) for query in recent.values()]
    return Contact.objects.filter(*quiet, created_at__lt=since, updated_at__lt=since).exclude(
        Exists(Erasure.objects.filter(contact=OuterRef("pk")))
    )


def inactive_contacts_erase(*, now: datetime) -> int:
    months = settings.REGUA_ERASE_INACTIVE_MONTHS
    if not months:
        return 0
    ids = list(
        inactive_contacts(since=now - months * MONTH)
        .order_by("id")
        .values_list("id", flat=True)[: settings.REGUA_ERASE_INACTIVE_BATCH]
    )
    # One erasure per contact, each its own transaction: a contact is erased whole or
    # not at all, and a failure leaves the others done. Bounded by the batch size.
    for contact in Contact.objects.filter(id__in=ids):
        contact_erase(contact=contact, reason=ErasureReason.RETENTION, now=now)
    return len(ids)


def retention_apply(*, now: datetime | None = None) -> RetentionSummary:
    """Apply the three rules now; the summary goes to the audit log when anything went."""
    now = now or timezone.now()
    summary = RetentionSummary(
        audit_entries_deleted=audit_prune(now=now),
        import_files_deleted=import_files_prune(now=now),
        contacts_erased=inactive_contacts_erase(now=now),
    )
    if any(asdict(summary).values()):
        audit.record(None, AuditAction.APPLIED_RETENTION, detail=asdict(summary))
    return summary


def retention_due(*, now: datetime) -> bool:
    """Queue the rules' run once per business day, after REGUA_RETENTION_HOUR local time.

    Called by every worker on each turn: a RetentionRun row per day is the marker, so
    however many workers run, one queues the run (privacy.tasks.retention_job). Cheap
    when nothing is due (one indexed read); returns whether this call queued it.
    """
    if not (
        settings.REGUA_AUDIT_RETENTION_MONTHS
        or settings.REGUA_IMPORT_FILE_RETENTION_DAYS
        or settings.REGUA_ERASE_INACTIVE_MONTHS
    ):
        return False
    if not RetentionRun.claim(now, hour=settings.REGUA_RETENTION_HOUR):
        return False
    from .tasks import retention_job

    transaction.on_commit(lambda: retention_job.enqueue(now.isoformat()))
    return True

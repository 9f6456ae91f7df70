"""Erasing a data subject: `contact_erase`, set-based, table by table.

What goes and what stays is decided per table so that the business's figures (orders,
revenue, message funnels, NPS, SLA, workload) keep counting while nothing left can name
the person. The contact row itself stays, anonymised, because every fact about the
business hangs on its id; docs/security.md §LGPD has the table of what each table keeps.

Every step is one UPDATE or DELETE over the contact's rows (found by the contact's
indexes), so a contact with 10,000 events costs a few statements, not 10,000. A last
sweep looks for the person's e-mail address, phone and full name in the few tables that
can hold them without a link to the contact (rendered messages, the suppression list,
import reports, cached dashboards, job results, the admin site's log) and scrubs them.
"""

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils import timezone

from regua.agenda.models import Task
from regua.analytics.models import Snapshot
from regua.cadences.models import (
    Delivery,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    OutboxMessage,
    Suppression,
)
from regua.customers.models import (
    Channel,
    Consent,
    ConsentChange,
    ConsentStatus,
    Contact,
    ContactRole,
    ContactTag,
    Interaction,
    StageChange,
)
from regua.desk.models import Attachment, Message, Ticket
from regua.events.models import Event
from regua.imports.models import ImportJob
from regua.loyalty.models import PointEntry, ReferralCode
from regua.ops.models import WorkerBeat

from . import audit
from .models import AuditAction, Erasure, ErasureReason

# Event properties that describe what happened, never who it happened to: they stay, so
# that reports keep working on an erased contact's events (the NPS score and category,
# the régua and step of an open or a click, the order of a purchase, a tier change).
# Every other key goes: a comment, a ticket's subject, a clicked URL, whatever an
# integrator sent (an e-mail address under any name).
EVENT_KEYS_KEPT = frozenset(
    {
        "regua",
        "step",
        "variant",
        "score",
        "category",
        "rating",
        "edited_at",
        "ticket",
        "kind",
        "channel",
        "channels",
        "order_id",
        "sku",
        "product_id",
        "quantity",
        "value",
        "total",
        "amount",
        "currency",
        "points",
        "tier",
        "from",
        "to",
        "from_name",
        "to_name",
        "direction",
        "plan",
        "status",
    }
)
# A key json_remove can name in a path without quoting trouble.
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_\- ]{1,100}$")
# The reason of a delivery cancelled by the erasure, and the source of its consent rows.
ERASED = "erased"


class AlreadyErased(Exception):
    """The contact was erased before: there is nothing left to erase."""


@dataclass(frozen=True)
class Identity:
    """What identifies the person, read before it is erased: the sweeps look for it."""

    email: str
    phone: str
    first_name: str
    last_name: str

    @classmethod
    def of(cls, contact: Contact) -> "Identity":
        return cls(
            email=(contact.email or "").strip(),
            phone=(contact.phone or "").strip(),
            first_name=contact.first_name.strip(),
            last_name=contact.last_name.strip(),
        )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def global_terms(self) -> list[str]:
        """Terms safe to look for across tables that hold everyone's data: the e-mail,
        the phone and the full name. A first name alone ("Ana") would match other
        people's rows ("Banana", another Ana), and the sweep must not touch those."""
        terms = [self.email, self.phone if len(self.phone) >= 6 else ""]
        if " " in self.full_name and len(self.full_name) >= 5:
            terms.append(self.full_name)
        return [term for term in dict.fromkeys(terms) if term]

    def own_terms(self) -> list[str]:
        """Terms to look for in the contact's own rows, where a false match only blanks
        a text of this contact: also each name on its own."""
        names = [self.first_name, self.last_name]
        extra = [name for name in names if len(name) >= 3]
        return list(dict.fromkeys([*self.global_terms(), *extra]))


@dataclass
class ErasureResult:
    contact_id: int
    erased_at: datetime
    counts: dict[str, int] = field(default_factory=dict)


def _variants(terms: Iterable[str]) -> list[str]:
    """Each term as text and as JSON writes it (SQLite keeps JSON with \\u escapes for
    accented letters: "Conceição" is stored as "Concei\\u00e7\\u00e3o")."""
    found: list[str] = []
    for term in terms:
        found.append(term)
        escaped = json.dumps(term)[1:-1]
        if escaped != term:
            found.append(escaped)
    return list(dict.fromkeys(found))


def _mentions(field_name: str, terms: Sequence[str]) -> Q:
    """Rows whose text field contains any of the terms (case-insensitive); matches
    nothing when there are no terms."""
    condition = Q(pk__in=[])
    for term in terms:
        condition |= Q(**{f"{field_name}__icontains": term})
    return condition


def _json_mentions(
    queryset: models.QuerySet[Any], field_name: str, terms: Sequence[str]
) -> models.QuerySet[Any]:
    """The rows whose JSON field, read as text, contains any of the terms."""
    alias = f"{field_name}_as_text"
    return queryset.alias(**{alias: Cast(field_name, TextField())}).filter(
        _mentions(alias, _variants(terms))
    )


def contact_erase(
    *,
    contact: Contact,
    actor: Any = None,
    request: HttpRequest | None = None,
    reason: str = ErasureReason.REQUEST,
    now: datetime | None = None,
) -> ErasureResult:
    """Erase a data subject, irreversibly, in one transaction.

    1. Lock the contact; refuse one erased already.
    2. Withdraw every consent (the guards then send nothing) and blank the source texts
       of the consent and stage history.
    3. Blank the free texts of the contact's rows (notes, tickets and their messages,
       tasks, ledger reasons), strip events of every property not known to be harmless,
       end its régua passages and cancel what was still to be sent.
    4. Delete what only identifies: tags, roles on companies, rendered messages,
       suppressed addresses, attachments, the referral code.
    5. Sweep the tables without a link to the contact for its address, phone and name.
    6. Anonymise the contact row, record the erasure and write the audit entry (ids and
       counts only). Attachment files are removed from storage after the commit.
    """
    now = now or timezone.now()
    counts: dict[str, int] = {}
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        if Erasure.objects.filter(contact_id=contact.pk).exists():
            raise AlreadyErased(contact.pk)
        who = Identity.of(contact)
        pk = contact.pk
        counts |= _consents(pk, now)
        counts |= _histories(pk, who)
        counts |= _events(pk, who)
        counts |= _cadences(pk, who, now)
        counts |= _work(pk, who)
        files = list(
            Attachment.objects.filter(message__ticket__contact_id=pk).values_list("file", flat=True)
        )
        counts["desk_attachment_deleted"] = Attachment.objects.filter(
            message__ticket__contact_id=pk
        ).delete()[0]
        counts |= _sweep(pk, who)
        counts["customers_contact"] = _anonymise(contact)
        Erasure.objects.create(
            contact_id=pk,
            erased_at=now,
            erased_by=audit.user_or_none(actor),
            reason=reason,
            counts=counts,
        )
        audit.record(
            actor,
            AuditAction.ERASED_CONTACT,
            contact=pk,
            detail={"reason": reason, "rows": counts},
            request=request,
        )
        transaction.on_commit(lambda: _remove_files(files))
    return ErasureResult(contact_id=pk, erased_at=now, counts=counts)


def _consents(pk: int, now: datetime) -> dict[str, int]:
    """Every granted consent withdrawn, with its history row, source "erased"; the old
    history keeps its channels, statuses, purposes, bases, versions and times (the proof
    of what was asked and given), without its source texts."""
    history = ConsentChange.objects.filter(contact_id=pk).update(source="")
    granted = list(
        Consent.objects.filter(contact_id=pk, status=ConsentStatus.GRANTED).values(
            "channel", "purpose", "legal_basis", "text_version"
        )
    )
    ConsentChange.objects.bulk_create(
        ConsentChange(
            contact_id=pk, status=ConsentStatus.WITHDRAWN, source=ERASED, recorded_at=now, **row
        )
        for row in granted
    )
    withdrawn = Consent.objects.filter(contact_id=pk).update(
        status=ConsentStatus.WITHDRAWN, source=ERASED, recorded_at=now, updated_at=now
    )
    return {"customers_consent": withdrawn, "customers_consentchange": history + len(granted)}


def _histories(pk: int, who: Identity) -> dict[str, int]:
    return {
        "customers_stagechange": StageChange.objects.filter(contact_id=pk).update(source=""),
        "customers_interaction": Interaction.objects.filter(contact_id=pk).update(
            subject="", body="", outcome=""
        ),
        "customers_contacttag_deleted": ContactTag.objects.filter(contact_id=pk).delete()[0],
        "customers_contactrole_deleted": ContactRole.objects.filter(contact_id=pk).delete()[0],
    }


def _events(pk: int, who: Identity) -> dict[str, int]:
    """Properties outside EVENT_KEYS_KEPT removed from all the contact's events in one
    statement per 100 keys; then any event whose remaining properties still name the
    person (a kept key holding an address) loses them all."""
    table = Event._meta.db_table
    postgres = connection.vendor == "postgresql"
    type_of = "jsonb_typeof" if postgres else "json_type"
    with connection.cursor() as cursor:
        # Properties that are not an object (a list, a bare value) go whole.
        cursor.execute(
            f"UPDATE {table} SET properties = '{{}}' WHERE contact_id = %s "
            f"AND {type_of}(properties) <> 'object'",
            [pk],
        )
        changed = cursor.rowcount
        if postgres:
            cursor.execute(
                f"SELECT DISTINCT k FROM {table} e, jsonb_object_keys(e.properties) k "
                "WHERE e.contact_id = %s",
                [pk],
            )
        else:
            cursor.execute(
                f"SELECT DISTINCT j.key FROM {table} e, json_each(e.properties) j "
                "WHERE e.contact_id = %s",
                [pk],
            )
        keys = sorted({str(row[0]) for row in cursor.fetchall()} - EVENT_KEYS_KEPT)
        changed += _events_drop_keys(cursor, table, pk, keys)
    objects = Event.objects.filter(contact_id=pk)
    changed += _json_mentions(objects, "properties", who.own_terms()).update(properties={})
    return {"events_event": changed}


def _events_drop_keys(cursor: Any, table: str, pk: int, keys: list[str]) -> int:
    changed = 0
    if connection.vendor == "postgresql":
        for start in range(0, len(keys), 100):
            chunk = keys[start : start + 100]
            cursor.execute(
                f"UPDATE {table} SET properties = properties - %s::text[] "
                "WHERE contact_id = %s AND properties ?| %s::text[]",
                [chunk, pk, chunk],
            )
            changed += cursor.rowcount
        return changed
    plain = [key for key in keys if _PLAIN_KEY.match(key)]
    for start in range(0, len(plain), 100):
        chunk = plain[start : start + 100]
        paths = ", ".join(["%s"] * len(chunk))
        marks = ", ".join(["%s"] * len(chunk))
        cursor.execute(
            f"UPDATE {table} SET properties = json_remove(properties, {paths}) "
            "WHERE contact_id = %s AND json_type(properties) = 'object' AND EXISTS "
            f"(SELECT 1 FROM json_each({table}.properties) j WHERE j.key IN ({marks}))",
            [*(f'$."{key}"' for key in chunk), pk, *chunk],
        )
        changed += cursor.rowcount
    # A key with quotes or dots cannot be named in a JSON path: its events lose all
    # their properties (integrators rarely send such keys).
    for key in sorted(set(keys) - set(plain)):
        cursor.execute(
            f"UPDATE {table} SET properties = '{{}}' WHERE contact_id = %s AND EXISTS "
            f"(SELECT 1 FROM json_each({table}.properties) j WHERE j.key = %s)",
            [pk, key],
        )
        changed += cursor.rowcount
    return changed


def _cadences(pk: int, who: Identity, now: datetime) -> dict[str, int]:
    """Passages end, what was still to be sent is cancelled, the record of what was sent
    stays for the funnels; the rendered messages (recipient, subject, text) go."""
    exited = Enrollment.objects.filter(contact_id=pk, status=EnrollmentStatus.ACTIVE).update(
        status=EnrollmentStatus.EXITED, exited_at=now, exit_reason=ERASED, updated_at=now
    )
    cancelled = Delivery.objects.filter(contact_id=pk, status=DeliveryStatus.SCHEDULED).update(
        status=DeliveryStatus.CANCELLED, reason=ERASED, updated_at=now
    )
    reasons = (
        Delivery.objects.filter(contact_id=pk)
        .filter(_mentions("reason", who.own_terms()))
        .update(reason="", updated_at=now)
    )
    addresses = [address for address in (who.email, who.email.lower(), who.phone) if address]
    outbox = OutboxMessage.objects.filter(delivery__contact_id=pk).delete()[0]
    if addresses:
        # Messages kept without a delivery: test sends, the desk's replies.
        outbox += OutboxMessage.objects.filter(delivery__isnull=True, to__in=addresses).delete()[0]
    # By channel and address, the suppression list's unique index.
    emails = [address for address in (who.email, who.email.lower()) if address]
    suppressed = Suppression.objects.filter(
        Q(channel=Channel.EMAIL, address__in=emails)
        | Q(channel__in=[Channel.SMS, Channel.WHATSAPP, Channel.PHONE], address=who.phone or None)
    ).delete()[0]
    return {
        "cadences_enrollment": exited,
        "cadences_delivery": cancelled + reasons,
        "cadences_outboxmessage_deleted": outbox,
        "cadences_suppression_deleted": suppressed,
    }


def _work(pk: int, who: Identity) -> dict[str, int]:
    """Tasks, tickets, messages and the points ledger keep their figures (dates, status,
    SLA clocks, points) and lose their texts."""
    (
        Task.objects.filter(contact_id=pk)
        .filter(_mentions("title", who.own_terms()))
        .update(title="")
    )
    tasks = Task.objects.filter(contact_id=pk).update(notes="", outcome="")
    tickets = Ticket.objects.filter(contact_id=pk).update(
        subject="", rating_comment="", order_ref=""
    )
    messages = Message.objects.filter(ticket__contact_id=pk).update(
        body="", message_id="", error=""
    )
    # The ledger is append-only for the programme (its queryset refuses updates); the
    # law's erasure is the one exception, and touches the free-text reason only, never
    # the points. The base manager's plain queryset does it.
    ledger = PointEntry._base_manager.filter(contact_id=pk).exclude(reason="").update(reason="")
    return {
        "agenda_task": tasks,
        "desk_ticket": tickets,
        "desk_message": messages,
        "loyalty_pointentry": ledger,
        "loyalty_referralcode_deleted": ReferralCode.objects.filter(contact_id=pk).delete()[0],
    }


def _sweep(pk: int, who: Identity) -> dict[str, int]:
    """The tables that hold the person without a link to the contact."""
    terms = who.global_terms()
    if not terms:
        return {}
    snapshots = _json_mentions(Snapshot.objects.all(), "payload", terms).delete()[0]
    imports = 0
    for job in _json_mentions(ImportJob.objects.all(), "errors", terms).only("errors"):
        job.errors = [
            error
            for error in job.errors
            if not any(term.lower() in json.dumps(error).lower() for term in _variants(terms))
        ]
        job.save(update_fields=["errors", "updated_at"])
        imports += 1
    imports += ImportJob.objects.filter(_mentions("failure", terms)).update(failure="")
    beats = WorkerBeat.objects.filter(_mentions("last_error", terms)).update(last_error="")
    contact_type = ContentType.objects.get_for_model(Contact)
    admin_log = LogEntry.objects.filter(content_type=contact_type, object_id=str(pk)).update(
        object_repr=f"#{pk}", change_message=""
    )
    admin_log += LogEntry.objects.filter(_mentions("object_repr", terms)).update(
        object_repr="", change_message=""
    )
    return {
        "analytics_snapshot_deleted": snapshots,
        "imports_importjob": imports,
        "ops_workerbeat": beats,
        "django_admin_log": admin_log,
        "task_results_deleted": _task_results(terms),
    }


def _task_results(terms: list[str]) -> int:
    """Finished background jobs whose arguments, result or traceback name the person."""
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # another task backend keeps no results here
        return 0
    found = DBTaskResult.objects.alias(
        args_text=Cast("args_kwargs", TextField()), result_text=Cast("return_value", TextField())
    ).filter(
        _mentions("args_text", _variants(terms))
        | _mentions("result_text", _variants(terms))
        | _mentions("traceback", terms)
    )
    return found.exclude(status__in=["READY", "RUNNING"]).delete()[0]


def _anonymise(contact: Contact) -> int:
    """The row stays (its id carries the orders, events and messages that the reports
    count) with nothing personal left: no address, name, phone, birth date, gender,
    city, external id or custom attribute. Stage, state, language and owner stay (they
    identify no one and the reports group by them). Saving search_name empty also
    empties the name index (SQLite's FTS5 trigger; PostgreSQL's index follows the row)."""
    return Contact.objects.filter(pk=contact.pk).update(
        email=None,
        external_id=None,
        first_name="",
        last_name="",
        search_name="",
        phone="",
        birth_date=None,
        gender="",
        city="",
        source="",
        attributes={},
        updated_at=timezone.now(),
    )


def _remove_files(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    for name in names:
        if name:
            default_storage.delete(name)

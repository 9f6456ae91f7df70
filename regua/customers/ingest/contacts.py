"""Upserting contacts in batches: the one write path for CSV import and the REST API.

A batch is matched against the base with two indexed queries (external ids, e-mails),
merged in memory as plain dicts, and written with a few set-based statements in one
transaction. Matching rules: by external id first, else by e-mail. A row whose e-mail
belongs to a different contact than its external id is refused, never merged silently.
"""

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from regua.core.ingest import BatchResult, Status
from regua.lib.brazil import DEFAULT_TIME_ZONE
from regua.lib.bulk import insert_many, update_many
from regua.lib.text import search_key
from regua.users.models import User

from ..models import Contact, Stage, StageChange
from .clean import ContactInput, clean_contact
from .relations import RelationWriter

Row = tuple[int, Mapping[str, Any]]
# Every column the batch reads and writes, in insert order.
FIELDS = [
    "external_id",
    "email",
    "first_name",
    "last_name",
    "search_name",
    "phone",
    "birth_date",
    "gender",
    "city",
    "state",
    "country",
    "time_zone",
    "language",
    "stage",
    "source",
    "relationship_type",
    "owner_id",
    "attributes",
]
NEW_CONTACT = {
    "id": None,
    "external_id": None,
    "email": None,
    "first_name": "",
    "last_name": "",
    "search_name": "",
    "phone": "",
    "birth_date": None,
    "gender": "",
    "city": "",
    "state": "",
    "country": "BR",
    "time_zone": DEFAULT_TIME_ZONE,
    "language": "pt-br",
    "stage": Stage.LEAD,
    "relationship_type": "",
    "owner_id": None,
}


@dataclass
class _Planned:
    """A contact the batch will create or change, and the rows that asked for it."""

    row: dict[str, Any]
    lines: list[int] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)
    inputs: list[ContactInput] = field(default_factory=list)
    old_stage: str = ""
    new: bool = False


class _Plan:
    """The batch matched against the base: which rows create, which change which contact."""

    def __init__(self, items: Sequence[tuple[int, ContactInput]], source: str) -> None:
        self.source = source
        exts = {item.external_id for _line, item in items if item.external_id}
        emails = {item.email for _line, item in items if item.email}
        # Two indexed lookups; a contact found by both is one plan.
        found = {
            r["id"]: r for r in Contact.objects.filter(external_id__in=exts).values("id", *FIELDS)
        }
        for row in Contact.objects.filter(email__in=emails).values("id", *FIELDS):
            found.setdefault(row["id"], row)
        self.plans = {cid: _Planned(row, old_stage=row["stage"]) for cid, row in found.items()}
        self.by_ext = {p.row["external_id"]: p for p in self.plans.values() if p.row["external_id"]}
        self.by_email = {p.row["email"]: p for p in self.plans.values() if p.row["email"]}
        self.new: list[_Planned] = []
        owners = {item.owner_email for _line, item in items if item.owner_email}
        self.users = dict(
            User.objects.filter(email__in=owners).values_list("email", "id") if owners else []
        )

    def match(self, item: ContactInput) -> tuple[_Planned | None, tuple[str, str] | None]:
        by_ext = self.by_ext.get(item.external_id) if item.external_id else None
        by_email = self.by_email.get(item.email) if item.email else None
        if by_ext is not None:
            if by_email is not None and by_email is not by_ext:
                return None, ("email", _("this e-mail belongs to another contact"))
            return by_ext, None
        if by_email is not None and item.external_id and by_email.row["external_id"]:
            message = _("this e-mail belongs to the contact with external id %(id)s")
            return None, ("email", message % {"id": by_email.row["external_id"]})
        return by_email, None

    def add(self, line: int, item: ContactInput) -> tuple[str, str] | None:
        if item.owner_email and item.owner_email not in self.users:
            return ("owner", _("no user has the e-mail %(email)s") % {"email": item.owner_email})
        plan, error = self.match(item)
        if error:
            return error
        if plan is None:
            plan = _Planned({**NEW_CONTACT, "source": self.source, "attributes": {}}, new=True)
            self.new.append(plan)
        old_email = plan.row["email"]
        plan.changed |= _apply(plan.row, item, self.users)
        plan.lines.append(line)
        plan.inputs.append(item)
        if plan.row["external_id"]:
            self.by_ext[plan.row["external_id"]] = plan
        if plan.row["email"]:
            if old_email and old_email != plan.row["email"]:
                self.by_email.pop(old_email, None)
            self.by_email[plan.row["email"]] = plan
        return None


def _apply(row: dict[str, Any], item: ContactInput, users: dict[str, int]) -> set[str]:
    """Set the item's values on the row; return the names of the fields that changed."""
    changed = set()
    for name, value in item.values.items():
        if row[name] != value:
            row[name] = value
            changed.add(name)
    if {"first_name", "last_name"} & changed:
        row["search_name"] = search_key(f"{row['first_name']} {row['last_name']}")
        changed.add("search_name")
    if item.attributes:
        merged = {**row["attributes"], **item.attributes}
        if merged != row["attributes"]:
            row["attributes"] = merged
            changed.add("attributes")
    if item.owner_email and row["owner_id"] != users[item.owner_email]:
        row["owner_id"] = users[item.owner_email]
        changed.add("owner_id")
    return changed


def contacts_upsert(
    rows: Sequence[Row], *, source: str, changed_by: User | None = None
) -> BatchResult:
    """Create or update the contacts in `rows` ((line, data) pairs); report each row.

    `data` uses the field names of clean_contact (see normalize_keys for CSV headers).
    """
    result = BatchResult()
    items: list[tuple[int, ContactInput]] = []
    for line, data in rows:
        item, errors = clean_contact(data)
        if errors:
            result.fail(line, errors)
        else:
            items.append((line, item))
    if not items:
        return result
    try:
        with transaction.atomic():
            _write_batch(items, result, source=source, changed_by=changed_by)
    except IntegrityError:
        # Another writer took one of our keys between our read and our write. Redo the
        # batch one row at a time so that only the rows that really conflict are refused.
        for line, item in items:
            single = BatchResult()
            try:
                with transaction.atomic():
                    _write_batch([(line, item)], single, source=source, changed_by=changed_by)
            except IntegrityError as exc:
                single = BatchResult()
                single.fail(line, [("", _("could not be saved: %(error)s") % {"error": exc})])
            result.merge(single)
    return result


def _write_batch(
    items: Sequence[tuple[int, ContactInput]],
    result: BatchResult,
    *,
    source: str,
    changed_by: User | None,
) -> None:
    now = timezone.now()
    plan = _Plan(items, source)
    for line, item in items:
        if error := plan.add(line, item):
            result.fail(line, [error])
    _insert_new(plan.new, now)
    changed = [p for p in plan.plans.values() if p.changed]
    for names in {frozenset(p.changed) for p in changed}:
        group = [p for p in changed if p.changed == names]
        columns = sorted(names)
        update_many(
            Contact,
            [*columns, "updated_at"],
            ([*(p.row[c] for c in columns), now, p.row["id"]] for p in group),
        )
    planned = [*plan.plans.values(), *plan.new]
    touched = RelationWriter(now=now, source=source).write(
        [(p.row["id"], p.inputs) for p in planned if p.inputs]
    )
    insert_many(
        StageChange,
        [
            "contact_id",
            "from_stage",
            "to_stage",
            "changed_at",
            "source",
            "changed_by_id",
            "created_at",
        ],
        (
            (
                p.row["id"],
                "" if p.new else p.old_stage,
                p.row["stage"],
                now,
                source,
                changed_by.pk if changed_by else None,
                now,
            )
            for p in planned
            if p.new or "stage" in p.changed
        ),
    )
    for p in planned:
        status: Status = (
            "created"
            if p.new
            else ("updated" if p.changed or p.row["id"] in touched else "unchanged")
        )
        for index, line in enumerate(p.lines):
            # A contact given twice in one batch is created by its first row only.
            result.record(line, "updated" if index and status == "created" else status, p.row["id"])


def _insert_new(new: list["_Planned"], now: datetime) -> None:
    """Insert the new contacts and give each plan the id the database chose."""
    if not new:
        return
    insert_many(
        Contact,
        [*FIELDS, "created_at", "updated_at"],
        ([*(p.row[f] for f in FIELDS), now, now] for p in new),
    )
    exts = {p.row["external_id"]: p for p in new if p.row["external_id"]}
    emails = {p.row["email"]: p for p in new if p.row["email"]}
    for cid, ext, email in Contact.objects.filter(
        Q(external_id__in=exts) | Q(email__in=emails)
    ).values_list("id", "external_id", "email"):
        plan = exts.get(ext) or emails.get(email)
        if plan is not None:
            plan.row["id"] = cid


def contacts_resolve(keys: set[str], *, create: bool, source: str) -> tuple[dict[str, int], int]:
    """Map customer keys (external id or e-mail) to contact ids, creating the missing ones.

    Returns the mapping and how many contacts were created. A key that is not an external
    id and is a valid address is looked up (and created) as an e-mail; anything else is an
    external id.
    """
    from regua.lib.parsing import normalize_email

    found: dict[str, int] = {}
    if not keys:
        return found, 0
    for contact_id, external_id in Contact.objects.filter(external_id__in=keys).values_list(
        "id", "external_id"
    ):
        found[external_id] = contact_id
    as_email: dict[str, str] = {}
    for key in keys - found.keys():
        if "@" in key:
            with contextlib.suppress(ValueError):
                as_email[normalize_email(key)] = key
    if as_email:
        for contact_id, email in Contact.objects.filter(email__in=as_email).values_list(
            "id", "email"
        ):
            found[as_email[email]] = contact_id
    missing = keys - found.keys()
    if not create or not missing:
        return found, 0
    now = timezone.now()
    new_emails = {email: key for email, key in as_email.items() if key in missing}
    new_exts = missing - set(new_emails.values())
    base = {**NEW_CONTACT, "source": source, "attributes": {}}
    inserted = insert_many(
        Contact,
        [*FIELDS, "created_at", "updated_at"],
        [[*({**base, "email": email}[f] for f in FIELDS), now, now] for email in new_emails]
        + [[*({**base, "external_id": ext}[f] for f in FIELDS), now, now] for ext in new_exts],
        ignore_conflicts=True,  # a concurrent writer may have created some: theirs stand
    )
    lookup = Q(email__in=new_emails) | Q(external_id__in=new_exts)
    created_ids = []
    for contact_id, external_id, email in Contact.objects.filter(lookup).values_list(
        "id", "external_id", "email"
    ):
        key = new_emails.get(email, external_id)
        if key in missing and key not in found:
            found[key] = contact_id
            created_ids.append(contact_id)
    insert_many(
        StageChange,
        ["contact_id", "from_stage", "to_stage", "changed_at", "source", "created_at"],
        ((cid, "", Stage.LEAD, now, source, now) for cid in created_ids),
    )
    return found, inserted

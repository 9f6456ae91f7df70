"""Upserting contacts in batches: the one write path for CSV import and the REST API.

A batch is matched against the base with one indexed query (external ids or e-mails),
merged in memory as plain dicts, and written with a few set-based statements in one
transaction. Matching rules: by external id first, else by e-mail. A row whose e-mail
belongs to a different contact than its external id is refused, never merged silently.

Stage history: a StageChange row is written when an existing contact's stage changes;
a contact's first stage needs none (it is the stage it was created with, at created_at).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import DataError, IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from regua.core.ingest import BatchResult, CleanBatch, Status
from regua.lib.brazil import DEFAULT_TIME_ZONE
from regua.lib.bulk import fetch_in, insert_many, update_many
from regua.lib.parsing import normalize_email
from regua.lib.text import search_key
from regua.users.models import User

from ..models import Contact, Stage, StageChange
from .clean import ContactInput, clean_contact
from .relations import RelationWriter

Row = tuple[int, Mapping[str, Any]]
# fmt: off
# Every column the batch reads and writes, in insert order.
FIELDS = [
    "external_id", "email", "first_name", "last_name", "search_name", "phone", "birth_date",
    "gender", "city", "state", "country", "time_zone", "language", "stage", "source",
    "relationship_type", "owner_id", "attributes",
]
NEW_CONTACT = {
    "id": None, "external_id": None, "email": None, "first_name": "", "last_name": "",
    "search_name": "", "phone": "", "birth_date": None, "gender": "", "city": "", "state": "",
    "country": "BR", "time_zone": DEFAULT_TIME_ZONE, "language": "pt-br", "stage": Stage.LEAD,
    "relationship_type": "", "owner_id": None,
}
STAGE_CHANGE_FIELDS = [
    "contact_id", "from_stage", "to_stage", "changed_at", "source", "changed_by_id", "created_at",
]
# fmt: on


@dataclass
class _Planned:
    """A contact the batch will create or change, and the rows that asked for it."""

    row: dict[str, Any]
    new: bool = False
    lines: list[int] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)
    inputs: list[ContactInput] = field(default_factory=list)
    old_stage: str = ""


class _Plan:
    """The batch matched against the base: which rows create, which change which contact."""

    def __init__(self, items: Sequence[tuple[int, ContactInput]], source: str) -> None:
        self.source = source
        exts = {item.external_id for _line, item in items if item.external_id}
        emails = {item.email for _line, item in items if item.email}
        found = fetch_in(Contact, ["id", *FIELDS], external_id=exts, email=emails)
        self.plans = {row["id"]: _Planned(row, old_stage=row["stage"]) for row in found}
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
    if "first_name" in changed or "last_name" in changed:
        full_name = f"{row['first_name']} {row['last_name']}"
        row["search_name"] = item.search_name or search_key(full_name)
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


def contacts_clean(rows: Sequence[Row]) -> CleanBatch:
    """Clean `rows` ((line, data) pairs keyed by field name; see clean.field_name)."""
    batch = CleanBatch()
    for line, data in rows:
        item, errors = clean_contact(data)
        if errors:
            batch.result.fail(line, errors)
        else:
            batch.items.append((line, item))
    return batch


def contacts_write(
    batch: CleanBatch, *, source: str, changed_by: User | None = None
) -> BatchResult:
    """Create or update the cleaned contacts; report each row."""
    result, items = batch.result, batch.items
    if not items:
        return result
    try:
        with transaction.atomic():
            _write_batch(items, result, source=source, changed_by=changed_by)
    except (IntegrityError, DataError):
        # Another writer took one of our keys between our read and our write, or the
        # database refused a value. Redo the batch one row at a time so that only the rows
        # that really fail are refused.
        for line, item in items:
            single = BatchResult()
            try:
                with transaction.atomic():
                    _write_batch([(line, item)], single, source=source, changed_by=changed_by)
            except (IntegrityError, DataError) as exc:
                single = BatchResult()
                single.fail(line, [("", _("could not be saved: %(error)s") % {"error": exc})])
            result.merge(single)
    return result


def contacts_upsert(
    rows: Sequence[Row], *, source: str, changed_by: User | None = None
) -> BatchResult:
    """Clean, then create or update the contacts in `rows`; report each row."""
    return contacts_write(contacts_clean(rows), source=source, changed_by=changed_by)


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
        columns = sorted(names)
        update_many(
            Contact,
            [*columns, "updated_at"],
            (
                [*(p.row[c] for c in columns), now, p.row["id"]]
                for p in changed
                if p.changed == names
            ),
        )
    planned = [*plan.plans.values(), *plan.new]
    touched = RelationWriter(now=now, source=source).write(
        [(p.row["id"], p.inputs, p.new) for p in planned if p.inputs]
    )
    by = changed_by.pk if changed_by else None
    insert_many(
        StageChange,
        STAGE_CHANGE_FIELDS,
        (
            (p.row["id"], p.old_stage, p.row["stage"], now, source, by, now)
            for p in changed
            if "stage" in p.changed
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
            result.record(line, "updated" if index and p.new else status, p.row["id"])


def _insert_new(new: list[_Planned], now: datetime) -> None:
    """Insert the new contacts and give each plan the id the database chose."""
    if not new:
        return
    rows = ([*(p.row[f] for f in FIELDS), now, now] for p in new)
    insert_many(Contact, [*FIELDS, "created_at", "updated_at"], rows, staged=True)
    exts = {p.row["external_id"]: p for p in new if p.row["external_id"]}
    emails = {p.row["email"]: p for p in new if p.row["email"]}
    for row in fetch_in(Contact, ["id", "external_id", "email"], external_id=exts, email=emails):
        planned = exts.get(row["external_id"]) or emails.get(row["email"])
        if planned is not None:
            planned.row["id"] = row["id"]


def contacts_resolve(keys: set[str], *, create: bool, source: str) -> tuple[dict[str, int], int]:
    """Map customer keys (external id or e-mail) to contact ids, creating the missing ones.

    Returns the mapping and how many contacts were created. A key that is no contact's
    external id and is a valid address is an e-mail; anything else is an external id.
    """
    if not keys:
        return {}, 0
    as_email: dict[str, str] = {}
    for key in keys:
        if "@" in key:
            try:
                as_email[normalize_email(key)] = key
            except ValueError:
                pass
    found: dict[str, int] = {}
    rows = fetch_in(Contact, ["id", "external_id", "email"], external_id=keys, email=as_email)
    for row in rows:  # an external id match wins over an e-mail match
        if row["email"] in as_email:
            found.setdefault(as_email[row["email"]], row["id"])
    for row in rows:
        if row["external_id"] in keys:
            found[row["external_id"]] = row["id"]
    missing = keys - found.keys()
    if not create or not missing:
        return found, 0
    now = timezone.now()
    new_emails = {email: key for email, key in as_email.items() if key in missing}
    new_exts = missing - set(new_emails.values())
    base = {**NEW_CONTACT, "source": source, "attributes": {}}
    fresh = [{**base, "email": email} for email in new_emails]
    fresh += [{**base, "external_id": ext} for ext in new_exts]
    inserted = insert_many(
        Contact,
        [*FIELDS, "created_at", "updated_at"],
        ([*(row[f] for f in FIELDS), now, now] for row in fresh),
        ignore_conflicts=True,  # a concurrent writer may have created some: theirs stand
        staged=True,
    )
    for row in fetch_in(
        Contact, ["id", "external_id", "email"], external_id=new_exts, email=new_emails
    ):
        key = new_emails.get(row["email"]) or row["external_id"]
        if key in missing:
            found[key] = row["id"]
    return found, inserted

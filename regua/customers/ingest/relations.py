"""The parts of an incoming contact that live in other tables: tags, consent, company role.

Each is written set-based for the whole batch and returns the ids of the contacts it
changed, so the batch can report existing ones as updated.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from django.db.models import Q

from regua.lib.bulk import fetch_in, insert_many, update_many
from regua.lib.text import search_key

from ..models import (
    Company,
    Consent,
    ConsentChange,
    ConsentPurpose,
    ConsentStatus,
    ContactRole,
    ContactTag,
    LegalBasis,
    PowerRole,
    Tag,
)
from .clean import ContactInput

Entry = tuple[int, list[ContactInput], bool]  # contact id, the inputs naming it, is it new
TERMS = ("purpose", "legal_basis", "text_version")
STAMPS = ("created_at", "updated_at")
DEFAULT_TERMS = {
    "purpose": ConsentPurpose.MARKETING.value,
    "legal_basis": LegalBasis.CONSENT.value,
    "text_version": "",
}


class RelationWriter:
    def __init__(self, *, now: datetime, source: str) -> None:
        self.now = now
        self.source = source

    def write(self, entries: Sequence[Entry]) -> set[int]:
        # Contacts created by this batch have no rows in these tables yet: only the
        # others need looking up.
        self.existing_ids = {contact_id for contact_id, _inputs, new in entries if not new}
        return self.tags(entries) | self.consents(entries) | self.companies(entries)

    def tags(self, entries: Sequence[Entry]) -> set[int]:
        wanted: dict[tuple[int, str], str] = {}
        for contact_id, inputs, _new in entries:
            for item in inputs:
                for name in item.tags:
                    wanted[(contact_id, Tag.key_for(name))] = name
        if not wanted:
            return set()
        tag_ids = tags_ensure({key: name for (_cid, key), name in wanted.items()}, self.now)
        old = {cid for cid, _key in wanted} & self.existing_ids
        existing = set(
            ContactTag.objects.filter(contact_id__in=old, tag_id__in=tag_ids.values()).values_list(
                "contact_id", "tag_id"
            )
            if old
            else []
        )
        new = {(cid, tag_ids[key]) for cid, key in wanted} - existing
        insert_many(
            ContactTag,
            ["contact_id", "tag_id", "created_at"],
            ((cid, tid, self.now) for cid, tid in new),
            ignore_conflicts=True,
        )
        return {cid for cid, _tid in new}

    def consents(self, entries: Sequence[Entry]) -> set[int]:
        """Consents given or withdrawn, with their terms (purpose, legal basis, text
        version: those the item gave, else the current row's, else marketing on
        consent); a row changes, and gets a history line, when any of them differs."""
        wanted: dict[tuple[int, str], tuple[str, dict[str, str]]] = {}
        for contact_id, inputs, _new in entries:
            for item in inputs:
                for channel, granted in item.consents.items():
                    given = ConsentStatus.GRANTED if granted else ConsentStatus.WITHDRAWN
                    wanted[(contact_id, channel)] = (given.value, item.consent_terms)
        if not wanted:
            return set()
        old = {cid for cid, _ch in wanted} & self.existing_ids
        columns = ["id", "contact_id", "channel", "status", *TERMS]
        existing = {
            (row["contact_id"], row["channel"]): row
            for row in fetch_in(Consent, columns, contact=old)
        }
        changes = []
        for key, (status, stated) in wanted.items():
            row = existing.get(key)
            terms = tuple(stated.get(t, row[t] if row else DEFAULT_TERMS[t]) for t in TERMS)
            if row is None or (row["status"], *(row[t] for t in TERMS)) != (status, *terms):
                changes.append((key, status, terms))
        now, source = self.now, self.source
        insert_many(
            Consent,
            ["contact_id", "channel", "status", "source", "recorded_at", *TERMS, *STAMPS],
            (
                (cid, ch, status, source, now, *terms, now, now)
                for (cid, ch), status, terms in changes
                if (cid, ch) not in existing
            ),
        )
        update_many(
            Consent,
            ["status", "source", "recorded_at", *TERMS, "updated_at"],
            (
                (status, source, now, *terms, now, existing[key]["id"])
                for key, status, terms in changes
                if key in existing
            ),
        )
        insert_many(
            ConsentChange,
            ["contact_id", "channel", "status", "source", "recorded_at", *TERMS, "created_at"],
            ((cid, ch, status, source, now, *terms, now) for (cid, ch), status, terms in changes),
        )
        return {cid for (cid, _ch), _status, _terms in changes}

    def companies(self, entries: Sequence[Entry]) -> set[int]:
        wanted: dict[tuple[int, str], ContactInput] = {}
        for contact_id, inputs, _new in entries:
            for item in inputs:
                if item.company:
                    wanted[(contact_id, item.company)] = item
        if not wanted:
            return set()
        company_ids = companies_ensure({ref for _cid, ref in wanted})
        old = {cid for cid, _ref in wanted} & self.existing_ids
        existing = (
            {
                (r.contact_id, r.company_id): r
                for r in ContactRole.objects.filter(
                    contact_id__in=old, company_id__in=company_ids.values()
                )
            }
            if old
            else {}
        )
        creates, updates, touched = [], [], set()
        for (contact_id, ref), item in wanted.items():
            role = existing.get((contact_id, company_ids[ref]))
            if role is None:
                creates.append(
                    (
                        contact_id,
                        company_ids[ref],
                        item.role or PowerRole.OTHER,
                        item.job_title or "",
                        self.now,
                        self.now,
                    )
                )
                touched.add(contact_id)
                continue
            wanted_role = (item.role or role.role, item.job_title or role.job_title)
            if wanted_role != (role.role, role.job_title):
                updates.append((*wanted_role, self.now, role.pk))
                touched.add(contact_id)
        insert_many(
            ContactRole,
            ["contact_id", "company_id", "role", "job_title", "created_at", "updated_at"],
            creates,
            ignore_conflicts=True,
        )
        update_many(ContactRole, ["role", "job_title", "updated_at"], updates)
        return touched


def tags_ensure(names: dict[str, str], now: datetime) -> dict[str, int]:
    """Tag ids by key for `names` ({key: name}), creating the tags that do not exist."""
    insert_many(
        Tag,
        ["name", "key", "created_at", "updated_at"],
        ((name, key, now, now) for key, name in names.items()),
        ignore_conflicts=True,
    )
    return dict(Tag.objects.filter(key__in=names).values_list("key", "id"))


def companies_ensure(refs: set[str]) -> dict[str, int]:
    """Company ids for references (external id, else name), creating the ones not found."""
    keys = {ref: search_key(ref) for ref in refs}
    refs_by_key: dict[str, list[str]] = defaultdict(list)
    for ref, key in keys.items():
        refs_by_key[key].append(ref)

    def lookup() -> dict[str, int]:
        companies = list(
            Company.objects.filter(Q(external_id__in=refs) | Q(search_name__in=keys.values()))
            .order_by("id")
            .values_list("id", "external_id", "search_name")
        )
        found = {ext: cid for cid, ext, _key in companies if ext in keys}
        for cid, _ext, key in companies:
            for ref in refs_by_key.get(key, []):
                found.setdefault(ref, cid)
        return found

    found = lookup()
    missing = [ref for ref in refs if ref not in found]
    if missing:
        Company.objects.bulk_create(
            [Company(name=ref, search_name=keys[ref]) for ref in missing], batch_size=500
        )
        found = lookup()
    return found

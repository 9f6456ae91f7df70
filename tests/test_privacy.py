"""LGPD: consent with its legal basis, the data subject's page (export, erasure), the
audit log and the retention rules (regua/privacy, docs/security.md §LGPD)."""

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

import pytest
import time_machine
import yaml
from django.apps import apps
from django.contrib.admin.sites import site
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from regua.cadences.models import Cadence
from regua.cadences.tracking import contact_unsubscribe
from regua.cadences.yaml_io import cadence_import
from regua.customers.ingest import contacts_clean
from regua.customers.ingest.clean import field_name
from regua.customers.models import Consent, ConsentChange, Contact, Interaction
from regua.customers.services import consent_set
from regua.events.models import Event
from regua.imports.models import ImportJob
from regua.privacy import audit
from regua.privacy.admin import AuditEntryAdmin
from regua.privacy.export import SECTIONS
from regua.privacy.models import AuditAction, AuditEntry, Erasure, RetentionRun
from regua.privacy.retention import retention_apply, retention_due
from regua.segments.models import Segment
from regua.users.models import User

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}

MakeContact = Callable[..., Contact]
ClientFor = Callable[[User], Client]


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8")
    return response.content.decode("utf-8")


# -- Consent with its terms ---------------------------------------------------------------


def test_a_consent_is_recorded_with_purpose_legal_basis_version_and_who(
    make_contact: MakeContact, alice: User
) -> None:
    # given a contact
    contact = make_contact()
    # when an agent records a consent with its terms
    changed = consent_set(
        contact=contact,
        channel="whatsapp",
        status="granted",
        source="ligação",
        at=timezone.now(),
        purpose="service",
        legal_basis="contract",
        text_version="termos-v2",
        actor=alice,
    )
    # then the current row and its history carry them, and the audit log says who
    assert changed
    consent = Consent.objects.get(contact=contact, channel="whatsapp")
    assert (consent.purpose, consent.legal_basis, consent.text_version) == (
        "service",
        "contract",
        "termos-v2",
    )
    change = ConsentChange.objects.get(contact=contact)
    assert (change.purpose, change.legal_basis, change.changed_by) == ("service", "contract", alice)
    entry = AuditEntry.objects.get(action=AuditAction.CHANGED_CONSENT)
    assert entry.actor == alice and entry.contact_id == contact.pk
    assert entry.detail["legal_basis"] == "contract"


def test_the_same_consent_again_changes_nothing_but_a_new_wording_does(
    make_contact: MakeContact,
) -> None:
    contact = make_contact()
    at = timezone.now()
    assert consent_set(contact=contact, channel="email", status="granted", source="site", at=at)
    assert not consent_set(contact=contact, channel="email", status="granted", source="x", at=at)
    assert consent_set(
        contact=contact, channel="email", status="granted", source="site", at=at, text_version="v2"
    )
    assert ConsentChange.objects.filter(contact=contact).count() == 2
    assert AuditEntry.objects.filter(action=AuditAction.CHANGED_CONSENT).count() == 2


def test_an_unsubscribe_keeps_the_terms_and_is_audited_as_the_person(
    make_contact: MakeContact,
) -> None:
    contact = make_contact()
    consent_set(
        contact=contact,
        channel="email",
        status="granted",
        source="site",
        at=timezone.now(),
        purpose="survey",
        text_version="v7",
    )
    assert contact_unsubscribe(contact, ["email"], source="unsubscribe link") == ["email"]
    consent = Consent.objects.get(contact=contact)
    assert (consent.status, consent.purpose, consent.text_version) == ("withdrawn", "survey", "v7")
    last = AuditEntry.objects.filter(action=AuditAction.CHANGED_CONSENT).first()
    assert last is not None and last.actor is None and last.detail["status"] == "withdrawn"


def test_imports_and_the_api_take_the_consent_terms(api: Client) -> None:
    # CSV rows with Portuguese headers and values (headers mapped as the importer does)
    rows = [
        {
            "email": "ana@exemplo.com.br",
            "email_consent": "sim",
            "finalidade": "pesquisa",
            "Base legal": "interesse legítimo",
            "Versão do termo": "2025-03",
        },
        {"email": "bia@exemplo.com.br", "email_consent": "sim", "base_legal": "palpite"},
    ]
    batch = contacts_clean(
        [(line, {field_name(k): v for k, v in row.items()}) for line, row in enumerate(rows, 2)]
    )
    assert [error.field for error in batch.result.errors] == ["consent_legal_basis"]
    ((_line, item),) = batch.items
    assert item.consent_terms == {
        "purpose": "survey",
        "legal_basis": "legitimate_interest",
        "text_version": "2025-03",
    }
    # the API: the terms in, and the consents out with them
    response = api.post(
        "/api/contacts",
        {
            "email": "carla@exemplo.com.br",
            "consent": {"email": True, "sms": False},
            "consent_legal_basis": "contract",
            "consent_text_version": "app-1.4",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    consents = {c["channel"]: c for c in response.json()["contact"]["consents"]}
    assert consents["email"]["legal_basis"] == "contract"
    assert consents["email"]["text_version"] == "app-1.4"
    assert consents["email"]["purpose"] == "marketing"
    assert consents["sms"]["status"] == "withdrawn"
    # sent again with a new wording: one more history line, not a duplicate
    api.post(
        "/api/contacts",
        {"email": "carla@exemplo.com.br", "consent": {"email": True}, "consent_text_version": "2"},
        content_type="application/json",
    )
    email_history = ConsentChange.objects.filter(
        contact__email="carla@exemplo.com.br", channel="email"
    )
    assert list(email_history.order_by("id").values_list("text_version", "legal_basis")) == [
        ("app-1.4", "contract"),
        ("2", "contract"),
    ]
    schema = api.get("/api/openapi.json").json()["components"]["schemas"]
    assert {"purpose", "legal_basis", "text_version"} <= set(schema["ConsentOut"]["properties"])
    assert "consent_legal_basis" in schema["ContactIn"]["properties"]


def test_the_contact_page_shows_the_consent_history_with_its_terms(
    make_contact: MakeContact, alice: User, client_for: ClientFor
) -> None:
    contact = make_contact()
    consent_set(
        contact=contact,
        channel="email",
        status="granted",
        source="site",
        at=timezone.now(),
        legal_basis="legitimate_interest",
        text_version="termo-9",
        actor=alice,
    )
    page = _body(client_for(alice).get(f"/contacts/{contact.pk}/", **EN))
    assert "Legitimate interest (art. 7, IX)" in page
    assert "termo-9" in page
    assert reverse("privacy:subject", args=[contact.pk]) in page


# -- The data subject's page -----------------------------------------------------------------


def test_staff_record_a_consent_on_the_data_subject_page(
    make_contact: MakeContact, alice: User, client_for: ClientFor
) -> None:
    contact = make_contact(owner=alice)
    client = client_for(alice)
    response = client.post(
        reverse("privacy:consent", args=[contact.pk]),
        {
            "channel": "sms",
            "status": "granted",
            "purpose": "service",
            "legal_basis": "consent",
            "text_version": "balcao-1",
            "source": "",
        },
    )
    assert response.status_code == 302
    change = ConsentChange.objects.get(contact=contact)
    assert (change.channel, change.source, change.changed_by) == ("sms", "staff", alice)
    page = _body(client.get(reverse("privacy:subject", args=[contact.pk]), **EN))
    assert "balcao-1" in page and "Service messages" in page


def test_private_portfolios_hide_the_page_and_erasure_is_for_managers(
    make_contact: MakeContact,
    alice: User,
    bob: User,
    manager: User,
    client_for: ClientFor,
    settings: Any,
) -> None:
    settings.PORTFOLIO_VISIBILITY = "own"
    contact = make_contact(owner=alice)
    subject = reverse("privacy:subject", args=[contact.pk])
    erase = reverse("privacy:erase", args=[contact.pk])
    owners_page = client_for(alice).get(subject)
    assert owners_page.status_code == 200
    assert erase not in _body(owners_page)  # no erase link for an agent
    assert erase in _body(client_for(manager).get(subject))
    assert client_for(bob).get(subject).status_code == 404
    assert client_for(bob).get(reverse("privacy:export_json", args=[contact.pk])).status_code == 404
    assert client_for(alice).post(erase, {"confirmation": f"ERASE {contact.pk}"}).status_code == 403
    assert client_for(manager).get(erase).status_code == 200
    assert not Erasure.objects.exists()


def test_erasure_needs_the_typed_phrase(
    make_contact: MakeContact, manager: User, client_for: ClientFor
) -> None:
    contact = make_contact(first_name="Yolanda", email="yolanda@exemplo.com.br")
    client = client_for(manager)
    url = reverse("privacy:erase", args=[contact.pk])
    wrong = client.post(url, {"confirmation": "erase"}, **EN)
    assert wrong.status_code == 200 and "exactly" in _body(wrong)
    assert Contact.objects.get(pk=contact.pk).email == "yolanda@exemplo.com.br"
    right = client.post(url, {"confirmation": f"erase  {contact.pk}"}, **EN)
    assert right.status_code == 302
    assert Contact.objects.get(pk=contact.pk).email is None
    entry = AuditEntry.objects.get(action=AuditAction.ERASED_CONTACT)
    assert entry.actor == manager and entry.ip == "127.0.0.1"
    page = _body(client.get(reverse("privacy:subject", args=[contact.pk]), **EN))
    assert "Erased on" in page and "yolanda" not in page.lower()


def test_the_phrase_is_the_one_shown_in_the_users_language(
    make_contact: MakeContact, manager: User, client_for: ClientFor
) -> None:
    contact = make_contact()
    client = client_for(manager)
    url = reverse("privacy:erase", args=[contact.pk])
    page = _body(client.get(url, HTTP_ACCEPT_LANGUAGE="pt-br"))
    phrase = page.split("<strong>", 1)[1].split("</strong>", 1)[0]
    assert phrase.endswith(f" {contact.pk}")
    client.post(url, {"confirmation": phrase}, HTTP_ACCEPT_LANGUAGE="pt-br")
    assert Erasure.objects.filter(contact=contact).exists()


def _rich(make_contact: MakeContact, alice: User) -> Contact:
    contact = make_contact(first_name="Wanda", email="wanda@exemplo.com.br", owner=alice)
    consent_set(
        contact=contact, channel="email", status="granted", source="site", at=timezone.now()
    )
    Interaction.objects.create(
        contact=contact,
        kind="note",
        body='=HYPERLINK("http://evil.example","click")',
        occurred_at=timezone.now(),
        author=alice,
    )
    Event.objects.create(
        contact=contact,
        name="nps_answered",
        occurred_at=timezone.now(),
        properties={"score": 10, "comment": "Ótimo"},
        fingerprint=1,
    )
    return contact


def test_the_json_export_holds_every_section_and_is_audited(
    make_contact: MakeContact, alice: User, client_for: ClientFor
) -> None:
    contact = _rich(make_contact, alice)
    response = client_for(alice).get(reverse("privacy:export_json", args=[contact.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="contact-{contact.pk}.json"'
    document = json.loads(_body(response))
    assert list(document) == [section.name for section in SECTIONS]
    assert document["contact"][0]["email"] == "wanda@exemplo.com.br"
    assert document["consent_history"][0]["legal_basis"] == "consent"
    assert document["survey_answers"][0]["properties"] == {"score": 10, "comment": "Ótimo"}
    assert document["interactions"][0]["body"].startswith("=HYPERLINK")
    entry = AuditEntry.objects.get(action=AuditAction.EXPORTED_SUBJECT)
    assert (entry.actor, entry.contact_id, entry.detail) == (alice, contact.pk, {"format": "json"})


def test_the_csv_export_is_one_long_table_with_safe_cells(
    make_contact: MakeContact, alice: User, client_for: ClientFor
) -> None:
    contact = _rich(make_contact, alice)
    response = client_for(alice).get(reverse("privacy:export_csv", args=[contact.pk]))
    rows = list(csv.reader(io.StringIO(_body(response).lstrip("\ufeff"))))
    assert rows[0] == ["section", "record", "field", "value"]
    cells = {(section, field): value for section, _record, field, value in rows[1:]}
    assert cells[("contact", "email")] == "wanda@exemplo.com.br"
    assert cells[("interactions", "body")] == '\'=HYPERLINK("http://evil.example","click")'
    assert json.loads(cells[("survey_answers", "properties")])["score"] == 10
    assert not any(value.startswith(("=", "+", "-", "@")) for *_x, value in rows[1:])
    assert AuditEntry.objects.filter(action=AuditAction.EXPORTED_SUBJECT).count() == 1


def test_the_export_covers_every_table_that_points_at_a_contact() -> None:
    models = {
        model
        for model in apps.get_models()
        for field in model._meta.fields
        if field.is_relation and field.related_model is Contact
    }
    covered = set()
    for section in SECTIONS:
        covered.add(section.rows(Contact(pk=0)).model)
    assert models - covered == set(), "add these to regua/privacy/export.py SECTIONS"


def test_the_export_command_writes_json(
    make_contact: MakeContact, alice: User, capsys: Any
) -> None:
    contact = _rich(make_contact, alice)
    call_command("privacy-export", str(contact.pk))
    document = json.loads(capsys.readouterr().out)
    assert document["contact"][0]["id"] == contact.pk
    call_command("privacy-export", str(contact.pk), "--format", "csv")
    change = ConsentChange.objects.get(contact=contact)
    line = f"consent_history,{change.pk},legal_basis,consent"
    assert line in capsys.readouterr().out.replace("\r", "")


# -- The audit log -----------------------------------------------------------------------------


def test_exports_regua_changes_and_hand_overs_are_audited(
    make_contact: MakeContact, alice: User, bob: User, manager: User, client_for: ClientFor
) -> None:
    client = client_for(manager)
    make_contact(city="Natal")
    segment = Segment.objects.create(
        name="Natal",
        rule={"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "Natal"}]},
    )
    assert client.get(reverse("segments:export", args=[segment.pk])).status_code == 200
    document = {
        "key": "aniversario",
        "name": "Aniversário",
        "objective": "loyalty",
        "trigger": {"kind": "manual"},
        "steps": [
            {
                "key": "parabens",
                "offset": 0,
                "channel": "email",
                "message": {"pt-br": {"subject": "Oi", "body": "Olá {{ contact.first_name }}"}},
            }
        ],
    }
    cadence, _created = cadence_import(yaml.safe_dump(document, allow_unicode=True))
    client.post(reverse("cadences:status", args=[cadence.key]), {"status": "paused"})
    client.post(
        reverse("agenda:handover"), {"from_user": alice.pk, "to_user": bob.pk, "scope": "tasks"}
    )
    actions = dict(AuditEntry.objects.values_list("action", "label"))
    assert actions[AuditAction.VIEWED_EXPORT] == f"segment {segment.pk}"
    assert actions[AuditAction.CHANGED_REGUA] == "cadence aniversario"
    assert AuditAction.HANDED_OVER in actions
    regua = AuditEntry.objects.get(action=AuditAction.CHANGED_REGUA)
    assert regua.detail == {"change": "status", "status": "paused"}
    assert regua.actor == manager
    assert Cadence.objects.get(key="aniversario").status == "paused"


def test_the_audit_log_is_for_managers_filtered_and_paged(
    alice: User, manager: User, client_for: ClientFor
) -> None:
    for n in range(55):
        audit.record(alice, AuditAction.VIEWED_EXPORT, object_type="dashboard", object_id=n)
    audit.record(manager, AuditAction.CHANGED_REGUA, object_type="cadence", object_id="boas")
    old = audit.record(manager, AuditAction.ERASED_CONTACT, contact=7)
    AuditEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    url = reverse("privacy:audit")
    assert client_for(alice).get(url).status_code == 403
    client = client_for(manager)
    first = _body(client.get(url, **EN))
    assert "Page 1 of 2" in first and "cadence boas" in first
    second = _body(client.get(url, {"page": 2}, **EN))
    assert "contact #7" in second
    only_regua = _body(client.get(url, {"action": "changed_regua"}, **EN))
    assert "cadence boas" in only_regua and "dashboard 3" not in only_regua
    by_alice = _body(client.get(url, {"user": alice.pk}, **EN))
    assert "Page 1 of 2" in by_alice and "cadence boas" not in by_alice
    recent = (timezone.localdate() - timedelta(days=30)).isoformat()
    assert "contact #7" not in _body(client.get(url, {"start": recent, "page": 2}, **EN))
    earlier = (timezone.localdate() - timedelta(days=35)).isoformat()
    assert "contact #7" in _body(client.get(url, {"end": earlier}, **EN))


def test_the_audit_log_is_read_only_in_the_admin(manager: User) -> None:
    request = RequestFactory().get("/admin/")
    request.user = manager
    admin = AuditEntryAdmin(AuditEntry, site)
    assert not admin.has_add_permission(request)
    assert not admin.has_change_permission(request)
    assert not admin.has_delete_permission(request)


def test_audit_entries_record_the_address_of_the_request_only_for_staff(alice: User) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
    request.user = alice
    entry = audit.record(alice, AuditAction.VIEWED_EXPORT, object_type="x", request=request)
    assert entry.ip == "203.0.113.9"


# -- Retention -------------------------------------------------------------------------------


def test_retention_prunes_old_audit_entries_and_import_files(
    settings: Any, alice: User, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.REGUA_AUDIT_RETENTION_MONTHS = 12
    settings.REGUA_IMPORT_FILE_RETENTION_DAYS = 30
    now = timezone.now()
    old = audit.record(alice, AuditAction.VIEWED_EXPORT, object_type="old")
    AuditEntry.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=400))
    audit.record(alice, AuditAction.VIEWED_EXPORT, object_type="new")
    finished = ImportJob.objects.create(
        kind="contacts",
        file=ContentFile(b"email\nx@y.z\n", name="old.csv"),
        original_name="old.csv",
        status="done",
        finished_at=now - timedelta(days=31),
    )
    recent = ImportJob.objects.create(
        kind="contacts",
        file=ContentFile(b"email\n", name="new.csv"),
        original_name="new.csv",
        status="done",
        finished_at=now - timedelta(days=2),
    )
    path = finished.file.path
    summary = retention_apply(now=now)
    assert (summary.audit_entries_deleted, summary.import_files_deleted) == (1, 1)
    assert not AuditEntry.objects.filter(object_type="old").exists()
    finished.refresh_from_db()
    assert finished.file.name == "" and not (tmp_path / path).exists()
    assert ImportJob.objects.get(pk=recent.pk).file.name.endswith(".csv")
    assert AuditEntry.objects.filter(action=AuditAction.APPLIED_RETENTION).count() == 1


def test_inactive_contacts_are_erased_only_when_configured(
    settings: Any, make_contact: MakeContact
) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=800), tick=False):
        quiet = make_contact(first_name="Quieta")
        busy = make_contact(first_name="Ativa")
    Event.objects.create(
        contact=busy, name="login", occurred_at=timezone.now(), properties={}, fingerprint=2
    )
    settings.REGUA_ERASE_INACTIVE_MONTHS = 0
    assert retention_apply().contacts_erased == 0
    settings.REGUA_ERASE_INACTIVE_MONTHS = 24
    assert retention_apply().contacts_erased == 1
    assert Erasure.objects.get().contact_id == quiet.pk
    assert Erasure.objects.get().reason == "retention"
    assert Contact.objects.get(pk=quiet.pk).first_name == ""
    assert Contact.objects.get(pk=busy.pk).first_name == "Ativa"
    assert retention_apply().contacts_erased == 0  # erased once


def test_the_worker_applies_retention_once_a_day_after_its_hour(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.REGUA_RETENTION_HOUR = 4
    settings.TIME_ZONE = "America/Sao_Paulo"
    day = timezone.localdate()
    early = datetime.combine(day, time(), timezone.get_current_timezone())
    assert not retention_due(now=early + timedelta(hours=3))
    # the run is a background job, queued when the worker's transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        assert retention_due(now=early + timedelta(hours=5))
    assert not retention_due(now=early + timedelta(hours=6))
    assert RetentionRun.objects.get().finished_at is not None
    settings.REGUA_AUDIT_RETENTION_MONTHS = 0
    assert not retention_due(now=early + timedelta(days=1, hours=5))

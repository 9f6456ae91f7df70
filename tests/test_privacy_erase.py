"""Erasing a data subject: afterwards nothing in the database names them, and the
business's figures still count (regua/privacy/erase.py, docs/security.md §LGPD).

The person, Xiomara Quintanilha, is written everywhere Régua can hold her (profile,
consents, notes, orders, events, régua messages and their rendered texts, tasks, tickets
with messages and an attachment, the points ledger, a cached dashboard, an import's
report, the admin site's log, a worker's last error) inside the access matrix's world
of other people. After erasure, every text and JSON column of every table of the
database, found by introspection, is searched for her e-mail, phone, names and CPF.
"""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from support.access_world import World, world_build

from regua.agenda.models import Task, TaskKind
from regua.analytics.models import CustomerScore, Snapshot
from regua.cadences.models import (
    Delivery,
    DeliveryStatus,
    Enrollment,
    OutboxMessage,
    Suppression,
)
from regua.commerce.models import Order
from regua.customers.models import (
    Consent,
    ConsentChange,
    Contact,
    ContactRole,
    ContactTag,
    Interaction,
    StageChange,
    Tag,
)
from regua.customers.services import consent_set
from regua.desk.models import Attachment, Message, MessageKind, Ticket
from regua.desk.services import File, ticket_open
from regua.events.ingest import fingerprint
from regua.events.models import Event, EventSummary
from regua.imports.models import ImportJob
from regua.loyalty.models import PointEntry, ReferralCode
from regua.ops.models import WorkerBeat
from regua.privacy.erase import AlreadyErased, contact_erase
from regua.privacy.models import AuditAction, AuditEntry, Erasure

pytestmark = pytest.mark.django_db

EMAIL = "xiomara.q@exemplo.com.br"
PHONE = "+5581987650123"
CPF = "123.456.789-09"
TERMS = [EMAIL, PHONE, "xiomara", "quintanilha", CPF, "ext-xq-77"]

# PostgreSQL's type codes (OIDs) of text and JSON columns; SQLite gives declared types.
PG_TEXT_TYPES = {25, 1042, 1043, 114, 3802}


def _text_columns() -> list[tuple[str, str]]:
    """Every (table, column) of the database that can hold text: found by introspection,
    so a table added later is searched too. On SQLite, untyped columns count (the
    full-text index's own tables declare none)."""
    found = []
    introspection = connection.introspection
    with connection.cursor() as cursor:
        for table in introspection.table_names(cursor):
            for column in introspection.get_table_description(cursor, table):
                code = column.type_code
                if connection.vendor == "postgresql":
                    texty = code in PG_TEXT_TYPES
                else:
                    declared = str(code).lower()
                    texty = declared == "" or any(
                        word in declared for word in ("char", "text", "clob", "json")
                    )
                if texty:
                    found.append((table, column.name))
    return found


def where_found(term: str) -> list[str]:
    """The table.column names where `term` appears, case-insensitively."""
    quote = connection.ops.quote_name
    hits = []
    with connection.cursor() as cursor:
        for table, column in _text_columns():
            cursor.execute(
                f"SELECT COUNT(*) FROM {quote(table)} "
                f"WHERE LOWER(CAST({quote(column)} AS TEXT)) LIKE %s",
                [f"%{term.lower()}%"],
            )
            if cursor.fetchone()[0]:
                hits.append(f"{table}.{column}")
    return hits


def person_everywhere(world: World) -> Contact:
    """Xiomara, in every table that can hold something about her."""
    now = timezone.now()
    person = Contact.objects.create(
        first_name="Xiomara",
        last_name="Quintanilha",
        email=EMAIL,
        phone=PHONE,
        external_id="ext-xq-77",
        city="Olinda",
        state="PE",
        birth_date=date(1990, 5, 17),
        gender="female",
        source="indicação da Xiomara",
        owner=world.alice,
        attributes={"cpf": CPF, "apelido": "Xiomarinha"},
    )
    ContactTag.objects.create(contact=person, tag=Tag.objects.create(name="VIP"))
    consent_set(
        contact=person,
        channel="email",
        status="granted",
        source="formulário da Xiomara",
        at=now,
        text_version="v3",
    )
    consent_set(contact=person, channel="whatsapp", status="granted", source="loja", at=now)
    StageChange.objects.create(
        contact=person, to_stage="customer", changed_at=now, source="Xiomara ligou"
    )
    ContactRole.objects.create(
        contact=person, company=world.shared, role="user", job_title="Sócia Quintanilha"
    )
    Interaction.objects.create(
        contact=person,
        kind="call",
        subject="Ligação com Xiomara",
        body=f"Pediu retorno no {PHONE}; CPF {CPF}.",
        outcome="Xiomara vai pensar",
        occurred_at=now,
        author=world.alice,
    )
    for n, total in enumerate(["150.00", "250.00"], start=1):
        Order.objects.create(
            contact=person,
            external_id=f"XQ-{n}",
            ordered_at=now - timedelta(days=n),
            total=Decimal(total),
            status="paid",
        )
    events: list[tuple[str, Any]] = [
        ("signup", {"email": EMAIL, "name": "Xiomara Quintanilha", "plan": "pro"}),
        ("nps_answered", {"score": 3, "category": "detractor", "comment": "Xiomara não gostou"}),
        (
            "email_clicked",
            {"regua": "boas-vindas", "step": "welcome", "url": f"https://x/?e={EMAIL}"},
        ),
        ("profile", {'contato "principal"': PHONE, "plan": "free"}),
        ("odd", [EMAIL, PHONE]),
        ("custom", {"plan": f"plano da {EMAIL}"}),
    ]
    for n, (name, properties) in enumerate(events):
        Event.objects.create(
            contact=person,
            name=name,
            occurred_at=now - timedelta(minutes=n),
            properties=properties,
            fingerprint=fingerprint(f"xq:{n}", {})[0],
        )
    EventSummary.objects.create(
        contact=person,
        name="login",
        month=date(2024, 1, 1),
        count=12,
        first_at=now - timedelta(days=400),
        last_at=now - timedelta(days=380),
    )
    step = world.step
    sent_enrollment = Enrollment.objects.create(
        cadence=world.cadence, contact=person, occurrence="xq-1", entered_at=now
    )
    sent = Delivery.objects.create(
        enrollment=sent_enrollment,
        step=step,
        cadence=world.cadence,
        contact=person,
        channel="email",
        status=DeliveryStatus.FAILED,
        due_at=now,
        sent_at=now,
        reason=f"bounced: {EMAIL} mailbox full",
    )
    OutboxMessage.objects.create(
        delivery=sent, channel="email", to=EMAIL, subject="Olá, Xiomara!", text="Oi Xiomara"
    )
    OutboxMessage.objects.create(channel="email", to=EMAIL, subject="Re: pedido", text="Olá!")
    waiting = Enrollment.objects.create(
        cadence=world.cadence, contact=person, occurrence="xq-2", entered_at=now
    )
    Delivery.objects.create(
        enrollment=waiting,
        step=step,
        cadence=world.cadence,
        contact=person,
        channel="email",
        status=DeliveryStatus.SCHEDULED,
        due_at=now + timedelta(days=1),
    )
    Suppression.objects.create(
        channel="email", address=EMAIL, reason="bounce", detail=f"{EMAIL} bounced"
    )
    Task.objects.create(
        kind=TaskKind.CALL,
        title="Ligar para Xiomara",
        notes="Xiomara prefere de manhã",
        outcome="Falei com a Xiomara",
        contact=person,
        owner=world.alice,
        due_on=timezone.localdate(),
    )
    ticket = ticket_open(
        contact=person,
        subject="Pedido da Xiomara atrasado",
        body=f"Sou Xiomara Quintanilha, CPF {CPF}, telefone {PHONE}.",
        order_ref="XQ-1",
        by=world.alice,
        files=[File("xiomara-rg.txt", b"documento", "text/plain")],
    )
    Message.objects.create(
        ticket=ticket,
        kind=MessageKind.REPLY,
        body="Olá Xiomara, já verificamos.",
        created_at=now,
        message_id="<xiomara.reply@exemplo.com.br>",
    )
    Ticket.objects.filter(pk=ticket.pk).update(rating=2, rating_comment="Xiomara: demorou")
    PointEntry.objects.create(
        contact=person, kind="adjust", points=50, reason="Cortesia Xiomara", occurred_at=now
    )
    ReferralCode.objects.create(contact=person)
    CustomerScore.objects.create(
        contact=person,
        as_of=timezone.localdate(),
        purchases=2,
        spend=Decimal("400.00"),
        first_purchase_on=timezone.localdate() - timedelta(days=2),
        last_purchase_on=timezone.localdate() - timedelta(days=1),
        activity_cell="",
        relationship_type="",
    )
    Snapshot.objects.create(
        key="dashboard:xq",
        as_of=timezone.localdate(),
        payload={"tables": {"top_customers": {"rows": [["Xiomara Quintanilha", EMAIL, 400]]}}},
        seconds=1.0,
    )
    ImportJob.objects.create(
        kind="contacts",
        file="imports/clientes.csv",
        original_name="clientes.csv",
        status="done",
        errors=[
            {"line": 3, "field": "email", "message": f"{EMAIL} aparece duas vezes"},
            {"line": 4, "field": "phone", "message": "telefone inválido"},
        ],
    )
    LogEntry.objects.create(
        user=world.admin,
        content_type=ContentType.objects.get_for_model(Contact),
        object_id=str(person.pk),
        object_repr=str(person),
        action_flag=CHANGE,
        change_message=f"Changed email to {EMAIL}",
    )
    WorkerBeat.objects.create(
        name="worker-1",
        host="localhost",
        pid=1,
        started_at=now,
        beat_at=now,
        last_error=f"SMTP refused {EMAIL}",
    )
    return person


@pytest.fixture
def world(settings: Any, tmp_path: Any) -> World:
    settings.MEDIA_ROOT = str(tmp_path)
    return world_build()


def test_after_erasure_no_column_of_any_table_names_the_person(world: World) -> None:
    # given Xiomara everywhere, and Bento (another customer) where he already is
    person = person_everywhere(world)
    before = {term: where_found(term) for term in TERMS}
    assert all(before.values()), before  # the search finds her before
    assert len(before["xiomara"]) >= 15, before["xiomara"]
    bento = where_found(world.bobs.email or "")
    # when she is erased
    contact_erase(contact=person, actor=world.manager)
    # then no text or JSON column of any table holds her e-mail, phone, names or CPF
    after = {term: where_found(term) for term in TERMS}
    assert after == {term: [] for term in TERMS}
    # and Bento's data is untouched (the search still finds what is there)
    assert where_found(world.bobs.email or "") == bento


def test_erasure_keeps_the_figures_the_reports_count(world: World) -> None:
    # given Xiomara's history
    person = person_everywhere(world)
    counts = {
        model: model.objects.filter(contact=person).count()
        for model in (Order, Event, EventSummary, Delivery, Enrollment, Ticket, Task, Interaction)
    }
    messages = Message.objects.filter(ticket__contact=person).count()
    revenue = Order.objects.filter(contact=person).aggregate(total=Sum("total"))["total"]
    points = PointEntry.objects.filter(contact=person).aggregate(total=Sum("points"))["total"]
    # when she is erased
    result = contact_erase(contact=person, actor=world.manager)
    # then her rows are still there and count the same
    for model, count in counts.items():
        assert model.objects.filter(contact=person).count() == count, model
    assert Message.objects.filter(ticket__contact=person).count() == messages
    assert Order.objects.filter(contact=person).aggregate(total=Sum("total"))["total"] == revenue
    assert PointEntry.objects.filter(contact=person).aggregate(t=Sum("points"))["t"] == points
    # with what the reports read kept: the NPS score, the régua and step of a click
    nps = Event.objects.get(contact=person, name="nps_answered")
    assert nps.properties == {"score": 3, "category": "detractor"}
    click = Event.objects.get(contact=person, name="email_clicked")
    assert click.properties == {"regua": "boas-vindas", "step": "welcome"}
    assert Event.objects.get(contact=person, name="signup").properties == {"plan": "pro"}
    assert Event.objects.get(contact=person, name="odd").properties == {}
    # and what only identified her gone
    assert not ContactTag.objects.filter(contact=person).exists()
    assert not ContactRole.objects.filter(contact=person).exists()
    assert not Attachment.objects.filter(message__ticket__contact=person).exists()
    assert not ReferralCode.objects.filter(contact=person).exists()
    assert not OutboxMessage.objects.filter(to=EMAIL).exists()
    assert not Suppression.objects.filter(address=EMAIL).exists()
    # the import report keeps the other person's error
    job = ImportJob.objects.get(original_name="clientes.csv")
    assert job.errors == [{"line": 4, "field": "phone", "message": "telefone inválido"}]
    # and the counts are on record
    assert result.counts["events_event"] >= 5
    assert Erasure.objects.get(contact=person).counts == result.counts


def test_erasure_withdraws_every_consent_and_ends_the_reguas(world: World) -> None:
    person = person_everywhere(world)
    contact_erase(contact=person, actor=world.manager)
    assert set(Consent.objects.filter(contact=person).values_list("status", flat=True)) == {
        "withdrawn"
    }
    withdrawn = ConsentChange.objects.filter(contact=person, source="erased")
    assert sorted(withdrawn.values_list("channel", flat=True)) == ["email", "whatsapp"]
    # the history keeps what was agreed to, and when
    first = ConsentChange.objects.filter(contact=person, channel="email").order_by("id").first()
    assert first is not None and first.text_version == "v3" and first.source == ""
    assert not Enrollment.objects.filter(contact=person, status="active").exists()
    assert not Delivery.objects.filter(contact=person, status="scheduled").exists()
    assert Delivery.objects.filter(contact=person, status="cancelled", reason="erased").count() == 1


def test_the_erasure_is_audited_without_personal_data(world: World) -> None:
    person = person_everywhere(world)
    contact_erase(contact=person, actor=world.manager)
    entry = AuditEntry.objects.get(action=AuditAction.ERASED_CONTACT)
    assert entry.actor == world.manager
    assert entry.contact_id == person.pk
    assert entry.label == f"contact #{person.pk}"
    written = f"{entry.label} {entry.detail} {entry.object_id}".lower()
    assert not any(term.lower() in written for term in TERMS)


def test_a_contact_is_erased_once(world: World) -> None:
    person = person_everywhere(world)
    contact_erase(contact=person)
    with pytest.raises(AlreadyErased):
        contact_erase(contact=person)
    assert AuditEntry.objects.filter(action=AuditAction.ERASED_CONTACT).count() == 1


def test_the_erase_command_asks_for_yes(world: World, capsys: Any) -> None:
    person = person_everywhere(world)
    with pytest.raises(CommandError, match="--yes"):
        call_command("privacy-erase", str(person.pk))
    assert Contact.objects.get(pk=person.pk).email == EMAIL
    call_command("privacy-erase", str(person.pk), "--yes")
    assert Contact.objects.get(pk=person.pk).email is None
    assert '"customers_contact": 1' in capsys.readouterr().out
    with pytest.raises(CommandError, match="already"):
        call_command("privacy-erase", str(person.pk), "--yes")


def test_an_erased_person_never_enters_a_regua_again() -> None:
    """The anonymous row stays for the counts, but no trigger (an event arriving later
    under the old id, inactivity, an attribute) brings it back into a régua."""
    from support.reguas import contacts_with, regua_on, reguas_activate

    from regua.cadences.tick import tick

    start = timezone.now() - timedelta(hours=1)
    reguas_activate([regua_on("volta", "visit")], start)
    erased, kept = contacts_with({}, 2, start)
    contact_erase(contact=erased)
    for contact in (erased, kept):
        Event.objects.create(
            contact=contact,
            name="visit",
            occurred_at=start + timedelta(minutes=5),
            fingerprint=fingerprint(f"visit:{contact.pk}", {})[0],
        )
    summary = tick(now=start + timedelta(minutes=10), send=False)
    assert summary.total.enrolled == 1
    assert list(Enrollment.objects.values_list("contact_id", flat=True)) == [kept.pk]

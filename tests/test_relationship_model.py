"""Relationship model per segment: for a dedicated segment a régua's message steps become
tasks for each contact's account manager, unless the step opts out (docs/cadences.md
§Relationship model per segment)."""

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from regua.agenda.models import Task
from regua.cadences.models import Cadence, Delivery, DeliveryStatus, OutboxMessage, Step
from regua.cadences.tick import tick
from regua.cadences.yaml_io import cadence_export, cadence_import, cadence_set_status
from regua.customers.models import Consent, Contact
from regua.events.ingest import fingerprint
from regua.events.models import Event
from regua.segments.models import RelationshipModel, Segment
from regua.users.models import User

pytestmark = pytest.mark.django_db

SP = ZoneInfo("America/Sao_Paulo")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=SP)  # a Monday, 10:00 in São Paulo
KEY_ACCOUNTS = {
    "match": "all",
    "conditions": [{"field": "attributes.carteira", "op": "eq", "value": "key"}],
}

STEPS = """
  - key: welcome
    name: Boas-vindas
    offset: 0
    channel: email
    message:
      pt-br:
        subject: "Olá, {{ contact.first_name }}"
        body: "Oi, {{ contact.first_name }}! [Sua conta](https://loja.example/conta)"
  - key: receipt
    name: Recibo
    offset: 0
    channel: email
    for_dedicated: message
    message:
      pt-br: {subject: "Seu recibo", body: "Obrigado pela compra."}
  - key: lembrete
    name: Lembrete
    offset: 0
    channel: whatsapp
    message:
      pt-br: {body: "Oi, {{ contact.first_name }}, tudo certo?"}
"""


@pytest.fixture(autouse=True)
def _engine_settings(settings: Any) -> None:
    settings.EMAIL_BACKEND = "regua.cadences.channels.outbox.EmailBackend"
    settings.REGUA_QUIET_HOURS = "21:00-08:00"
    settings.REGUA_FREQUENCY_CAP = 3
    settings.REGUA_FREQUENCY_DAYS = 7
    import regua.analytics.recommendations as recommendations

    recommendations._popular_cache = None


def regua(*, audience: str = "[]", steps: str = STEPS, key: str = "dedicada") -> Cadence:
    document = f"""
key: {key}
name: Régua {key}
objective: retention
trigger: {{kind: event, event: signup}}
audience: {audience}
steps:
{steps}
"""
    cadence, _created = cadence_import(document)
    with time_machine.travel(T0, tick=False):
        cadence_set_status(cadence, "active")
    cadence.refresh_from_db()
    return cadence


def key_accounts(model: str = RelationshipModel.DEDICATED) -> Segment:
    return Segment.objects.create(name="Key accounts", rule=KEY_ACCOUNTS, relationship_model=model)


@pytest.fixture
def customer(make_contact: Callable[..., Contact]) -> Callable[..., Contact]:
    """A contact who agreed to e-mail and WhatsApp; a key account when asked."""

    def make(*, key: bool = False, **fields: Any) -> Contact:
        fields.setdefault("phone", "+5581999990000")
        if key:
            fields["attributes"] = {"carteira": "key"}
        contact = make_contact(**fields)
        for channel in ("email", "whatsapp"):
            Consent.objects.create(
                contact=contact,
                channel=channel,
                status="granted",
                recorded_at=T0 - timedelta(days=90),
            )
        return contact

    return make


def signup(contact: Contact, at: datetime) -> None:
    Event.objects.create(
        contact=contact,
        name="signup",
        occurred_at=at,
        properties={},
        fingerprint=fingerprint(f"{contact.pk}:signup:{at.isoformat()}", {})[0],
    )


def emails_to(contact: Contact) -> list[str]:
    return list(
        OutboxMessage.objects.filter(to=contact.email, channel="email")
        .order_by("id")
        .values_list("subject", flat=True)
    )


def test_a_dedicated_audience_turns_the_e_mail_into_a_task_for_the_owner(  # type: ignore[no-untyped-def]
    customer, alice: User
) -> None:
    # given a régua whose audience is a dedicated segment, and a key account with an owner
    key_accounts()
    regua(audience="[{field: segment, op: in, value: [Key accounts]}]")
    clara = customer(key=True, first_name="Clara", owner=alice)
    signup(clara, T0 + timedelta(minutes=5))
    # when the step falls due
    summary = tick(now=T0 + timedelta(minutes=6))
    # then Alice has a task with the message to send, and no e-mail went out for it
    welcome = Delivery.objects.get(step__key="welcome")
    assert (welcome.channel, welcome.status) == ("task", DeliveryStatus.SENT)
    task = Task.objects.get(delivery=welcome)
    assert (task.owner, task.contact, task.kind, task.source) == (alice, clara, "email", "regua")
    assert task.title == "Olá, Clara"
    assert task.notes == "Oi, Clara! Sua conta: https://loja.example/conta"
    assert task.due_on == date(2026, 3, 2)
    # the WhatsApp step became a task too; the step that opts out was e-mailed
    whatsapp = Task.objects.get(delivery__step__key="lembrete")
    assert (whatsapp.kind, whatsapp.title) == ("other", "Lembrete (WhatsApp)")
    assert whatsapp.notes == "Oi, Clara, tudo certo?"
    assert emails_to(clara) == ["Seu recibo"]
    assert not OutboxMessage.objects.filter(channel="whatsapp").exists()
    assert summary.total.sent == 3


def test_a_re_tick_creates_no_second_task(customer, alice: User) -> None:  # type: ignore[no-untyped-def]
    key_accounts()
    regua()
    clara = customer(key=True, owner=alice)
    signup(clara, T0 + timedelta(minutes=5))
    tick(now=T0 + timedelta(minutes=6))
    again = tick(now=T0 + timedelta(minutes=6))
    later = tick(now=T0 + timedelta(minutes=30))
    assert (again.total.scheduled, again.total.sent, later.total.sent) == (0, 0, 0)
    assert Task.objects.count() == 2  # welcome and lembrete, once each
    assert Delivery.objects.count() == 3


def test_a_task_step_sent_again_makes_no_second_task(customer, alice: User) -> None:  # type: ignore[no-untyped-def]
    # A worker killed after the task was written but before the delivery was recorded
    # sends it again: the task is unique per delivery, so the second send finds it.
    from regua.cadences.channels.base import Outgoing
    from regua.cadences.channels.task import TaskBackend

    key_accounts()
    regua()
    clara = customer(key=True, owner=alice)
    signup(clara, T0 + timedelta(minutes=5))
    tick(now=T0 + timedelta(minutes=6))
    welcome = Delivery.objects.get(step__key="welcome")
    payload = {"today": "2026-03-01", "contact_id": clara.pk, "owner_id": alice.pk}
    result = TaskBackend().send(
        Outgoing(delivery_id=welcome.pk, channel="task", to="", subject="Olá", payload=payload)
    )
    assert result.outcome == "sent"
    assert Task.objects.filter(delivery=welcome).count() == 1


def test_any_dedicated_segment_counts_not_only_the_audience(customer, alice: User) -> None:  # type: ignore[no-untyped-def]
    # given a régua for everyone, a key account and an ordinary customer, both owned
    key_accounts()
    regua()
    clara, bruno = customer(key=True, owner=alice), customer(owner=alice)
    for contact in (clara, bruno):
        signup(contact, T0 + timedelta(minutes=5))
    # when the step falls due
    tick(now=T0 + timedelta(minutes=6))
    # then only the key account's steps became tasks
    assert set(Task.objects.values_list("contact_id", flat=True)) == {clara.pk}
    assert emails_to(clara) == ["Seu recibo"]
    assert emails_to(bruno) == ["Olá, Cliente", "Seu recibo"]


def test_a_contact_without_an_owner_gets_the_e_mail(customer, alice: User) -> None:  # type: ignore[no-untyped-def]
    key_accounts()
    regua()
    alice.is_active = False
    alice.save()
    orphan, former = customer(key=True), customer(key=True, owner=alice)
    for contact in (orphan, former):
        signup(contact, T0 + timedelta(minutes=5))
    tick(now=T0 + timedelta(minutes=6))
    assert not Task.objects.exists()
    assert emails_to(orphan) == emails_to(former) == ["Olá, Cliente", "Seu recibo"]
    assert OutboxMessage.objects.filter(channel="whatsapp").count() == 2


def test_automated_and_other_models_send_as_before(customer, alice: User) -> None:  # type: ignore[no-untyped-def]
    key_accounts(RelationshipModel.PERSONAL)
    Segment.objects.create(name="Todos", rule={"match": "all", "conditions": []})
    regua()
    clara = customer(key=True, owner=alice)
    signup(clara, T0 + timedelta(minutes=5))
    tick(now=T0 + timedelta(minutes=6))
    assert not Task.objects.exists()
    assert set(Delivery.objects.values_list("channel", flat=True)) == {"email", "whatsapp"}
    assert emails_to(clara) == ["Olá, Cliente", "Seu recibo"]


def test_the_holdout_still_gets_nothing(customer, alice: User) -> None:  # type: ignore[no-untyped-def]
    key_accounts()
    cadence = regua()
    Cadence.objects.filter(pk=cadence.pk).update(holdout_percent=50)
    contacts = [customer(key=True, owner=alice) for _ in range(12)]
    for contact in contacts:
        signup(contact, T0 + timedelta(minutes=5))
    tick(now=T0 + timedelta(minutes=6))
    cadence.refresh_from_db()
    held = {c.pk for c in contacts if cadence.in_holdout(c.pk)}
    assert held and held != {c.pk for c in contacts}
    tasked = set(Task.objects.values_list("contact_id", flat=True))
    assert tasked == {c.pk for c in contacts} - held


def test_a_task_skips_quiet_hours_and_the_cap_but_not_withdrawn_consent(  # type: ignore[no-untyped-def]
    customer, alice: User
) -> None:
    # given two key accounts signing up at 22:00, one of whom withdrew e-mail consent
    key_accounts()
    regua()
    clara, bruno = customer(key=True, owner=alice), customer(key=True, owner=alice)
    Consent.objects.filter(contact=bruno, channel="email").update(status="withdrawn")
    night = datetime(2026, 3, 2, 22, 0, tzinfo=SP)
    for contact in (clara, bruno):
        signup(contact, night)
    # when the tick runs in the quiet hours
    tick(now=night + timedelta(minutes=1))
    # then Clara's tasks exist already (the receipt e-mail waits for the morning) and
    # Bruno gets no task to e-mail him
    steps = dict(Task.objects.filter(contact=clara).values_list("delivery__step__key", "kind"))
    assert steps == {"welcome": "email", "lembrete": "other"}
    receipt = Delivery.objects.get(contact=clara, step__key="receipt")
    assert receipt.status == DeliveryStatus.SCHEDULED and receipt.reason == "quiet hours"
    welcome = Delivery.objects.get(contact=bruno, step__key="welcome")
    assert welcome.status == DeliveryStatus.SUPPRESSED
    assert list(Task.objects.filter(contact=bruno).values_list("kind", flat=True)) == ["other"]


def test_the_decision_is_one_query_per_step_whatever_the_number_of_contacts(  # type: ignore[no-untyped-def]
    customer, alice: User
) -> None:
    key_accounts()
    regua()

    def queries_for(n: int, at: datetime) -> int:
        for _ in range(n):
            signup(customer(key=True, owner=alice), at - timedelta(minutes=1))
        with CaptureQueriesContext(connection) as captured:
            tick(now=at, send=False)
        return len(captured)

    assert queries_for(2, T0 + timedelta(hours=1)) == queries_for(40, T0 + timedelta(hours=2))
    assert Delivery.objects.filter(channel="task").count() == 2 * 42


def test_the_step_opt_out_survives_a_yaml_round_trip() -> None:
    cadence = regua()
    text = cadence_export(cadence)
    assert text.count("for_dedicated: message") == 1  # the default is left out
    cadence.delete()
    imported, _created = cadence_import(text)
    steps = dict(imported.steps.values_list("key", "for_dedicated"))
    assert steps == {"welcome": "task", "receipt": "message", "lembrete": "task"}
    assert cadence_export(imported) == text


def test_an_unknown_opt_out_value_is_refused_on_import() -> None:
    from regua.cadences.yaml_io import CadenceError

    with pytest.raises(CadenceError) as error:
        regua(steps=STEPS.replace("for_dedicated: message", "for_dedicated: maybe"))
    assert any("for_dedicated" in problem for problem in error.value.problems)


def test_the_regua_page_shows_the_model_and_which_steps_become_tasks(  # type: ignore[no-untyped-def]
    client_for, manager: User
) -> None:
    key_accounts()
    cadence = regua(audience="[{field: segment, op: in, value: [Key accounts]}]")
    page = client_for(manager).get(
        reverse("cadences:detail", args=[cadence.key]), HTTP_ACCEPT_LANGUAGE="en"
    )
    body = page.content.decode()
    assert "Dedicated" in body
    assert "become tasks for each contact&#x27;s account manager" in body
    assert "Step “Recibo” opts out" in body
    assert 'data-testid="becomes-task-welcome"' in body
    assert 'data-testid="becomes-task-lembrete"' in body
    assert 'data-testid="becomes-task-receipt"' not in body


def test_the_regua_page_says_when_nothing_becomes_a_task(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    cadence = regua()
    body = (
        client_for(manager)
        .get(reverse("cadences:detail", args=[cadence.key]), HTTP_ACCEPT_LANGUAGE="en")
        .content
    )
    assert "no segment is dedicated" in body.decode()
    assert b"becomes-task-" not in body


def test_the_step_editor_saves_the_opt_out(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    from regua.cadences.forms import StepForm

    cadence = regua()
    step = cadence.steps.get(key="welcome")
    data = {k: str(v) for k, v in StepForm.initial_for(step).items() if v not in (None, "")}
    data["for_dedicated"] = "message"
    url = reverse("cadences:step", args=[cadence.key, step.key])
    response = client_for(manager).post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    assert Step.objects.get(pk=step.pk).for_dedicated == "message"
    page = client_for(manager).get(url).content.decode()
    assert 'value="message" checked' in page or 'value="message" selected' in page


def test_the_segment_form_saves_the_model_and_explains_each(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    client = client_for(manager)
    page = client.get(reverse("segments:new"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Each customer has an account manager" in page
    assert page.count('name="relationship_model"') == len(RelationshipModel.values)
    response = client.post(
        reverse("segments:new"),
        {
            "name": "Contas-chave",
            "rule": '{"match": "all", "conditions": []}',
            "relationship_model": "dedicated",
        },
    )
    assert response.status_code == 302
    segment = Segment.objects.get(name="Contas-chave")
    assert segment.relationship_model == "dedicated"
    # a post without the field keeps the model
    client.post(
        reverse("segments:edit", args=[segment.pk]),
        {"name": "Contas-chave", "rule": '{"match": "all", "conditions": []}'},
    )
    segment.refresh_from_db()
    assert segment.relationship_model == "dedicated"
    assert (
        "Dedicated"
        in client.get(reverse("segments:list"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    )

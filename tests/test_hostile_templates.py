"""Server-side template injection: the known payloads at every place a user-written
template is saved or rendered — a régua step in the editor, a régua imported as YAML,
the step's test send, the sending worker, and the service desk's reply templates (saved,
and rendered into a reply). Each is refused when saved, with a clear message, or renders
without showing anything of the program: no settings, no secret key, no os module, no
Python object, and never more than the output bound."""

import html
import re
from datetime import timedelta
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from regua.cadences.forms import StepForm
from regua.cadences.models import Cadence, Delivery, DeliveryStatus, Enrollment, OutboxMessage
from regua.cadences.rendering import check_message, render_message, sample_context
from regua.cadences.sandbox import MAX_OUTPUT_CHARS
from regua.cadences.sending import send_due
from regua.cadences.yaml_io import cadence_import, cadence_set_status
from regua.customers.models import Consent, Contact
from regua.desk.models import ReplyTemplate
from regua.desk.services import ticket_open
from regua.users.models import User

pytestmark = pytest.mark.django_db

# Reaching Python's objects, the settings, the OS, the request.
INJECTIONS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__.os.system('id') }}",
    "{{ namespace.__init__.__globals__['os'].environ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__ }}",
    "{{ config }}",
    "{{ config.items() }}",
    "{{ request }}",
    "{{ request.environ }}",
    "{{ settings.SECRET_KEY }}",
    "{{ contact|attr('__class__')|attr('__mro__') }}",
    "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f')|attr('\\x5f\\x5fbase\\x5f\\x5f') }}",
    "{{ (contact|attr('__init__'))|attr('__globals__') }}",
    "{{ '{0.__class__.__init__.__globals__}'.format(cycler) }}",
    "{{ '{0.__class__}'.format(contact) }}",
    "{{ '{0.__class__.__mro__}'.format_map({'0': contact.first_name}) }}",
    "{{ contact.tags|map(attribute='__class__')|map(attribute='__base__')|list }}",
    "{{ cycler }}",
    "{{ '%s'|format(cycler(1, 2)) }}",
    "{{ contact.attributes.get|string }}",
    "{{ range }}",
    "{{ dict.__subclasses__() }}",
    "{{ brand.name.__class__.__dict__ }}",
    "{{ today.__class__.__module__ }}",
    "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{{ c }}{% endfor %}",
]
# Taking the process's memory or time.
EXHAUSTION = [
    "{{ range(10**9)|list }}",
    "{{ 'x' * 10**9 }}",
    "{{ 10 ** 100000000 }}",
    "{{ 'x'|center(999999999) }}",
    "{{ '%999999999s'|format('x') }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ ('x' * 50000)|replace('x', 'x' * 50000) }}",
    "{{ (['x' * 100000] * 100000)|join }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
    "{% set s %}{% for i in range(100000) %}{{ 'x' * 100000 }}{% endfor %}{% endset %}.",
    "{% set ns = namespace(s='x' * 99999) %}{% for i in range(40) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
]
PAYLOADS = INJECTIONS + EXHAUSTION
# The pages and the worker get one of each kind (the renderer above gets them all).
AT_EVERY_ENTRY = [
    INJECTIONS[0],  # Python's class tree
    INJECTIONS[1],  # os through a global's __globals__
    INJECTIONS[5],  # the template's context
    "{{ config }}",
    "{{ settings.SECRET_KEY }}",
    "{{ contact|attr('__class__')|attr('__mro__') }}",
    "{{ '{0.__class__.__init__.__globals__}'.format(cycler) }}",
    "{{ '%s'|format(cycler(1, 2)) }}",
    "{{ contact.tags|map(attribute='__class__')|map(attribute='__base__')|list }}",
    "{{ 'x' * 10**9 }}",
    "{{ '%999999999s'|format('x') }}",
    EXHAUSTION[8],  # nested loops
    EXHAUSTION[9],  # exponential macro recursion
    EXHAUSTION[12],  # a block gathering text in a loop
]
# What must never appear anywhere a template's result or error is shown.
FORBIDDEN = [
    "regua.settings",
    "DJANGO_SETTINGS_MODULE",
    "<module",
    "<class",
    "<function",
    "<built-in",
    "object at 0x",
    "uid=",
    "posix",
    "subprocess",
    "Traceback",
]


def assert_nothing_leaks(text: str) -> None:
    assert settings.SECRET_KEY not in text
    for word in FORBIDDEN:
        assert word not in text, f"{word!r} shown"


def page_text(response: Any) -> str:
    """What the page shows apart from the template source echoed back in its fields."""
    page = response.content.decode()
    page = re.sub(r"<textarea[^>]*>.*?</textarea>", "", page, flags=re.DOTALL)
    return html.unescape(page)


REGUA = {
    "key": "hostil",
    "name": "Régua hostil",
    "objective": "conversion",
    "trigger": {"kind": "manual"},
    "steps": [
        {
            "key": "oi",
            "offset": 0,
            "channel": "email",
            "message": {"pt-br": {"subject": "Olá", "body": "Olá, {{ contact.first_name }}!"}},
        }
    ],
}


def regua(body: str | None = None) -> Cadence:
    """The régua, its step's body replaced by `body` straight in the database (as an
    older version or a bug might have left it), past every check."""
    cadence, _created = cadence_import(yaml.safe_dump(REGUA, allow_unicode=True))
    if body is not None:
        step = cadence.steps.get()
        step.message = {"pt-br": {"subject": "Olá", "body": body}}
        step.save(update_fields=["message"])
    return cadence


def english(client: Client) -> Client:
    client.cookies["django_language"] = "en"
    return client


# -- The renderer itself ---------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_check_refuses_every_payload_saying_why(payload: str) -> None:
    problems = check_message("email", {"pt-br": {"subject": "Oi", "body": payload}})

    assert problems, f"{payload} was accepted"
    assert all(problem.message for problem in problems)
    assert_nothing_leaks(" ".join(str(problem) for problem in problems))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_rendering_a_payload_for_a_contact_never_shows_internals(payload: str) -> None:
    # render_message is what the worker calls: it may fail, but never leak or overflow
    try:
        rendered = render_message(
            "email", {"pt-br": {"subject": "Oi", "body": payload}}, "pt-br", sample_context()
        )
    except Exception as error:  # the worker records the reason
        assert_nothing_leaks(str(error))
    else:
        assert_nothing_leaks(rendered.text + rendered.html)
        assert len(rendered.text) <= MAX_OUTPUT_CHARS


def test_data_and_harmless_tools_still_work() -> None:
    body = (
        "{% set ns = namespace(total=0) %}{% for p in recommended_products %}"
        "{% set ns.total = ns.total + p.price %}{{ loop.index }}. {{ p.name }}\n{% endfor %}"
        "Total: {{ ns.total|brl }} · {{ '%s e %s'|format(contact.first_name, brand.name) }} · "
        "{{ '{:>8}'.format(contact.state) }} · {{ range(3)|join(',') }} · "
        "{{ dict(a=1)['a'] }} {{ contact.tags|join(' ') }} {{ contact.first_name.upper() }}"
    )

    assert check_message("sms", {"pt-br": {"body": body[:400]}}) == []
    text = render_message(
        "email", {"pt-br": {"subject": "x", "body": body}}, "pt-br", sample_context()
    ).text
    assert "1. Moedor de Café Manual" in text and "Total: R$ 201,40" in text
    assert "Mariana e Loja Exemplo" in text and "      SP" in text and "0,1,2" in text
    assert "1 vip newsletter MARIANA" in text


# -- The step editor --------------------------------------------------------------------


@pytest.mark.parametrize("payload", AT_EVERY_ENTRY)
def test_the_step_editor_refuses_the_payload_and_saves_nothing(
    client_for: Any, manager: User, payload: str
) -> None:
    cadence = regua()
    step = cadence.steps.get()
    posted = {
        name: ("on" if value is True else str(value))
        for name, value in {**StepForm.initial_for(step), "pt-br_body": payload}.items()
        if value not in (None, False)
    }

    response = english(client_for(manager)).post(
        reverse("cadences:step", args=[cadence.key, step.key]), posted
    )

    assert response.status_code == 200  # the editor again, with the problem
    shown = page_text(response)
    assert "message.pt-br.body" in shown
    assert_nothing_leaks(shown)
    step.refresh_from_db()
    assert step.message["pt-br"]["body"] == "Olá, {{ contact.first_name }}!"


@pytest.mark.parametrize("payload", AT_EVERY_ENTRY[:6] + AT_EVERY_ENTRY[-5:])
def test_a_yaml_import_with_the_payload_is_refused(
    client_for: Any, manager: User, payload: str
) -> None:
    document = {**REGUA, "key": "importada"}
    document["steps"] = [{**REGUA["steps"][0], "message": {"pt-br": {"body": payload}}}]
    client = english(client_for(manager))

    response = client.post(
        reverse("cadences:import"),
        {"document": yaml.safe_dump(document, allow_unicode=True)},
        follow=True,
    )

    assert not Cadence.objects.filter(key="importada").exists()
    shown = page_text(response)
    assert "steps" in shown and "body" in shown
    assert_nothing_leaks(shown)


# -- Preview (test send) and the worker --------------------------------------------------


@pytest.mark.parametrize("payload", AT_EVERY_ENTRY)
def test_the_test_send_of_a_step_saved_with_the_payload_shows_no_internals(
    client_for: Any, manager: User, make_contact: Any, settings: Any, payload: str
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    cadence = regua(payload)
    make_contact(first_name="Clara")
    client = english(client_for(manager))
    client.raise_request_exception = False

    response = client.post(reverse("cadences:step_test", args=[cadence.key, "oi"]), follow=True)

    assert response.status_code == 200
    shown = page_text(response)
    # refused for this contact with the reason, or shown as Clara would get it
    assert "does not render for Clara" in shown or "Rendered for Clara" in shown
    if payload in EXHAUSTION:
        assert "does not render for Clara" in shown
    assert_nothing_leaks(shown)


@pytest.mark.parametrize("payload", AT_EVERY_ENTRY)
def test_the_worker_fails_the_delivery_and_sends_nothing(
    make_contact: Any, settings: Any, payload: str
) -> None:
    settings.EMAIL_BACKEND = "regua.cadences.channels.outbox.EmailBackend"
    settings.REGUA_QUIET_HOURS = ""
    cadence = regua(payload)
    cadence_set_status(cadence, "active")
    contact: Contact = make_contact(first_name="Clara")
    now = timezone.now()
    Consent.objects.create(
        contact=contact, channel="email", status="granted", recorded_at=now - timedelta(days=1)
    )
    enrollment = Enrollment.objects.create(
        cadence=cadence, contact=contact, occurrence="manual", entered_at=now
    )
    delivery = Delivery.objects.create(
        enrollment=enrollment,
        step=cadence.steps.get(),
        cadence=cadence,
        contact=contact,
        channel="email",
        status=DeliveryStatus.SCHEDULED,
        due_at=now - timedelta(minutes=1),
    )

    send_due(now=now)

    delivery.refresh_from_db()
    if payload in EXHAUSTION or payload == INJECTIONS[0]:
        assert delivery.status == DeliveryStatus.FAILED
    if delivery.status == DeliveryStatus.FAILED:
        assert delivery.reason.startswith("template:")
        assert_nothing_leaks(delivery.reason)
        assert not OutboxMessage.objects.exists()
    else:  # it rendered for Clara: with nothing of the program in it
        assert delivery.status == DeliveryStatus.SENT
        sent = OutboxMessage.objects.get()
        assert_nothing_leaks(sent.subject + sent.text + sent.html)
        assert len(sent.text) <= MAX_OUTPUT_CHARS


# -- The service desk's reply templates --------------------------------------------------


@pytest.mark.parametrize("payload", AT_EVERY_ENTRY)
def test_a_reply_template_with_the_payload_is_refused_when_saved(
    client_for: Any, manager: User, payload: str
) -> None:
    response = client_for(manager).post(
        reverse("desk:template_new"),
        {"name": "Hostil", "kind": "", "body_pt": payload, "body_en": "", "position": 1},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    assert not ReplyTemplate.objects.filter(name="Hostil").exists()
    assert_nothing_leaks(page_text(response))


@pytest.mark.parametrize("payload", AT_EVERY_ENTRY)
def test_a_reply_template_saved_with_the_payload_renders_no_internals_into_a_reply(
    client_for: Any, manager: User, make_contact: Any, payload: str
) -> None:
    template = ReplyTemplate.objects.create(name="Hostil", body_pt=payload)
    ticket = ticket_open(contact=make_contact(), subject="Pedido", body="Cadê meu pedido?")
    client = client_for(manager)
    client.raise_request_exception = False

    response = client.get(
        reverse("desk:ticket", args=[ticket.pk]),
        {"template": template.pk},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    if payload in EXHAUSTION or payload == INJECTIONS[0]:
        assert "body_pt" in page_text(response)  # the reason, with the field it is in
    # refused or rendered into the reply box: either way nothing of the program shows
    assert_nothing_leaks(html.unescape(response.content.decode()))

"""Segment pages: save with a checked rule, live count, members, CSV export, portfolio
visibility, and a segment as a régua's audience."""

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from regua.cadences.forms import CadenceForm
from regua.cadences.models import Cadence
from regua.cadences.yaml_io import cadence_import
from regua.customers.models import Contact
from regua.segments import catalog
from regua.segments.models import Segment
from regua.segments.rules import check
from regua.users.models import User

pytestmark = pytest.mark.django_db

RECIFE = {"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "Recife"}]}


def sample_value(spec: dict[str, Any], op: str) -> Any:
    if op in {"within_days", "not_within_days"}:
        return 30
    if op in {"count_gte", "count_lte"}:
        return {"count": 2, "days": 30}
    if op in {"is_set", "is_not_set"}:
        return None
    if spec.get("choices"):
        first = spec["choices"][0][0]
        return [first] if op in {"in", "not_in"} else first
    return 3 if spec.get("value") == "number" else "x"


def test_every_field_and_operator_the_builder_offers_compiles(admin_user: User) -> None:
    Segment.objects.create(name="Recife", rule=RECIFE)
    for spec in catalog.fields():
        key = spec["key"] + ("plano" if spec["key"] == "attributes." else "")
        key = key + ("purchase" if key == "event." else "")
        for op in spec["ops"]:
            rule = {
                "match": "all",
                "conditions": [{"field": key, "op": op, "value": sample_value(spec, op)}],
            }
            assert check(rule) == [], (key, op)
            assert Contact.objects.filter(Segment(rule=rule).as_q()).count() >= 0


def test_a_segment_is_saved_only_with_a_rule_that_compiles(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    client = client_for(manager)
    client.cookies["django_language"] = "en"
    bad = {"match": "all", "conditions": [{"field": "orders.count", "op": "gte", "value": "x"}]}
    response = client.post(reverse("segments:new"), {"name": "Quebrado", "rule": json.dumps(bad)})
    assert response.status_code == 200
    assert "is not a number" in response.content.decode()
    assert not Segment.objects.exists()
    response = client.post(reverse("segments:new"), {"name": "Recife", "rule": json.dumps(RECIFE)})
    segment = Segment.objects.get(name="Recife")
    assert response.status_code == 302 and segment.rule == RECIFE
    page = client.get(reverse("segments:edit", args=[segment.pk])).content.decode()
    assert 'id="segment-fields"' in page and "builder.js" in page


def test_the_live_count_and_members_follow_the_portfolio(  # type: ignore[no-untyped-def]
    client_for, make_contact, manager: User, alice: User, settings
) -> None:
    settings.PORTFOLIO_VISIBILITY = "own"
    mine = make_contact(city="Recife", owner=alice, first_name="Clara")
    make_contact(city="Recife", first_name="Outra")
    make_contact(city="Natal")
    segment = Segment.objects.create(name="Recife", rule=RECIFE)
    count = reverse("segments:count")
    as_manager = client_for(manager).post(count, {"rule": json.dumps(RECIFE)})
    assert 'data-testid="live-count">2<' in as_manager.content.decode()
    as_agent = client_for(alice).post(count, {"rule": json.dumps(RECIFE)})
    assert 'data-testid="live-count">1<' in as_agent.content.decode()
    members = client_for(alice).get(reverse("segments:members", args=[segment.pk]))
    assert "Clara" in members.content.decode() and "Outra" not in members.content.decode()
    saved = client_for(alice).get(reverse("segments:saved_count", args=[segment.pk]))
    assert saved.content.decode().strip() == "1"
    assert mine.pk


def test_the_live_count_explains_a_broken_rule(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    rule = {"match": "all", "conditions": [{"field": "score.rfm_segment", "op": "in", "value": []}]}
    client = client_for(manager)
    client.cookies["django_language"] = "en"
    response = client.post(reverse("segments:count"), {"rule": json.dumps(rule)})
    assert 'data-testid="rule-problems"' in response.content.decode()
    assert "needs a list of values" in response.content.decode()


def test_agents_cannot_edit_segments(client_for, alice: User) -> None:  # type: ignore[no-untyped-def]
    response = client_for(alice).post(
        reverse("segments:new"), {"name": "X", "rule": json.dumps(RECIFE)}
    )
    assert response.status_code == 403  # signed in, but not a manager (docs/security.md)
    assert not Segment.objects.exists()


def test_the_csv_export_has_every_member_and_defuses_formulas(  # type: ignore[no-untyped-def]
    client_for, make_contact, manager: User
) -> None:
    for n in range(2105):  # more than one page of the export
        Contact.objects.create(email=f"c{n}@exemplo.com.br", city="Recife", first_name="Ana")
    make_contact(city="Recife", first_name='=HYPERLINK("http://mal.example")')
    segment = Segment.objects.create(name="Recife", rule=RECIFE)
    response = client_for(manager).get(reverse("segments:export", args=[segment.pk]))
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:4] == ["id", "first_name", "last_name", "email"]
    assert len(rows) == 1 + 2106
    assert any(r[1].startswith("'=HYPERLINK") for r in rows[1:])


def test_a_regua_takes_a_segment_as_its_audience(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    Segment.objects.create(name="Recife", rule=RECIFE)
    defaults = Path(__file__).parent.parent / "regua" / "cadences" / "defaults"
    cadence, _created = cadence_import((defaults / "birthday.yaml").read_text("utf-8"))
    initial = {**CadenceForm.initial_for(cadence), "audience_segment": "Recife"}
    data = {k: str(v) for k, v in initial.items() if v is not None and v is not False}
    response = client_for(manager).post(reverse("cadences:settings", args=[cadence.key]), data)
    assert response.status_code == 302, response.context["form"].errors
    cadence = Cadence.objects.get(pk=cadence.pk)
    assert cadence.audience[0] == {"field": "segment", "op": "in", "value": ["Recife"]}
    assert CadenceForm.initial_for(cadence)["audience_segment"] == "Recife"


def test_the_reguas_report_filters_by_segment(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    from regua.cadences.models import Enrollment
    from regua.cadences.report import cadence_uplift

    defaults = Path(__file__).parent.parent / "regua" / "cadences" / "defaults"
    cadence, _created = cadence_import((defaults / "birthday.yaml").read_text("utf-8"))
    recife = Segment.objects.create(name="Recife", rule=RECIFE)
    for n, city in enumerate(["Recife", "Recife", "Natal"]):
        contact = Contact.objects.create(email=f"r{n}@exemplo.com.br", city=city)
        Enrollment.objects.create(
            cadence=cadence, contact=contact, occurrence="a", entered_at=cadence.created_at
        )
    assert cadence_uplift(cadence).entered == 3
    assert cadence_uplift(cadence, contacts=recife.as_q()).entered == 2
    page = client_for(manager).get(
        reverse("cadences:detail", args=[cadence.key]), {"segment": recife.pk}
    )
    assert page.status_code == 200
    assert f'<option value="{recife.pk}" selected>' in page.content.decode()


MANUAL = """
key: aviso
name: Aviso da loja
objective: retention
holdout_percent: 0
trigger: {kind: manual}
steps:
  - key: aviso
    name: Aviso
    offset: 0
    channel: email
    message:
      pt-br: {subject: "Novidade, {{ contact.first_name }}", body: "Temos novidades."}
      en: {subject: "News, {{ contact.first_name }}", body: "We have news."}
"""


def test_a_manual_regua_is_sent_to_a_segment(client_for, manager: User) -> None:  # type: ignore[no-untyped-def]
    import time_machine
    from django.utils import timezone

    from regua.cadences.models import Delivery, Enrollment
    from regua.cadences.tick import tick
    from regua.cadences.yaml_io import cadence_set_status
    from regua.customers.models import Consent

    # given: an active manual régua and a segment of two of three contacts
    cadence, _created = cadence_import(MANUAL)
    cadence_set_status(cadence, "active")
    recife = Segment.objects.create(name="Recife", rule=RECIFE)
    for n, city in enumerate(["Recife", "Recife", "Natal"]):
        contact = Contact.objects.create(email=f"b{n}@exemplo.com.br", city=city, first_name="Ana")
        Consent.objects.create(
            contact=contact, channel="email", status="granted", recorded_at=timezone.now()
        )
    # when: the manager sends it to the segment, twice
    client = client_for(manager)
    client.cookies["django_language"] = "en"
    url = reverse("cadences:broadcast", args=[cadence.key])
    first = client.post(url, {"segment": recife.pk}, follow=True)
    again = client.post(url, {"segment": recife.pk}, follow=True)
    # then: the members entered once, and the next tick schedules their message
    assert "2 contacts of Recife entered the régua." in first.content.decode()
    assert "0 contacts of Recife entered the régua." in again.content.decode()
    assert set(Enrollment.objects.values_list("contact__city", flat=True)) == {"Recife"}
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        tick(now=timezone.now())
    assert Delivery.objects.filter(cadence=cadence).count() == 2

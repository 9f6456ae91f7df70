"""The customer base's constraints and the search that finds a contact by what people type."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from regua.customers.models import Consent, Contact, ContactTag, Tag
from regua.customers.search import contact_search
from regua.events.models import Event

pytestmark = pytest.mark.django_db


def test_external_ids_and_e_mails_are_unique_but_may_be_missing(make_contact) -> None:  # type: ignore[no-untyped-def]
    make_contact(email=None, external_id=None)
    make_contact(email=None, external_id=None)  # many contacts may lack both
    make_contact(email="a@x.com", external_id="A")
    for fields in ({"email": "a@x.com"}, {"external_id": "A"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            make_contact(**fields)


def test_one_consent_per_channel_and_one_tagging_per_tag(make_contact) -> None:  # type: ignore[no-untyped-def]
    contact = make_contact()
    now = timezone.now()
    Consent.objects.create(contact=contact, channel="email", status="granted", recorded_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        Consent.objects.create(
            contact=contact, channel="email", status="withdrawn", recorded_at=now
        )
    tag = Tag.objects.create(name="Cliente VIP")
    assert tag.key == "cliente vip"
    with pytest.raises(IntegrityError), transaction.atomic():
        Tag.objects.create(name="CLIENTE  vip")
    ContactTag.objects.create(contact=contact, tag=tag)
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactTag.objects.create(contact=contact, tag=tag)


def test_an_event_is_stored_once_per_identity(make_contact) -> None:  # type: ignore[no-untyped-def]
    contact = make_contact()
    at = timezone.now() - timedelta(hours=1)
    Event.objects.create(contact=contact, name="login", occurred_at=at, fingerprint=7)
    Event.objects.create(contact=contact, name="login", occurred_at=at, fingerprint=8)
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.create(contact=contact, name="login", occurred_at=at, fingerprint=7)


def test_saving_a_contact_keeps_its_search_name(make_contact) -> None:  # type: ignore[no-untyped-def]
    contact = make_contact(first_name="João", last_name="Conceição")
    assert contact.search_name == "joao conceicao"
    contact.last_name = "Araújo"
    contact.save(update_fields=["last_name"])
    contact.refresh_from_db()
    assert contact.search_name == "joao araujo"


@pytest.fixture
def people(make_contact):  # type: ignore[no-untyped-def]
    return {
        "clara": make_contact(
            first_name="Clara",
            last_name="Souza Lima",
            email="clara.lima@gmail.com",
            phone="+5511987654321",
            external_id="LOJA-1",
        ),
        "joao": make_contact(
            first_name="João",
            last_name="da Silva",
            email="jsilva@uol.com.br",
            phone="+552123456789",
        ),
        "ana": make_contact(first_name="Ana", last_name="Clarice", email="ana@terra.com.br"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("clara", {"clara"}),  # a first name
        ("souza", {"clara"}),  # a middle name
        ("lima", {"clara"}),  # the last name
        ("cla", {"clara", "ana"}),  # a prefix of any word: Clara, Clarice
        ("sou cla", {"clara"}),  # several words, any order
        ("JOÃO", {"joao"}),  # accents and case do not matter
        ("joao silva", {"joao"}),
        ("clara.li", {"clara"}),  # an e-mail prefix
        ("jsilva@uol", {"joao"}),
        ("(11) 98765", {"clara"}),  # a phone, with area code
        ("+55 21 2345", {"joao"}),
        ("LOJA-1", {"clara"}),  # the external id
        ("zzz", set()),
    ],
)
def test_search_finds_contacts_by_what_people_type(people, query: str, expected: set[str]) -> None:  # type: ignore[no-untyped-def]
    found = set(contact_search(Contact.objects.all(), query).values_list("id", flat=True))
    assert found == {people[name].pk for name in expected}


def test_search_follows_name_changes(people) -> None:  # type: ignore[no-untyped-def]
    ana = people["ana"]
    ana.last_name = "Beltrão"
    ana.save()
    assert list(contact_search(Contact.objects.all(), "beltrao")) == [ana]
    assert ana not in contact_search(Contact.objects.all(), "clarice")
    ana.delete()
    assert not contact_search(Contact.objects.all(), "beltrao").exists()

"""A small team and one of everything its pages and API name, for the access matrix
(test_access_matrix.py): every URL pattern gets a real object to ask for.

Alice (an agent) owns the private contact Zuleica Sigilosa and everything about her: a
company, a ticket, a task, an account plan, an import, a régua's message. Bob (another
agent) owns Bento Visível. Both work with the company "Empresa Compartilhada". Every
text about Alice's side carries the word "Sigilosa", so a page that leaks it to Bob is
caught by looking for that word.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import yaml
from django.core.files.base import ContentFile
from django.utils import timezone

from regua.accounts.models import AccountPlan, Initiative
from regua.accounts.services import account_plan_save, initiative_save
from regua.agenda.feed import feed_for, feed_url
from regua.agenda.models import HandOver, Task, TaskKind
from regua.agenda.services import handover_create
from regua.analytics.models import CustomerScore
from regua.cadences import tokens as delivery_tokens
from regua.cadences.models import (
    Cadence,
    Delivery,
    DeliveryStatus,
    Enrollment,
    OutboxMessage,
    Step,
)
from regua.cadences.yaml_io import cadence_import, cadence_set_status
from regua.commerce.models import Order
from regua.customers.models import Company, Contact, ContactRole, Interaction
from regua.desk.mail import rating_url
from regua.desk.models import Attachment, ReplyTemplate, Ticket
from regua.desk.services import File, ticket_open
from regua.events.ingest import fingerprint
from regua.events.models import Event
from regua.faq.models import Article
from regua.faq.models import Category as FaqCategory
from regua.imports.models import ImportJob
from regua.loyalty import tokens as loyalty_tokens
from regua.loyalty.models import ReferralCode, Reward, Tier
from regua.segments.models import Segment
from regua.users.models import ApiKey, Role, User

# What no page may show Bob: Alice's private contact, her company, her ticket…
SECRET = "sigilosa"
# What Bob's own pages show him: his contact.
BOBS = "bento"

REGUA = {
    "key": "boas-vindas",
    "name": "Boas-vindas",
    "objective": "conversion",
    "marketing": False,
    "trigger": {"kind": "event", "event": "signup"},
    "steps": [
        {
            "key": "welcome",
            "offset": 0,
            "channel": "email",
            "message": {"pt-br": {"subject": "Olá!", "body": "Olá, {{ contact.first_name }}!"}},
        }
    ],
}


@dataclass
class World:
    alice: User
    bob: User
    manager: User
    admin: User
    tokens: dict[str, str]  # role → API key
    secret: Contact  # Alice's private contact
    bobs: Contact  # Bob's contact
    company: Company  # Alice's company
    shared: Company  # a company both agents work with
    role: ContactRole  # the secret contact on Alice's company's power map
    plan: AccountPlan
    initiative: Initiative
    task: Task
    handover: HandOver
    cadence: Cadence
    previewed: Cadence  # a régua whose preview names the contacts it would write to
    step: Step
    delivery: Delivery  # a message of the régua to the secret contact
    outbox: OutboxMessage
    segment: Segment
    job: ImportJob
    tier: Tier
    reward: Reward
    ticket: Ticket
    attachment: Attachment
    template: ReplyTemplate
    article: Article
    referral: ReferralCode
    alice_key: ApiKey
    feed_path: str
    rating_path: str


def world_build() -> World:
    now = timezone.now()
    today = timezone.localdate()
    alice = User.objects.create_user("alice@example.com", "pw", first_name="Alice")
    bob = User.objects.create_user("bob@example.com", "pw", first_name="Bob")
    manager = User.objects.create_user(
        "gerente@example.com", "pw", first_name="Marta", role=Role.MANAGER
    )
    admin = User.objects.create_superuser("admin@example.com", "pw", first_name="Ana")
    tokens = {}
    for kind, user in [("owner", alice), ("teammate", bob), ("manager", manager), ("admin", admin)]:
        _key, tokens[kind] = ApiKey.generate(user=user, name="Loja virtual")
    alice_key = ApiKey.objects.filter(user=alice).get()

    secret = Contact.objects.create(
        first_name="Zuleica",
        last_name="Sigilosa",
        email="zuleica.sigilosa@exemplo.com.br",
        external_id="ext-sigilosa",
        city="Recife",
        owner=alice,
    )
    bobs = Contact.objects.create(
        first_name="Bento",
        last_name="Visível",
        email="bento.visivel@exemplo.com.br",
        external_id="ext-bento",
        city="Recife",
        owner=bob,
    )
    company = Company.objects.create(name="Sigilosa Comércio", owner=alice)
    role = ContactRole.objects.create(contact=secret, company=company, role="decision_maker")
    shared = Company.objects.create(name="Empresa Compartilhada")
    ContactRole.objects.create(contact=secret, company=shared, role="decision_maker")
    ContactRole.objects.create(contact=bobs, company=shared, role="user")
    for contact, company_of in [(secret, shared), (bobs, shared)]:
        Interaction.objects.create(
            contact=contact,
            company=company_of,
            kind="note",
            subject=f"Conversa com {contact.last_name}",
            occurred_at=now - timedelta(days=2),
        )
    for contact, total in [(secret, "350.00"), (bobs, "120.00")]:
        for days in (40, 10):
            Order.objects.create(
                contact=contact,
                external_id=f"{contact.external_id}-{days}",
                ordered_at=now - timedelta(days=days),
                total=Decimal(total),
                status="paid",
            )
        CustomerScore.objects.create(
            contact=contact,
            as_of=today,
            purchases=2,
            spend=Decimal(total) * 2,
            first_purchase_on=today - timedelta(days=40),
            last_purchase_on=today - timedelta(days=10),
            activity_cell="",
            relationship_type="",
            clv=Decimal(total),
        )
        Event.objects.create(
            contact=contact,
            name="nps_answered",
            occurred_at=now - timedelta(days=3),
            properties={"score": 9, "comment": f"Gostei muito ({contact.last_name})"},
            fingerprint=fingerprint(f"nps:{contact.pk}", {})[0],
        )
        Event.objects.create(
            contact=contact,
            name="signup",
            occurred_at=now - timedelta(days=5),
            fingerprint=fingerprint(f"signup:{contact.pk}", {})[0],
        )

    plan = account_plan_save(
        company=company,
        objective="Crescer a conta Sigilosa",
        owner=alice,
        review_on=today + timedelta(days=10),
        by=alice,
    )
    initiative = initiative_save(
        plan=plan,
        title="Proposta Sigilosa",
        owner=alice,
        starts_on=None,
        due_on=today - timedelta(days=1),
    )
    task = Task.objects.create(
        kind=TaskKind.CALL,
        title="Ligar para Zuleica Sigilosa",
        contact=secret,
        owner=alice,
        due_on=today,
    )
    handover = handover_create(
        from_user=alice,
        to_user=manager,
        scope="tasks",
        starts_on=today + timedelta(days=30),
        ends_on=today + timedelta(days=40),
        by=manager,
    )

    cadence, _created = cadence_import(yaml.safe_dump(REGUA, allow_unicode=True))
    cadence_set_status(cadence, "active")
    # A second régua on the same trigger, nobody in it yet: its backtest (the preview
    # of the last 30 days) enters the contacts who signed up and names a few.
    fresh = {**REGUA, "key": "cadastro", "name": "Cadastro"}
    previewed, _created = cadence_import(yaml.safe_dump(fresh, allow_unicode=True))
    step = cadence.steps.get(key="welcome")
    deliveries = {}
    for contact in (secret, bobs):
        enrollment = Enrollment.objects.create(
            cadence=cadence, contact=contact, occurrence="1", entered_at=now
        )
        deliveries[contact.pk] = Delivery.objects.create(
            enrollment=enrollment,
            step=step,
            cadence=cadence,
            contact=contact,
            channel="email",
            status=DeliveryStatus.SENT,
            due_at=now,
            sent_at=now,
        )
    outboxes = {
        contact.pk: OutboxMessage.objects.create(
            delivery=deliveries[contact.pk],
            channel="email",
            to=str(contact.email),
            subject=f"Olá, {contact.first_name} {contact.last_name}",
            text="Bem-vindo!",
        )
        for contact in (secret, bobs)
    }
    segment = Segment.objects.create(
        name="Recife",
        rule={"match": "all", "conditions": [{"field": "city", "op": "eq", "value": "Recife"}]},
        created_by=manager,
    )
    job = ImportJob.objects.create(
        kind="contacts",
        file=ContentFile(b"email\nzuleica.sigilosa@exemplo.com.br\n", name="clientes.csv"),
        original_name="clientes-sigilosa.csv",
        status="failed",
        errors=[{"line": 2, "field": "phone", "message": "telefone inválido"}],
        created_by=alice,
    )
    tier = Tier.objects.create(name="Ouro", slug="ouro", min_spend_12m=Decimal("1000"))
    reward = Reward.objects.create(name="Frete grátis", points_cost=100)
    ticket = ticket_open(
        contact=secret,
        subject="Pedido da Sigilosa atrasado",
        body="Meu pedido não chegou.",
        assignee=alice,
        by=alice,
        files=[File("nota.txt", b"nota fiscal", "text/plain")],
    )
    attachment = Attachment.objects.get(message__ticket=ticket)
    template = ReplyTemplate.objects.create(name="Atraso (matriz)", body_pt="Olá!")
    faq = FaqCategory.objects.create(name="Entrega", position=1)
    article = Article.objects.create(
        question="Quanto tempo leva a entrega?", answer="Até 5 dias.", category=faq, published=True
    )
    referral = ReferralCode.objects.create(contact=secret)
    return World(
        alice=alice,
        bob=bob,
        manager=manager,
        admin=admin,
        tokens=tokens,
        secret=secret,
        bobs=bobs,
        company=company,
        shared=shared,
        role=role,
        plan=plan,
        initiative=initiative,
        task=task,
        handover=handover,
        cadence=cadence,
        previewed=previewed,
        step=step,
        delivery=deliveries[secret.pk],
        outbox=outboxes[secret.pk],
        segment=segment,
        job=job,
        tier=tier,
        reward=reward,
        ticket=ticket,
        attachment=attachment,
        template=template,
        article=article,
        referral=referral,
        alice_key=alice_key,
        feed_path=_path(feed_url(feed_for(alice))),
        rating_path=_path(rating_url(ticket, 5)),
    )


def _path(url: str) -> str:
    """A link as the app writes it (with REGUA_SITE_URL), as the test client asks for it."""
    return "/" + url.split("://", 1)[-1].split("/", 1)[1]


def delivery_token(world: World, purpose: str, extra: str = "") -> str:
    return delivery_tokens.make(purpose, world.delivery.pk, extra)


def loyalty_token(world: World) -> str:
    return loyalty_tokens.make(world.secret.pk)

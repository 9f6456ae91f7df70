"""The demo's service desk: three months of tickets, most answered inside the SLA, some
late, a few waiting on the customer, today's queue still to answer, and ratings.

Complaint tickets come from the demo's simulated `complaint` events (one ticket each,
at the same moment), so the dashboard's complaint rate and the desk tell one story.
Rows are written with bulk_create; SLA clocks come from the real calendar arithmetic.
"""

import random
from datetime import datetime, timedelta

from django.apps import apps
from django.core.management.color import no_style
from django.db import connection

from regua.customers.models import Contact
from regua.events.ingest import fingerprint
from regua.events.models import Event
from regua.lib.bulk import created_as_given
from regua.users.models import User

from . import defaults, sla
from .models import (
    Category,
    Message,
    MessageKind,
    SendStatus,
    SlaPolicy,
    Ticket,
    TicketChannel,
    TicketKind,
    TicketStatus,
)

SUBJECTS = {
    TicketKind.COMPLAINT: [
        (
            "Pedido chegou com defeito",
            "Produto com defeito",
            "A cafeteira chegou com a tampa quebrada.",
        ),
        ("Entrega atrasada", "Entrega e rastreio", "O prazo era ontem e o pedido não chegou."),
        (
            "Cobrança em dobro no cartão",
            "Pagamento e reembolso",
            "Apareceram duas cobranças na fatura.",
        ),
        ("Recebi o tamanho errado", "Troca e devolução", "Pedi M e veio G."),
        (
            "Atendente não retornou",
            "Outros assuntos",
            "Fiquei de receber uma ligação e ninguém ligou.",
        ),
    ],
    TicketKind.QUESTION: [
        (
            "Qual o prazo para o CEP 30130-000?",
            "Entrega e rastreio",
            "Moro em Belo Horizonte, quanto tempo leva?",
        ),
        (
            "Posso parcelar no boleto?",
            "Pagamento e reembolso",
            "Vocês parcelam no boleto ou só no cartão?",
        ),
        ("Como uso meus pontos?", "Outros assuntos", "Tenho 800 pontos, como troco?"),
        ("Não consigo entrar na minha conta", "Cadastro e acesso", "A senha não funciona."),
    ],
    TicketKind.REQUEST: [
        (
            "Quero trocar um presente",
            "Troca e devolução",
            "Ganhei de presente e quero trocar a cor.",
        ),
        (
            "Segunda via da nota fiscal",
            "Pagamento e reembolso",
            "Preciso da nota do pedido para a empresa.",
        ),
        (
            "Alterar endereço de entrega",
            "Entrega e rastreio",
            "Mudei de endereço, dá para alterar?",
        ),
    ],
}
REPLIES = [
    "Olá! Já verificamos e a troca foi liberada; o código de postagem segue por e-mail.",
    "Olá! O prazo para a sua região é de 3 a 5 dias úteis.",
    "Peço desculpas pela demora. O estorno foi solicitado e aparece em até 2 faturas.",
    "Olá! Pode sim: parcelamos em até 12x no cartão e o boleto sai à vista com 5% de desconto.",
]
CHANNELS = [
    (TicketChannel.EMAIL, 5),
    (TicketChannel.WHATSAPP, 3),
    (TicketChannel.FORM, 2),
    (TicketChannel.PHONE, 2),
    (TicketChannel.CHAT, 1),
]


def desk_demo(now: datetime, *, seed: int = 11, questions: int = 500, days: int = 90) -> int:
    """Tickets for the last `days` days; returns how many were written."""
    if Ticket.objects.exists():
        return 0
    _restart_ids()  # the same seed makes the same tickets, with the same numbers
    # The shipped setup, where it is missing (a reset database, a test that emptied it).
    defaults.install(lambda name: apps.get_model("desk", name))
    policy = (
        SlaPolicy.objects.filter(active=True, priority__isnull=True).order_by("position").first()
    )
    if policy is None:
        return 0
    rng = random.Random(seed)
    calendar = sla.calendar_of(policy.calendar, now)
    team = list(User.objects.filter(is_active=True).order_by("pk"))
    categories = {c.name: c for c in Category.objects.all()}
    channels = [c for c, weight in CHANNELS for _ in range(weight)]
    start = now - timedelta(days=days)
    complaints = list(
        Event.objects.filter(
            name="complaint", occurred_at__gte=start, occurred_at__lte=now
        ).values_list("contact_id", "occurred_at")[:400]
    )
    ids = list(Contact.objects.filter(email__isnull=False).values_list("pk", flat=True)[:3000])
    others = (
        [
            (rng.choice(ids), start + timedelta(seconds=rng.uniform(0, days * 86400)))
            for _ in range(questions)
        ]
        if ids
        else []
    )
    planned = [(TicketKind.COMPLAINT, c, at) for c, at in complaints] + [
        (rng.choice([TicketKind.QUESTION, TicketKind.QUESTION, TicketKind.REQUEST]), c, at)
        for c, at in others
    ]
    tickets: list[Ticket] = []
    conversations: list[tuple[str, str, datetime | None, User | None]] = []
    for kind, contact_id, opened in sorted(planned, key=lambda p: p[2]):
        subject, category, body = rng.choice(SUBJECTS[kind])
        clocks = sla.clocks(policy, calendar, opened, timedelta(0))
        age = now - opened
        # How fast the team answered: mostly inside the 10 business hours, some late.
        answer_in = timedelta(minutes=rng.choice([20, 45, 90, 180, 300, 480, 560, 720, 900]))
        reply_at = sla.business_add(calendar, opened, answer_in)
        unanswered = reply_at > now or (age < timedelta(days=2) and rng.random() < 0.6)
        answered = None if unanswered else reply_at
        assignee = rng.choice(team) if team and (answered or rng.random() < 0.5) else None
        ticket = Ticket(
            subject=subject,
            kind=kind,
            channel=rng.choice(channels),
            priority=rng.choice([1, 2, 2, 2, 3]) if kind != TicketKind.COMPLAINT else 3,
            contact_id=contact_id,
            category=categories.get(category),
            assignee=assignee,
            policy=policy,
            first_response_due=clocks.first_response_due,
            resolution_due=clocks.resolution_due,
            last_message_at=answered or opened,
            created_at=opened,
        )
        if answered is None:
            ticket.status = TicketStatus.NEW
            ticket.due_at, ticket.warn_at = clocks.first_response_due, clocks.warn_at
            if clocks.first_response_due <= now:
                ticket.first_response_breached_at = clocks.first_response_due
        else:
            ticket.first_responded_at = answered
            ticket.first_response_time = answer_in
            if answered > clocks.first_response_due:
                ticket.first_response_breached_at = clocks.first_response_due
            resolved = answered + timedelta(hours=rng.choice([0, 2, 20, 50]))
            if resolved < now and rng.random() < 0.85:
                ticket.status = (
                    TicketStatus.CLOSED
                    if now - resolved > timedelta(days=7)
                    else TicketStatus.RESOLVED
                )
                ticket.resolved_at = resolved
                ticket.closed_at = (
                    resolved + timedelta(days=7) if ticket.status == TicketStatus.CLOSED else None
                )
                if rng.random() < 0.45:
                    ticket.rating = rng.choice(
                        [5, 5, 5, 4, 4, 3, 2, 1]
                        if kind != TicketKind.COMPLAINT
                        else [5, 4, 3, 2, 1]
                    )
                    ticket.rated_at = resolved + timedelta(hours=rng.uniform(1, 30))
            elif rng.random() < 0.5:
                ticket.status = TicketStatus.WAITING
                ticket.paused_at = answered
            else:
                ticket.status = TicketStatus.OPEN
                ticket.due_at = clocks.resolution_due
        tickets.append(ticket)
        conversations.append((body, rng.choice(REPLIES), answered, assignee))
    with created_as_given(Ticket):
        created = Ticket.objects.bulk_create(tickets, batch_size=500)
    messages: list[Message] = []
    events: list[Event] = []
    for ticket, (body, reply, answered, assignee) in zip(created, conversations, strict=True):
        messages.append(
            Message(
                ticket=ticket, kind=MessageKind.CUSTOMER, body=body, created_at=ticket.created_at
            )
        )
        if answered is not None:
            messages.append(
                Message(
                    ticket=ticket,
                    kind=MessageKind.REPLY,
                    body=reply,
                    author=assignee,
                    created_at=answered,
                    send_status=SendStatus.SENT,
                    sent_at=answered,
                )
            )
        value, _encoded = fingerprint(f"desk:{ticket.pk}:ticket_opened", {})
        events.append(
            Event(
                contact_id=ticket.contact_id,
                name="ticket_opened",
                occurred_at=ticket.created_at,
                fingerprint=value,
                source="desk",
                properties={
                    "ticket": ticket.pk,
                    "subject": ticket.subject,
                    "kind": ticket.kind,
                    "channel": ticket.channel,
                },
            )
        )
    Message.objects.bulk_create(messages, batch_size=1000)
    Event.objects.bulk_create(events, batch_size=1000, ignore_conflicts=True)
    return len(created)


def _restart_ids() -> None:
    """Ticket and message ids from 1 again: an emptied table keeps its sequence."""
    tables = [{"table": model._meta.db_table, "column": "id"} for model in (Ticket, Message)]
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_by_name_sql(no_style(), tables):
            cursor.execute(statement)

"""The demo team's agendas: follow-ups around today, some overdue, some done with outcomes.

Each agent's tasks are about contacts of their own portfolio; the administrator and the
manager (who sign in first) get a day of their own too, so every agenda page has
something to show. Written with bulk_create: a few thousand rows at most.
"""

import random
from datetime import datetime, time, timedelta

from django.utils import timezone

from regua.customers.models import Contact
from regua.users.models import User

from .models import Task, TaskKind, TaskSource, TaskStatus

TITLES = {
    TaskKind.CALL: [
        "Ligar para apresentar a nova coleção",
        "Retornar sobre o orçamento enviado",
        "Confirmar a entrega do pedido",
        "Ligar para entender por que parou de comprar",
        "Ligação de alinhamento (dia 40)",
    ],
    TaskKind.MEETING: [
        "Reunião de alinhamento trimestral",
        "Apresentar a proposta de renovação",
        "Reunião para colher feedback do atendimento",
    ],
    TaskKind.EMAIL: [
        "Enviar o catálogo de fim de ano",
        "Mandar a proposta revisada",
    ],
    TaskKind.VISIT: ["Visitar a loja para mostrar os lançamentos"],
    TaskKind.OTHER: ["Preparar o relatório de compras do cliente"],
}
OUTCOMES = [
    "Gostou da proposta; pediu para retornar na semana que vem.",
    "Não atendeu; deixei recado no WhatsApp.",
    "Fechou o pedido de reposição.",
    "Pediu desconto para pagar no boleto; vou consultar o gerente.",
]
KIND_WEIGHTS = [
    (TaskKind.CALL, 6),
    (TaskKind.MEETING, 2),
    (TaskKind.EMAIL, 2),
    (TaskKind.VISIT, 1),
    (TaskKind.OTHER, 1),
]


def agenda_demo(*, now: datetime, seed: int = 5, per_user: int = 40) -> int:
    """Open and done tasks for every active user; returns how many were written."""
    rng = random.Random(seed)
    today = timezone.localdate(now)
    kinds = [kind for kind, weight in KIND_WEIGHTS for _ in range(weight)]
    rows: list[Task] = []
    for user in User.objects.filter(is_active=True):
        contacts = list(
            Contact.objects.filter(owner=user).order_by("id").values_list("id", flat=True)[:400]
        ) or list(Contact.objects.order_by("id").values_list("id", flat=True)[:400])
        if not contacts:
            continue
        for n in range(per_user):
            kind = rng.choice(kinds)
            offset = rng.choice([-6, -3, -1, 0, 0, 0, 1, 1, 2, 3, 4, 7, 9, 14, 21, 28])
            due = today + timedelta(days=offset)
            done = offset < 0 and n % 3 == 0
            rows.append(
                Task(
                    owner=user,
                    created_by=user,
                    kind=kind,
                    title=rng.choice(TITLES[kind]),
                    contact_id=rng.choice(contacts),
                    due_on=due,
                    due_time=time(rng.choice([9, 10, 11, 14, 15, 16]), rng.choice([0, 30]))
                    if kind in (TaskKind.MEETING, TaskKind.VISIT) or rng.random() < 0.3
                    else None,
                    priority=rng.choice([1, 2, 2, 2, 3]),
                    status=TaskStatus.DONE if done else TaskStatus.OPEN,
                    completed_at=now - timedelta(days=-offset) if done else None,
                    outcome=rng.choice(OUTCOMES) if done else "",
                    no_follow_up_reason="won" if done else "",
                    source=TaskSource.MANUAL,
                    created_at=now,
                    updated_at=now,
                )
            )
    Task.objects.bulk_create(rows, batch_size=2_000)
    return len(rows)

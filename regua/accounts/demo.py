"""The demo's accounts: the companies classified, account plans with initiatives and reviews.

Called by `regua demo` after the companies exist (regua/demo/setup.py). Set-based: one
UPDATE per level combination, and bulk inserts for tasks, plans and initiatives.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import numpy as np
from django.db import transaction
from django.utils import timezone, translation

from regua.agenda.models import Task, TaskSource, TaskStatus
from regua.customers.models import Company, Level

from .classification import AbcClass, abc_class
from .models import AccountPlan, Initiative, InitiativeStatus
from .services import REVIEW_TASK_KIND, review_task_title

SEED = 4242
# Share of companies that get a plan, by class: every key account, some to develop.
PLAN_SHARE = {AbcClass.A: 1.0, AbcClass.B: 0.4, AbcClass.C: 0.05, AbcClass.UNCLASSIFIED: 0.0}

OBJECTIVES = [
    "Tornar-se o fornecedor principal da linha profissional até o fim do ano.",
    "Dobrar o volume de compras recorrentes com pedidos mensais programados.",
    "Recuperar a confiança depois dos atrasos de entrega do último trimestre.",
    "Expandir para as outras unidades do grupo a partir da matriz.",
    "Aproximar-se da diretoria: hoje só falamos com o setor de compras.",
    "Levar a equipe a usar o portal de pedidos e reduzir pedidos por telefone.",
]
INITIATIVES = [
    ("Apresentar a linha profissional à diretora", "Levar amostras e a tabela de preços."),
    ("Reunião de alinhamento com o gerente de compras", "Revisar volumes e prazos."),
    ("Treinamento da equipe no portal de pedidos", "Duas turmas, no turno da manhã."),
    ("Enviar proposta de contrato anual", "Desconto progressivo por volume."),
    ("Visita técnica à unidade", "Conhecer a operação e os gargalos de estoque."),
    ("Pesquisa de satisfação com os usuários", "Ouvir recepção e profissionais."),
    ("Piloto da nova linha de dermocosméticos", "Trinta dias, com acompanhamento semanal."),
    ("Apresentar o programa de fidelidade", "Mostrar os benefícios para a rede toda."),
    ("Negociar o prazo de pagamento", "Passar de 28 para 42 dias com pedido mínimo."),
    ("Convidar para o evento de lançamento", "Lançamento da coleção de verão em São Paulo."),
]
LEVELS = [Level.HIGH, Level.MEDIUM, Level.LOW]


def accounts_demo(now: datetime) -> dict[str, int]:
    """Classify the demo's companies and write their account plans; returns the counts."""
    today = timezone.localdate(now)
    rng = np.random.default_rng(SEED)
    companies = list(Company.objects.order_by("id").values_list("id", "name", "owner_id"))
    if not companies:
        return {"companies": 0, "plans": 0, "initiatives": 0}
    with transaction.atomic():
        classes = _classify(companies, rng)
        plans, initiatives = _plans(companies, classes, rng, today=today, now=now)
    return {"companies": len(companies), "plans": plans, "initiatives": initiatives}


def _classify(
    companies: Sequence[tuple[int, str, int | None]], rng: np.random.Generator
) -> dict[int, AbcClass]:
    """Correlated levels from a hidden 'account value': about 16% A, 37% B, 47% C.

    Big payers tend to have room to buy more and to know us better, but not always; about
    4% of the accounts are new and not yet fully classified.
    """
    n = len(companies)
    value = rng.normal(size=n)

    def level(signal: np.ndarray, high: float, low: float) -> np.ndarray:
        return np.where(signal > high, 0, np.where(signal > low, 1, 2))

    profitability = level(value + rng.normal(scale=0.8, size=n), 1.0, -0.3)
    potential = level(0.6 * value + rng.normal(scale=0.9, size=n), 0.7, -0.5)
    degree = level(0.5 * value + rng.normal(scale=0.9, size=n), 0.6, -0.6)
    unclassified = rng.random(n) < 0.04
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    classes = {}
    for i, (company_id, _name, _owner) in enumerate(companies):
        levels = (
            LEVELS[profitability[i]].value,
            LEVELS[potential[i]].value,
            "" if unclassified[i] else LEVELS[degree[i]].value,
        )
        groups[levels].append(company_id)
        classes[company_id] = abc_class(*levels)
    for (p, pp, r), ids in groups.items():
        Company.objects.filter(id__in=ids).update(
            profitability=p, purchase_potential=pp, relationship_degree=r
        )
    return classes


def _plans(
    companies: Sequence[tuple[int, str, int | None]],
    classes: dict[int, AbcClass],
    rng: np.random.Generator,
    *,
    today: date,
    now: datetime,
) -> tuple[int, int]:
    ids = [company_id for company_id, _name, _owner in companies]
    old_tasks = AccountPlan.objects.filter(company_id__in=ids).values("review_task_id")
    Task.objects.filter(id__in=old_tasks).delete()
    AccountPlan.objects.filter(company_id__in=ids).delete()
    chosen = [c for c in companies if rng.random() < PLAN_SHARE[classes[c[0]]]]
    # Reviews from a few days late (an overdue one is realistic) to two months ahead.
    review_days = rng.integers(-5, 60, size=len(chosen))
    with translation.override("pt-br"):
        tasks = Task.objects.bulk_create(
            Task(
                kind=REVIEW_TASK_KIND,
                title=review_task_title(Company(name=name)),
                company_id=company_id,
                owner_id=owner_id,
                due_on=today + timedelta(days=int(days)),
                status=TaskStatus.OPEN,
                source=TaskSource.ACCOUNT_PLAN,
            )
            for (company_id, name, owner_id), days in zip(chosen, review_days, strict=True)
        )
    plans = AccountPlan.objects.bulk_create(
        AccountPlan(
            company_id=company_id,
            objective=OBJECTIVES[int(rng.integers(len(OBJECTIVES)))],
            owner_id=owner_id,
            review_on=task.due_on,
            review_task=task,
            reviewed_at=now - timedelta(days=int(rng.integers(30, 100))),
        )
        for (company_id, _name, owner_id), task in zip(chosen, tasks, strict=True)
    )
    initiatives = []
    for plan in plans:
        count = int(rng.integers(2, 6))
        picks = rng.choice(len(INITIATIVES), size=count, replace=False)
        for step, pick in enumerate(picks):
            title, description = INITIATIVES[int(pick)]
            # Spread over the quarter around today: past ones mostly done, some late.
            due_on = today + timedelta(days=int(-45 + step * 25 + rng.integers(-7, 8)))
            status = _status(due_on, today, rng)
            initiatives.append(
                Initiative(
                    plan=plan,
                    title=title,
                    description=description,
                    owner_id=plan.owner_id,
                    starts_on=due_on - timedelta(days=int(rng.integers(3, 21))),
                    due_on=due_on,
                    status=status,
                    completed_at=now - timedelta(days=max(0, (today - due_on).days))
                    if status == InitiativeStatus.DONE
                    else None,
                )
            )
    Initiative.objects.bulk_create(initiatives, batch_size=1000)
    return len(plans), len(initiatives)


def _status(due_on: date, today: date, rng: np.random.Generator) -> InitiativeStatus:
    if due_on < today:
        roll = rng.random()
        if roll < 0.7:
            return InitiativeStatus.DONE
        if roll < 0.8:
            return InitiativeStatus.CANCELLED
        return InitiativeStatus.IN_PROGRESS  # late: shows on the plans page
    if due_on < today + timedelta(days=15) and rng.random() < 0.5:
        return InitiativeStatus.IN_PROGRESS
    return InitiativeStatus.PLANNED

"""The ABC class of a business account, from its three levels (docs/accounts.md).

Each level scores points (high 3, medium 2, low 1) and their sum decides the class:
8 or 9 points is A, 6 or 7 is B, 3 to 5 is C. A company with a level not yet set is
unclassified. Of the 27 combinations, 4 are A (every level high, or one medium), 13 are
B and 10 are C, so A stays the short list a manager works first.

POINTS and THRESHOLDS are the single source of the rule: abc_class() reads them in
Python (one company on a page) and abc_class_expression() turns the same tables into a
CASE expression (counting and filtering thousands of companies in one query). The tests
check that both agree on every combination.
"""

from typing import Any

from django.db import models
from django.db.models import Case, IntegerField, Value, When
from django.db.models.lookups import GreaterThanOrEqual, IsNull
from django.utils.translation import gettext_lazy as _

from regua.customers.models import Level

LEVEL_FIELDS = ("profitability", "purchase_potential", "relationship_degree")
POINTS: dict[str, int] = {Level.HIGH: 3, Level.MEDIUM: 2, Level.LOW: 1}


class AbcClass(models.TextChoices):
    A = "A", _("A")
    B = "B", _("B")
    C = "C", _("C")
    UNCLASSIFIED = "", _("Unclassified")

    @property
    def explanation(self) -> str:
        return str(EXPLANATIONS[self])


# The lowest sum of points of each class, best first; below the last one: C.
THRESHOLDS: list[tuple[int, AbcClass]] = [(8, AbcClass.A), (6, AbcClass.B)]

EXPLANATIONS = {
    AbcClass.A: _("Key accounts: the most value now and to come. Plan and review them first."),
    AbcClass.B: _("Accounts to develop: one level short of A, often the relationship."),
    AbcClass.C: _("Accounts to serve efficiently, with the least effort per sale."),
    AbcClass.UNCLASSIFIED: _("A level is not set yet: classify the company."),
}


def abc_class(profitability: str, purchase_potential: str, relationship_degree: str) -> AbcClass:
    """The class of a company with these levels ("" for a level not set)."""
    points = [
        POINTS.get(level) for level in (profitability, purchase_potential, relationship_degree)
    ]
    if None in points:
        return AbcClass.UNCLASSIFIED
    total = sum(p for p in points if p is not None)
    for lowest, klass in THRESHOLDS:
        if total >= lowest:
            return klass
    return AbcClass.C


def company_abc_class(company: Any) -> AbcClass:
    return abc_class(*(getattr(company, field) for field in LEVEL_FIELDS))


def _points(field: str) -> Case:
    # NULL for a level not set (or unknown): the sum is then NULL, i.e. unclassified.
    return Case(
        *[When(**{field: level}, then=Value(points)) for level, points in POINTS.items()],
        default=Value(None),
        output_field=IntegerField(),
    )


def abc_class_expression(prefix: str = "") -> Case:
    """The class as SQL, for annotate/alias/filter/GROUP BY over companies.

    `prefix` reaches the company through a relation ("company__" on an account plan).
    """
    total: Any = _points(f"{prefix}{LEVEL_FIELDS[0]}")
    for field in LEVEL_FIELDS[1:]:
        total = total + _points(f"{prefix}{field}")
    return Case(
        When(IsNull(total, True), then=Value(AbcClass.UNCLASSIFIED.value)),
        *[
            When(GreaterThanOrEqual(total, lowest), then=Value(klass.value))
            for lowest, klass in THRESHOLDS
        ],
        default=Value(AbcClass.C.value),
        output_field=models.CharField(),
    )

from datetime import date
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from regua.core.models import TimeStamped

from .rules import RuleError, compile_rule, empty_rule


class RelationshipModel(models.TextChoices):
    """How a segment's customers are looked after (DESIGN.md §Capabilities 9).

    Only *dedicated* changes what the engine does today: a régua's message steps become
    tasks for each contact's account manager (docs/cadences.md §Relationship model per
    segment). The others are recorded, shown and filterable for now.
    """

    AUTOMATED = "automated", _("Automated")
    DEDICATED = "dedicated", _("Dedicated")
    PERSONAL = "personal", _("Personal")
    SELF_SERVICE = "self_service", _("Self-service")
    COMMUNITY = "community", _("Community")
    CO_CREATION = "co_creation", _("Co-creation")

    @property
    def explanation(self) -> str:
        return str(EXPLANATIONS[self])


# One line each, shown next to the choice on the segment page.
EXPLANATIONS = {
    RelationshipModel.AUTOMATED: _(
        "Réguas reach these customers on their own: every step goes out through its channel."
    ),
    RelationshipModel.DEDICATED: _(
        "Each customer has an account manager: a régua's messages become tasks for the "
        "contact's owner, who sends them personally."
    ),
    RelationshipModel.PERSONAL: _(
        "The team knows these customers by name and serves them in person, without a "
        "named account manager."
    ),
    RelationshipModel.SELF_SERVICE: _(
        "Customers help themselves (FAQ, portal, self-service page); the team steps in when asked."
    ),
    RelationshipModel.COMMUNITY: _(
        "Customers help each other in a community the business hosts and moderates."
    ),
    RelationshipModel.CO_CREATION: _(
        "Customers take part in creating the product: reviews, ideas, beta tests."
    ),
}


class Segment(TimeStamped):
    """A saved, dynamic group of contacts: its members are whoever matches the rule now."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    rule = models.JSONField(_("rule"), default=empty_rule)
    # Automated (the default) is what every segment did before the setting existed.
    relationship_model = models.CharField(
        _("relationship model"),
        max_length=12,
        choices=RelationshipModel.choices,
        default=RelationshipModel.AUTOMATED,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")

    def __str__(self) -> str:
        return self.name

    def as_q(self, *, today: date | None = None, depth: int = 0) -> Q:
        """Membership as one Q over Contact. A segment used inside another counts as a
        nesting level, so two segments that name each other stop with an error."""
        return compile_rule(self.rule, today=today, depth=depth)

    def members(self, *, today: date | None = None) -> Any:
        from regua.customers.models import Contact

        return Contact.objects.filter(self.as_q(today=today))


__all__ = ["EXPLANATIONS", "RelationshipModel", "RuleError", "Segment"]

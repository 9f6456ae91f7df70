from datetime import date
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from regua.core.models import TimeStamped

from .rules import RuleError, compile_rule, empty_rule


class Segment(TimeStamped):
    """A saved, dynamic group of contacts: its members are whoever matches the rule now."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    rule = models.JSONField(_("rule"), default=empty_rule)
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


__all__ = ["RuleError", "Segment"]

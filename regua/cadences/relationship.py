"""Relationship model per segment: who gets a régua's message steps as a task for their
account manager instead of the automated message (docs/cadences.md §Relationship model
per segment).

A contact gets a message step (e-mail, SMS, WhatsApp) as a task when, at the moment the
step falls due, the contact belongs to a segment whose model is *dedicated*, has an
active owner, and the step does not opt out (`for_dedicated: message`). The tick decides
it while scheduling (tick._schedule), in the same INSERT ... SELECT that creates the
deliveries: the delivery's channel is then `task`, and sending, the guards, the report
and the preview read that one column.
"""

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import BooleanField, Case, Exists, OuterRef, Q, Value, When
from django.utils.translation import gettext as _

from regua.customers.models import Contact

from .models import MESSAGE_CHANNELS, Cadence, ForDedicated, Step

log = logging.getLogger(__name__)


def dedicated_segments() -> list[Any]:
    from regua.segments.models import RelationshipModel, Segment

    return list(Segment.objects.filter(relationship_model=RelationshipModel.DEDICATED))


def dedicated_q(*, today: date) -> Q | None:
    """Membership of any dedicated segment as one Q over Contact; None when there is none.

    A segment whose rule no longer compiles (it names a deleted segment) counts as not
    dedicated, with a warning: its contacts get the message rather than the whole tick
    failing."""
    from regua.segments.rules import RuleError

    combined: Q | None = None
    for segment in dedicated_segments():
        try:
            member = segment.as_q(today=today)
        except RuleError as error:
            log.warning("segment %s: rule does not compile, not dedicated: %s", segment.pk, error)
            continue
        combined = member if combined is None else combined | member
    return combined


def becomes_task(dedicated: Q) -> Case:
    """Over Enrollment rows: true where the step goes to the contact's owner as a task.

    Contacts without an owner (or whose owner's account is closed) get the message: a
    task nobody owns would be lost."""
    member = Exists(Contact.objects.filter(dedicated, pk=OuterRef("contact_id")))
    return Case(
        When(
            Q(contact__owner__isnull=False, contact__owner__is_active=True) & Q(member),
            then=Value(True),
        ),
        default=Value(False),
        output_field=BooleanField(),
    )


# The régua page ---------------------------------------------------------------------------


@dataclass
class RelationshipSummary:
    """What the régua page says about the relationship models that reach this régua."""

    audience: list[Any]  # the segments the audience requires, with their model
    dedicated: list[Any]  # every dedicated segment
    task_steps: set[int] = field(default_factory=set)  # steps that may become tasks
    opted_out: list[Step] = field(default_factory=list)  # message steps that stay messages

    @property
    def audience_dedicated(self) -> bool:
        return any(segment.relationship_model == "dedicated" for segment in self.audience)

    @property
    def effect(self) -> str:
        """One sentence: what happens to the message steps of this régua."""
        if not self.dedicated:
            return _("Every step goes out through its own channel: no segment is dedicated.")
        if not self.task_steps:
            return _(
                "No step becomes a task: this régua has no message step that follows the "
                "relationship model."
            )
        if self.audience_dedicated:
            return _(
                "Its e-mail, SMS and WhatsApp steps become tasks for each "
                "contact's account manager, who sends the message personally; contacts "
                "without an owner get the message."
            )
        names = ", ".join(f"“{segment.name}”" for segment in self.dedicated)
        return _(
            "Contacts in a dedicated segment (%(segments)s) get its e-mail, SMS and "
            "WhatsApp steps as tasks for their account manager; everyone else, and "
            "contacts without an owner, get the message."
        ) % {"segments": names}


def cadence_relationship(cadence: Cadence, steps: list[Step]) -> RelationshipSummary:
    """The régua page's view of the relationship models: two small queries."""
    from regua.segments.models import Segment

    dedicated = dedicated_segments()
    names = audience_segment_names(cadence.audience)
    audience = list(Segment.objects.filter(name__in=names)) if names else []
    summary = RelationshipSummary(audience=audience, dedicated=dedicated)
    for step in steps:
        if step.may_become_task and dedicated:
            summary.task_steps.add(step.pk)
        elif step.channel in MESSAGE_CHANNELS and step.for_dedicated == ForDedicated.MESSAGE:
            summary.opted_out.append(step)
    return summary


def audience_segment_names(audience: Any) -> list[str]:
    """The segments every entrant must belong to: the audience's segment conditions with
    eq, or in with one name (the settings form writes `in [name]`)."""
    names: list[str] = []
    for item in audience if isinstance(audience, list) else []:
        if not isinstance(item, dict) or item.get("field") != "segment":
            continue
        value = item.get("value")
        if item.get("op") == "eq" and isinstance(value, str):
            names.append(value)
        elif item.get("op") == "in" and isinstance(value, list) and len(value) == 1:
            names.append(str(value[0]))
    return names

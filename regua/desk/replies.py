"""Reply templates and the guidance an agent sees while writing.

A template's text is Jinja (the régua's sandbox) with the customer's variables
(`contact`, `company`, `owner`, `last_order`, …), the ticket's (`ticket.number`,
`ticket.subject`, `ticket.order`) and the agent's (`agent.name`). It is checked when it
is saved, against sample values, so a broken template never reaches a customer.

The apology template follows the five steps of a good written apology; the agent sees
them beside the reply, with what not to write. `reply_warnings` points at the most
common slips in a draft: promises nobody can keep, blaming, dismissing and
over-apologising. They are warnings for the agent, never a refusal.
"""

import re
from datetime import date
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from regua.cadences import context as contact_context
from regua.cadences.rendering import TemplateProblem, check_text, render_text, sample_context

if TYPE_CHECKING:
    from regua.users.models import User

    from .models import ReplyTemplate, Ticket

APOLOGY_STEPS = [
    (_("Apologise sincerely"), _("Say sorry once, plainly, at the start: “Peço desculpas…”.")),
    (
        _("Acknowledge the customer's feelings"),
        _("Name what they went through: the wait, the frustration, the wasted trip."),
    ),
    (
        _("Explain what happened"),
        _("Briefly and honestly, without excuses or internal jargon."),
    ),
    (
        _("Admit the mistake specifically"),
        _("Say what we got wrong — “enviamos o tamanho errado” — not “houve um problema”."),
    ),
    (
        _("Say what will be done differently"),
        _("What you are doing now for them, and what changes so it does not happen again."),
    ),
]

DO_NOT_WRITE = [
    (_("Promises that cannot be kept"), _("“Isso nunca mais vai acontecer”, “garantimos”.")),
    (_("Blaming"), _("The customer, the carrier, a colleague or “o sistema”.")),
    (_("Dismissing"), _("“Apenas”, “é só”, “acalme-se”, “não é nada demais”.")),
    (_("Over-apologising"), _("Sorry in every sentence sounds rehearsed; once is sincere.")),
]

# Phrases that usually mean one of the slips above, in Portuguese and English.
_PROMISES = re.compile(
    r"\b(nunca mais|jamais (vai|ir[aá]) acontecer|garanti(mos|do)|prometo|never again|"
    r"guarantee|we promise|will never happen)\b",
    re.IGNORECASE,
)
_BLAME = re.compile(
    r"\b(voc[eê] deveria|a culpa (é|foi) d[aoe]|culpa da transportadora|falha do sistema|"
    r"you should have|your fault|it was the carrier)\b",
    re.IGNORECASE,
)
_DISMISS = re.compile(
    r"\b(acalme-se|[eé] s[oó]|n[aã]o [eé] nada demais|apenas um|calm down|it's just|"
    r"no big deal|simply)\b",
    re.IGNORECASE,
)
_SORRY = re.compile(r"\b(desculp\w*|perd[aã]o|lament\w*|sorry|apologi[sz]e\w*)\b", re.IGNORECASE)
MAX_APOLOGIES = 2
# A template's "[say what happened]" left in the reply.
_PLACEHOLDER = re.compile(r"\[[^\]\n]{3,}\]")


def reply_warnings(text: str) -> list[str]:
    """What in a draft reply the agent may want to rewrite."""
    warnings = []
    if _PLACEHOLDER.search(text):
        warnings.append(str(_("It still has a template's [bracketed] part to replace.")))
    if _PROMISES.search(text):
        warnings.append(str(_("It promises something nobody can guarantee.")))
    if _BLAME.search(text):
        warnings.append(str(_("It blames someone; own the problem instead.")))
    if _DISMISS.search(text):
        warnings.append(str(_("It may sound dismissive of the customer's problem.")))
    if len(_SORRY.findall(text)) > MAX_APOLOGIES:
        warnings.append(str(_("It apologises many times; once, sincerely, is enough.")))
    return warnings


# The variables a reply has; templates are checked against exactly these.
REPLY_VARIABLES = ("contact", "owner", "brand")


def _sample() -> dict[str, Any]:
    sample = sample_context()
    return {
        **{name: sample[name] for name in REPLY_VARIABLES if name in sample},
        "ticket": {"number": "#1042", "subject": "Pedido chegou com defeito", "order": "10482"},
        "agent": {"name": "Beatriz Oliveira", "first_name": "Beatriz"},
    }


def template_problems(template: "ReplyTemplate") -> dict[str, list[str]]:
    """Field → problems of a reply template's texts, checked against sample values."""
    found: dict[str, list[str]] = {}
    for field, source in (("body_pt", template.body_pt), ("body_en", template.body_en)):
        if not source.strip():
            continue
        # Once with every variable, once without the optional owner (not every
        # customer has one): a template must read well either way.
        problems: list[TemplateProblem] = check_text(source, field, _sample()) or check_text(
            source, field, {**_sample(), "owner": None}
        )
        if problems:
            found[field] = [
                f"{_('line')} {p.line}: {p.message}" if p.line else p.message for p in problems
            ]
    return found


def reply_context(ticket: "Ticket", agent: "User") -> dict[str, Any]:
    today: date = timezone.localdate()
    contact = ticket.contact
    owner = contact.owner
    return {
        "contact": contact_context.contact_data(contact, today),
        "owner": {"name": str(owner), "email": owner.email} if owner else None,
        "brand": {"name": settings.REGUA_BRAND_NAME, "site_url": settings.REGUA_SITE_URL},
        "ticket": {
            "number": ticket.number,
            "subject": ticket.subject,
            "order": ticket.order_ref,
        },
        "agent": {"name": agent.get_full_name() or agent.email, "first_name": agent.first_name},
    }


def template_render(template: "ReplyTemplate", ticket: "Ticket", agent: "User") -> str:
    """The template's text for this ticket, in the customer's language."""
    language = ticket.contact.language
    field = "body_en" if template.body_for(language) is template.body_en else "body_pt"
    return render_text(template.body_for(language), field, reply_context(ticket, agent))

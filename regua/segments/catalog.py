"""What the rule builder offers: every field with its label, operators and values.

The builder page receives this as JSON; the rules module is what decides whether a rule
compiles, so a field listed here and missing there fails a test (test_segment_pages).
"""

from typing import Any

from django.utils.translation import gettext as _

from regua.analytics.rfm import ACTIVITY_CELLS, SEGMENT_MAP
from regua.customers.models import Gender, RelationshipType, Stage
from regua.events.labels import EVENT_LABELS
from regua.lib.brazil import STATE_CHOICES

CHOICE = ["eq", "ne", "in", "not_in"]
NUMBER = ["eq", "ne", "gt", "gte", "lt", "lte"]
TEXT = ["eq", "ne", "is_set", "is_not_set"]


def op_labels() -> dict[str, str]:
    return {
        "eq": _("is"),
        "ne": _("is not"),
        "in": _("is one of"),
        "not_in": _("is none of"),
        "gt": _("more than"),
        "gte": _("at least"),
        "lt": _("less than"),
        "lte": _("at most"),
        "is_set": _("is filled in"),
        "is_not_set": _("is empty"),
        "has": _("has"),
        "not_has": _("does not have"),
        "within_days": _("in the last … days"),
        "not_within_days": _("not in the last … days"),
        "count_gte": _("at least … times in … days"),
        "count_lte": _("at most … times in … days"),
    }


def _choices(pairs: Any) -> list[list[str]]:
    return [[str(value), str(label)] for value, label in pairs]


def fields() -> list[dict[str, Any]]:
    """The builder's fields, grouped; `param` asks for a name that completes the key."""
    from .models import Segment

    level = [["high", _("High")], ["medium", _("Medium")], ["low", _("Low")]]
    nps = [["promoter", _("Promoter")], ["passive", _("Passive")], ["detractor", _("Detractor")]]
    consent = [["granted", _("granted")], ["withdrawn", _("withdrawn")]]
    contact = _("Contact")
    company = _("Company")
    behaviour = _("Behaviour")
    orders = _("Orders")
    scores = _("Scores")
    return [
        {
            "group": contact,
            "key": "stage",
            "label": _("Lifecycle stage"),
            "ops": CHOICE,
            "choices": _choices(Stage.choices),
        },
        {
            "group": contact,
            "key": "gender",
            "label": _("Gender"),
            "ops": CHOICE,
            "choices": _choices(Gender.choices),
        },
        {"group": contact, "key": "city", "label": _("City"), "ops": TEXT, "value": "text"},
        {
            "group": contact,
            "key": "state",
            "label": _("State"),
            "ops": CHOICE,
            "choices": _choices(STATE_CHOICES),
        },
        {
            "group": contact,
            "key": "age",
            "label": _("Age"),
            "ops": NUMBER[:1] + NUMBER[2:],
            "value": "number",
        },
        {
            "group": contact,
            "key": "tags",
            "label": _("Tag"),
            "ops": ["has", "not_has"],
            "value": "text",
        },
        {
            "group": contact,
            "key": "owner",
            "label": _("Owner (e-mail)"),
            "ops": TEXT,
            "value": "text",
        },
        {"group": contact, "key": "source", "label": _("Source"), "ops": TEXT, "value": "text"},
        {
            "group": contact,
            "key": "relationship_type",
            "label": _("Relationship type"),
            "ops": CHOICE,
            "choices": _choices(RelationshipType.choices),
        },
        *[
            {
                "group": contact,
                "key": f"consent.{channel}",
                "label": label,
                "ops": ["eq", "ne"],
                "choices": consent,
            }
            for channel, label in (
                ("email", _("E-mail consent")),
                ("sms", _("SMS consent")),
                ("whatsapp", _("WhatsApp consent")),
            )
        ],
        {
            "group": contact,
            "key": "attributes.",
            "label": _("Custom attribute"),
            "param": _("attribute name"),
            "ops": [*NUMBER, "is_set", "is_not_set"],
            "value": "text",
        },
        {
            "group": company,
            "key": "company.profitability",
            "label": _("Company profitability"),
            "ops": CHOICE,
            "choices": level,
        },
        {
            "group": company,
            "key": "company.purchase_potential",
            "label": _("Company purchase potential"),
            "ops": CHOICE,
            "choices": level,
        },
        {
            "group": company,
            "key": "company.relationship_degree",
            "label": _("Company relationship degree"),
            "ops": CHOICE,
            "choices": level,
        },
        {
            "group": behaviour,
            "key": "event.",
            "label": _("Event"),
            "param": _("event name"),
            "suggestions": sorted(EVENT_LABELS),
            "ops": ["within_days", "not_within_days", "count_gte", "count_lte"],
        },
        {
            "group": behaviour,
            "key": "nps.category",
            "label": _("Latest NPS answer"),
            "ops": ["eq", "ne"],
            "choices": nps,
        },
        {
            "group": orders,
            "key": "orders.count",
            "label": _("Number of purchases"),
            "ops": NUMBER,
            "value": "number",
        },
        {
            "group": orders,
            "key": "orders.total",
            "label": _("Total spent (R$)"),
            "ops": NUMBER,
            "value": "number",
        },
        {
            "group": orders,
            "key": "orders.last",
            "label": _("Purchased"),
            "ops": ["within_days", "not_within_days"],
        },
        {
            "group": orders,
            "key": "orders.product",
            "label": _("Bought the product (SKU)"),
            "ops": ["has", "not_has"],
            "value": "text",
        },
        {
            "group": orders,
            "key": "orders.category",
            "label": _("Bought in the category (slug)"),
            "ops": ["has", "not_has"],
            "value": "text",
        },
        {
            "group": scores,
            "key": "score.rfm_segment",
            "label": _("RFM segment"),
            "ops": CHOICE,
            "choices": [[k, str(label)] for k, (label, _cells) in SEGMENT_MAP.items()],
        },
        {
            "group": scores,
            "key": "score.activity_cell",
            "label": _("Activity matrix"),
            "ops": CHOICE,
            "choices": [[k, str(v)] for k, v in ACTIVITY_CELLS.items()],
        },
        {
            "group": scores,
            "key": "score.clv",
            "label": _("CLV (R$)"),
            "ops": NUMBER,
            "value": "number",
        },
        {
            "group": scores,
            "key": "score.p_alive",
            "label": _("P(alive), 0–1"),
            "ops": NUMBER,
            "value": "number",
        },
        {
            "group": scores,
            "key": "score.recency_days",
            "label": _("Days since last purchase"),
            "ops": NUMBER,
            "value": "number",
        },
        *[
            {
                "group": scores,
                "key": f"score.{letter}",
                "label": label,
                "ops": NUMBER,
                "value": "number",
            }
            for letter, label in (("r", _("R score")), ("f", _("F score")), ("m", _("M score")))
        ],
        *_loyalty_fields(),
        {
            "group": _("Segments"),
            "key": "segment",
            "label": _("Member of the segment"),
            "ops": ["in", "not_in"],
            "choices": [[n, n] for n in Segment.objects.values_list("name", flat=True)],
        },
    ]


def _loyalty_fields() -> list[dict[str, Any]]:
    from regua.loyalty.models import Tier

    loyalty = _("Loyalty")
    tiers = [["none", _("No tier")], *[[t.slug, t.name] for t in Tier.objects.all()]]
    return [
        {
            "group": loyalty,
            "key": "loyalty.tier",
            "label": _("Loyalty tier"),
            "ops": CHOICE,
            "choices": tiers,
        },
        {
            "group": loyalty,
            "key": "loyalty.points",
            "label": _("Loyalty points"),
            "ops": NUMBER,
            "value": "number",
        },
    ]

"""What a new installation starts with: business hours, the shipped SLA (first response
within 10 business hours), common categories and reply templates, among them the
apology built on the five steps. The first migration writes them once; they are then
the business's to change."""

from collections.abc import Callable
from typing import Any

CALENDAR = {
    "name": "Horário comercial",
    "time_zone": "America/Sao_Paulo",
    "hours": {
        "mon": "08:00-12:00, 13:00-18:00",
        "tue": "08:00-12:00, 13:00-18:00",
        "wed": "08:00-12:00, 13:00-18:00",
        "thu": "08:00-12:00, 13:00-18:00",
        "fri": "08:00-12:00, 13:00-18:00",
        "sat": "",
        "sun": "",
    },
    "national_holidays": True,
}

POLICIES = [
    # name, position, priority, first response, resolution, warn before (business minutes)
    ("Urgente: 1ª resposta em 2 horas úteis", 10, 4, 120, 8 * 60, 30),
    ("Padrão: 1ª resposta em 10 horas úteis", 1000, None, 10 * 60, 40 * 60, 60),
]

CATEGORIES = [
    "Entrega e rastreio",
    "Troca e devolução",
    "Pagamento e reembolso",
    "Produto com defeito",
    "Cadastro e acesso",
    "Outros assuntos",
]

APOLOGY_PT = """Olá, {{ contact.first_name }},

Peço desculpas, sinceramente, pelo que aconteceu{% if ticket.order %} com o seu pedido {{ ticket.order }}{% endif %}.

Imagino como foi frustrante [diga o que o cliente passou: esperar, receber errado, perder tempo].

O que aconteceu: [explique em poucas palavras, sem jargão e sem desculpas].

O erro foi nosso: [diga exatamente o que erramos].

O que vamos fazer: [o que já foi feito por você — troca, reembolso, nova entrega, com data] e [o que muda do nosso lado para não se repetir].

Se preferir conversar, é só responder a este e-mail.

{{ agent.name }}
{{ brand.name }}"""

APOLOGY_EN = """Hello {{ contact.first_name }},

I am truly sorry for what happened{% if ticket.order %} with your order {{ ticket.order }}{% endif %}.

I can imagine how frustrating it was to [say what the customer went through].

What happened: [explain briefly, without jargon or excuses].

The mistake was ours: [say exactly what we got wrong].

What we are doing: [what has been done for you — exchange, refund, new delivery, with a date] and [what changes on our side so it does not happen again].

If you would rather talk, just reply to this e-mail.

{{ agent.name }}
{{ brand.name }}"""

TEMPLATES = [
    # name, kind, is_apology, Portuguese, English
    ("Pedido de desculpas (5 passos)", "complaint", True, APOLOGY_PT, APOLOGY_EN),
    (
        "Recebemos sua solicitação",
        "",
        False,
        "Olá, {{ contact.first_name }},\n\nRecebemos sua solicitação {{ ticket.number }} "
        "e já estamos cuidando dela. [Diga o próximo passo e quando o cliente terá "
        "notícias.]\n\n{{ agent.name }}\n{{ brand.name }}",
        "Hello {{ contact.first_name }},\n\nWe received your request {{ ticket.number }} "
        "and are on it. [Say the next step and when the customer will hear from us.]"
        "\n\n{{ agent.name }}\n{{ brand.name }}",
    ),
    (
        "Precisamos de mais informações",
        "",
        False,
        "Olá, {{ contact.first_name }},\n\nPara resolver sua solicitação {{ ticket.number }} "
        "precisamos de [o que falta: foto do produto, número do pedido, endereço]. "
        "Assim que você responder, seguimos.\n\n{{ agent.name }}\n{{ brand.name }}",
        "Hello {{ contact.first_name }},\n\nTo solve your request {{ ticket.number }} we "
        "need [what is missing: a photo, the order number, the address]. As soon as you "
        "reply, we carry on.\n\n{{ agent.name }}\n{{ brand.name }}",
    ),
]


def install(get_model: Callable[[str], Any]) -> None:
    """Writes what is missing of the above. `get_model(name)` gives the model: the
    migration passes its historical models, the demo the app's own."""
    calendar_model = get_model("BusinessCalendar")
    calendar, _created = calendar_model.objects.get_or_create(
        name=CALENDAR["name"], defaults=CALENDAR
    )
    for name, position, priority, first, resolution, warn in POLICIES:
        get_model("SlaPolicy").objects.get_or_create(
            name=name,
            defaults={
                "position": position,
                "priority": priority,
                "calendar": calendar,
                "first_response_minutes": first,
                "resolution_minutes": resolution,
                "warn_before_minutes": warn,
            },
        )
    for position, name in enumerate(CATEGORIES):
        get_model("Category").objects.get_or_create(
            name=name, defaults={"position": (position + 1) * 10}
        )
    for position, (name, kind, apology, body_pt, body_en) in enumerate(TEMPLATES):
        get_model("ReplyTemplate").objects.get_or_create(
            name=name,
            defaults={
                "kind": kind,
                "is_apology": apology,
                "body_pt": body_pt,
                "body_en": body_en,
                "position": (position + 1) * 10,
            },
        )

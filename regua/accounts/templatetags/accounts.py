"""Account bits for other apps' templates: the company page, the list, the dossier.

{% load accounts %}
{{ company|abc_class }}                       the class badge, no query
{% company_power_map company as power_map %}  then include accounts/_power_map.html
{% account_plan_of company as plan %}         the plan (or None), one query
"""

from typing import Any

from django import template
from django.utils.html import format_html

from regua.customers.models import Company

from ..classification import AbcClass, company_abc_class
from ..models import AccountPlan
from ..selectors import PowerGroup, private_portfolio
from ..selectors import company_power_map as power_map_of

register = template.Library()


@register.filter
def abc_class(company: Any) -> AbcClass:
    return company_abc_class(company)


@register.simple_tag
def abc_badge(klass: Any) -> str:
    klass = AbcClass(klass)
    css = f"abc-{klass.value.lower() or 'none'}"
    return format_html(
        '<span class="badge abc {}" title="{}">{}</span>', css, klass.explanation, klass.label
    )


@register.simple_tag(takes_context=True)
def company_power_map(context: template.Context, company: Company) -> list[PowerGroup]:
    """The power map as the signed-in user may see it (their portfolio's contacts only,
    for an agent with a private portfolio); without a request, the whole map."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return power_map_of(company)
    return power_map_of(company, visible=private_portfolio(user))


@register.simple_tag
def account_plan_of(company: Company) -> AccountPlan | None:
    return AccountPlan.objects.filter(company=company).select_related("owner").first()

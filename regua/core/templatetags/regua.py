"""Template filters and tags used across Régua's pages."""

from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import template
from django.utils import timezone
from django.utils.formats import number_format

from regua.events.labels import event_label

register = template.Library()


@register.filter
def brl(value: Decimal | float | int | None) -> str:
    """1234.5 → 'R$ 1.234,50' (pt-BR) or 'R$ 1,234.50' (English): reais in the page's locale."""
    if value is None or value == "":
        return "—"
    return "R$\u00a0" + number_format(value, 2, use_l10n=True, force_grouping=True)


@register.simple_tag(takes_context=True)
def query(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with some parameters replaced ('' removes one)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in ("", None):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = urlencode(sorted((k, v) for k, v in params.items() if v))
    return f"?{encoded}" if encoded else "?"


@register.filter
def get_item(mapping: dict[Any, Any] | None, key: Any) -> Any:
    return (mapping or {}).get(key)


@register.filter
def age(born: date | None) -> int | None:
    """Whole years since `born`, today in the current time zone."""
    if born is None:
        return None
    today = timezone.localdate()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


@register.filter(name="event_label")
def event_label_filter(name: str) -> str:
    return event_label(name)

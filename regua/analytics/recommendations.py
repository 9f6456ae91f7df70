"""Recommended products: what is bought with what the contact bought, then best sellers.

Templates (`recommended_products`) and the contact's dossier show them.
"""

import time
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Count

from regua.commerce.models import Product

from .models import ProductPair


def recommendations(
    bought: dict[int, set[str]], limit: int = 10
) -> dict[int, list[dict[str, Any]]]:
    """Products for each contact: those bought with what they bought (cross-sell pairs, by
    lift), then the best sellers; never one they bought already. The dossier uses it too."""
    skus = set().union(*bought.values()) if bought else set()
    partners: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for sku, other, lift in ProductPair.objects.filter(sku__in=skus).values_list(
        "sku", "other", "lift"
    ):
        partners[sku].append((lift, other))
    wanted = {other for pairs in partners.values() for _lift, other in pairs}
    products = {p.sku: _product(p) for p in Product.objects.filter(sku__in=wanted, active=True)}
    popular = _popular()
    found: dict[int, list[dict[str, Any]]] = {}
    for contact_id, own in bought.items():
        best: dict[str, float] = {}
        for sku in own:
            for lift, other in partners.get(sku, []):
                if other not in own and other in products:
                    best[other] = max(lift, best.get(other, 0.0))
        ranked = [products[sku] for sku in sorted(best, key=lambda k: (-best[k], k))]
        ranked += [p for p in popular if p["sku"] not in own and p["sku"] not in best]
        found[contact_id] = ranked[:limit]
    return found


def _product(product: Product) -> dict[str, Any]:
    return {
        "name": product.name,
        "sku": product.sku,
        "price": product.price or Decimal(0),
        "url": product.url,
    }


_popular_cache: tuple[float, list[dict[str, Any]]] | None = None
POPULAR_SECONDS = 600


def _popular(limit: int = 20) -> list[dict[str, Any]]:
    """The best-selling active products: what fills recommendations beyond the pairs.

    Counting sales reads every order item, so a worker keeps the answer for ten minutes.
    """
    global _popular_cache
    if _popular_cache is not None and time.monotonic() - _popular_cache[0] < POPULAR_SECONDS:
        return _popular_cache[1]
    rows = (
        Product.objects.filter(active=True)
        .annotate(sold=Count("order_items"))
        .order_by("-sold", "name")[:limit]
    )
    found = [_product(p) for p in rows]
    _popular_cache = (time.monotonic(), found)
    return found

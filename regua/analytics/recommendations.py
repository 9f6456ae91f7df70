"""Recommended products: what is bought with what the contact bought, then best sellers.

Templates (`recommended_products`) and the contact's dossier show them.
"""

import time
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.core.cache import caches
from django.db import transaction
from django.db.models import Count

from regua.commerce.models import Product

from .models import ProductPair


def recommendations(
    bought: dict[int, set[str]], limit: int = 10, *, page: bool = False
) -> dict[int, list[dict[str, Any]]]:
    """Products for each contact: those bought with what they bought (cross-sell pairs, by
    lift), then the best sellers; never one they bought already. The dossier uses it too,
    as a `page`: it may go without best sellers while they are counted (_popular)."""
    skus = set().union(*bought.values()) if bought else set()
    partners: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for sku, other, lift in ProductPair.objects.filter(sku__in=skus).values_list(
        "sku", "other", "lift"
    ):
        partners[sku].append((lift, other))
    wanted = {other for pairs in partners.values() for _lift, other in pairs}
    products = {p.sku: _product(p) for p in Product.objects.filter(sku__in=wanted, active=True)}
    popular = _popular(page=page)
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
POPULAR_SECONDS = 600  # how old the best sellers may be
POPULAR_LOCAL_SECONDS = 60  # how long a process keeps them without asking the shared cache
POPULAR_KEY = "analytics:best-sellers"
POPULAR_REFRESH_KEY = f"{POPULAR_KEY}:refresh"  # held from the job's queueing to its end
POPULAR_REFRESH_SECONDS = 300  # after which a job that never ran or died is queued again
POPULAR_KEPT = 7 * 24 * 3600  # how long a stale list is kept for use while the job counts


def _popular(limit: int = 20, *, page: bool = False) -> list[dict[str, Any]]:
    """The best-selling active products: what fills recommendations beyond the pairs.

    Counting sales reads every order item, seconds on a large base, so the list lives in
    the shared cache (settings.CACHES["shared"]) for ten minutes, where every web process
    and worker reads it; each process also keeps its copy for a minute, so a page costs
    no cache read. When the list is stale, the one process that takes the refresh key
    queues the count as a background job (best_sellers_refresh_job), and every process
    keeps using the stale list meanwhile: no request waits for the count. The stale list
    is kept for a week, so the first pages after a quiet night do not go without. With
    none at all (a new install), a `page` goes without best sellers until the job has
    counted; a message (not a page) counts them itself rather than go out without.
    """
    global _popular_cache
    now = time.time()
    if _popular_cache is not None and now - _popular_cache[0] < POPULAR_LOCAL_SECONDS:
        return _popular_cache[1]
    shared = caches["shared"]
    stored = shared.get(POPULAR_KEY)
    if _fresh(stored, now):
        _popular_cache = (now, stored[1])
        return stored[1]
    refresh = shared.add(POPULAR_REFRESH_KEY, 1, POPULAR_REFRESH_SECONDS)
    if stored is None and not page:
        return best_sellers_count(limit, release=refresh)
    if refresh:
        from .tasks import best_sellers_refresh_job

        transaction.on_commit(lambda: best_sellers_refresh_job.enqueue(limit))
    if stored is None:  # a page, none yet (not kept, so the next page asks again)
        return []
    _popular_cache = (now, stored[1])  # the stale list, while the job counts
    return stored[1]


def best_sellers_refresh(limit: int = 20) -> list[dict[str, Any]]:
    """The background job's work (best_sellers_refresh_job): count the best sellers and
    free the refresh key. A list counted less than POPULAR_SECONDS ago is kept as it is:
    while the jobs' worker was down, the count may have been queued more than once."""
    shared = caches["shared"]
    stored = shared.get(POPULAR_KEY)
    if _fresh(stored, time.time()):
        shared.delete(POPULAR_REFRESH_KEY)
        return stored[1]
    return best_sellers_count(limit)


def _fresh(stored: tuple[float, list[dict[str, Any]]] | None, now: float) -> bool:
    """Whether the stored best sellers were counted less than POPULAR_SECONDS ago."""
    return stored is not None and now - stored[0] < POPULAR_SECONDS


def best_sellers_count(limit: int = 20, *, release: bool = True) -> list[dict[str, Any]]:
    """Count the best sellers and store them in the shared cache (see _popular); with
    `release`, free the refresh key for the next count."""
    global _popular_cache
    rows = (
        Product.objects.filter(active=True)
        .annotate(sold=Count("order_items"))
        .order_by("-sold", "name")[:limit]
    )
    found = [_product(p) for p in rows]
    shared = caches["shared"]
    shared.set(POPULAR_KEY, (time.time(), found), POPULAR_KEPT)
    if release:
        shared.delete(POPULAR_REFRESH_KEY)
    _popular_cache = (time.time(), found)
    return found

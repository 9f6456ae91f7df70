"""Background jobs of the analytics: the nightly (or on-demand) refresh of the scores,
a dashboard's snapshot, and the best sellers' count."""

from datetime import date

from django_tasks import task

from .services import scores_refresh


@task()
def scores_refresh_job(as_of: str) -> dict[str, object]:
    """Recompute the stored customer scores as of a date (ISO); returns the summary."""
    result = scores_refresh(as_of=date.fromisoformat(as_of))
    return {"customers": result.customers, "seconds": result.seconds}


@task()
def dashboard_refresh_job(
    start: str, end: str, segment_id: int | None, owner_id: int | None, as_of: str
) -> float:
    """Recompute one dashboard snapshot; returns the seconds it took."""
    from .dashboard import Filter, dashboard_refresh

    filters = Filter(date.fromisoformat(start), date.fromisoformat(end), segment_id, owner_id)
    return dashboard_refresh(filters, as_of=date.fromisoformat(as_of)).seconds


@task()
def best_sellers_refresh_job(limit: int) -> list[str]:
    """Count the best sellers into the shared cache (recommendations._popular); returns
    their SKUs."""
    from .recommendations import best_sellers_refresh

    return [product["sku"] for product in best_sellers_refresh(limit)]

"""Background jobs of the analytics: the nightly (or on-demand) refresh of the scores."""

from datetime import date

from django_tasks import task

from .services import scores_refresh


@task()
def scores_refresh_job(as_of: str) -> dict[str, object]:
    """Recompute the stored customer scores as of a date (ISO); returns the summary."""
    result = scores_refresh(as_of=date.fromisoformat(as_of))
    return {"customers": result.customers, "seconds": result.seconds}

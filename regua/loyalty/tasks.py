"""Background job of the loyalty programme: the scheduled refresh."""

from datetime import datetime

from django_tasks import task

from .services import loyalty_refresh


@task()
def loyalty_refresh_job(now: str) -> dict[str, object]:
    """Run loyalty_refresh as of an instant (ISO); returns its summary."""
    return loyalty_refresh(now=datetime.fromisoformat(now)).as_dict()

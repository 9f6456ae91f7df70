"""Background job of the privacy app: the day's retention run (privacy.retention)."""

from dataclasses import asdict
from datetime import datetime

from django_tasks import task

from .models import RetentionRun
from .retention import retention_apply


@task()
def retention_job(now: str) -> dict[str, int]:
    """Apply the retention rules as of an instant (ISO); records and returns the summary.
    A job, not the worker's loop: erasing a day's batch of inactive contacts takes
    seconds to minutes, which the sends cannot wait."""
    moment = datetime.fromisoformat(now)
    summary = asdict(retention_apply(now=moment))
    RetentionRun.finish(moment, summary)
    return summary

"""Background job of the events: the day's archive (events.retention)."""

from datetime import datetime

from django_tasks import task

from .models import ArchiveRun
from .retention import events_archive


@task()
def events_archive_job(now: str) -> dict[str, object]:
    """Run events_archive as of an instant (ISO); records and returns its summary."""
    moment = datetime.fromisoformat(now)
    summary = events_archive(now=moment).as_dict()
    ArchiveRun.finish(moment, summary)
    return summary

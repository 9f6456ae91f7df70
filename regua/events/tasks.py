"""Background job of the events: the day's archive (events.retention)."""

from datetime import datetime

from django.utils import timezone
from django_tasks import task

from regua.analytics.frames import business_zone

from .models import ArchiveRun
from .retention import events_archive


@task()
def events_archive_job(now: str) -> dict[str, object]:
    """Run events_archive as of an instant (ISO); records and returns its summary."""
    moment = datetime.fromisoformat(now)
    summary = events_archive(now=moment).as_dict()
    ArchiveRun.objects.filter(day=timezone.localtime(moment, business_zone()).date()).update(
        finished_at=timezone.now(), summary=summary
    )
    return summary

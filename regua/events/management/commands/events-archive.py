"""regua events-archive [--dry-run] [--now ISO]

Archives the raw events older than REGUA_EVENT_RETENTION_MONTHS as of an instant (default:
now): monthly totals per contact and name replace them (events.retention). With --dry-run
it only counts what it would do. Prints its summary as one JSON document.
"""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from regua.events.retention import events_archive
from regua.lib.commands import instant


class Command(BaseCommand):
    help = "Summarise and delete the raw events past the retention period; prints JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count; change nothing.")
        parser.add_argument("--now", type=instant, default=None, help="ISO instant; default now")

    def handle(self, *args: Any, **options: Any) -> None:
        summary = events_archive(now=options["now"] or timezone.now(), dry_run=options["dry_run"])
        self.stdout.write(json.dumps(summary.as_dict(), ensure_ascii=False))

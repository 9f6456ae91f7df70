"""regua tick [--now ISO-8601] [--dry-run] [--no-send]: one tick, a JSON summary line."""

from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from regua.cadences.tick import tick


def instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--now: {text!r} is not an ISO-8601 instant") from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class Command(BaseCommand):
    help = "Enroll, schedule and send everything due as of --now (default: now)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", type=instant, help="The instant to tick as of (ISO-8601).")
        parser.add_argument("--dry-run", action="store_true", help="Compute, write nothing.")
        parser.add_argument(
            "--no-send", action="store_true", help="Enroll and schedule, leave sending to workers."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        summary = tick(
            now=options["now"] or timezone.now(),
            dry_run=options["dry_run"],
            send=not options["no_send"],
        )
        self.stdout.write(summary.as_json())

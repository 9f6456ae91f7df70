"""regua tick [--now ISO-8601] [--dry-run] [--no-send] [--partition K/N]: one tick, a JSON
summary line."""

from argparse import ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from regua.cadences.partitions import MAX_PARTITIONS, Partition
from regua.cadences.tick import tick
from regua.lib.commands import instant


def partition(text: str) -> Partition:
    try:
        return Partition.parse(text)
    except ValueError:
        # argparse's own error: a usage line, not a traceback.
        raise ArgumentTypeError(
            _("%(text)r is not K/N, with N from 1 to %(most)d and K from 0 to N − 1")
            % {"text": text, "most": MAX_PARTITIONS}
        ) from None


class Command(BaseCommand):
    help = "Enroll, schedule and send everything due as of --now (default: now)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", type=instant, help="The instant to tick as of (ISO-8601).")
        parser.add_argument("--dry-run", action="store_true", help="Compute, write nothing.")
        parser.add_argument(
            "--no-send", action="store_true", help="Enroll and schedule, leave sending to workers."
        )
        parser.add_argument(
            "--partition",
            type=partition,
            help="Only the contacts whose id modulo N is K (K/N, K from 0): one share of the "
            "tick, from that partition's own watermarks (docs/cadences.md).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        summary = tick(
            now=options["now"] or timezone.now(),
            dry_run=options["dry_run"],
            send=not options["no_send"],
            partition=options["partition"],
        )
        self.stdout.write(summary.as_json())

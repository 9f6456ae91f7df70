"""regua loyalty refresh [--now ISO]

Runs the programme's refresh as of an instant (default: now): credits the purchases and
referrals not yet credited, expires lapsed points, recomputes the tiers and appends the
tier and milestone events. Prints its summary as one JSON document.
"""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from regua.lib.commands import instant
from regua.loyalty.services import loyalty_refresh


class Command(BaseCommand):
    help = "Refresh the loyalty programme (points, expiry, tiers, events); prints JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["refresh"])
        parser.add_argument("--now", type=instant, default=None, help="ISO instant; default now")

    def handle(self, *args: Any, **options: Any) -> None:
        summary = loyalty_refresh(now=options["now"] or timezone.now())
        self.stdout.write(json.dumps(summary.as_dict(), ensure_ascii=False, default=str))

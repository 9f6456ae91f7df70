"""regua worker: runs the background jobs (imports now; deliveries and ticks later).

It is django-tasks-db's db_worker on the queues Régua uses; it stops cleanly on SIGTERM
after the job in hand, and any number of workers may run against one database.
"""

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run Régua's background worker."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit.")
        parser.add_argument("--interval", type=float, default=1.0)

    def handle(self, *args: Any, **options: Any) -> None:
        call_command(
            "db_worker",
            batch=options["batch"],
            interval=options["interval"],
            no_startup_delay=True,
            verbosity=options["verbosity"],
        )

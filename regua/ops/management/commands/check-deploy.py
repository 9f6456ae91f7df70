"""regua check-deploy: Django's `check --deploy` plus Régua's own checks, with the database."""

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Check that this install is ready for production: Django's deploy checks and "
        "Régua's (secret key, e-mail backend, site URL, database, a live worker)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--fail-level",
            default="ERROR",
            choices=["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"],
            help="Exit non-zero from this level on (default: ERROR).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command(
            "check",
            deploy=True,
            databases=["default"],
            fail_level=options["fail_level"],
            stdout=self.stdout,
            stderr=self.stderr,
        )

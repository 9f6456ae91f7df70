"""regua import contacts|companies|orders|events FILE

Prints a progress bar on a terminal and ends with one JSON line:
{"created": n, "updated": n, "unchanged": n, "skipped": n, "contacts_created": n,
 "errors": [{"line": i, "field": f, "message": m}, ...]}
Exits 0 when the file was read, even with bad rows; 1 with a one-line reason when not.
"""

import json
import sys
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from regua.imports.csvfile import ImportFileError
from regua.imports.runner import KINDS, Checkpoint, import_file


class Command(BaseCommand):
    help = "Import a CSV file of contacts, companies, orders or events."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument("file")
        parser.add_argument(
            "--no-create-contacts",
            action="store_true",
            help="Report orders and events of unknown customers instead of creating them.",
        )
        parser.add_argument(
            "--timezone",
            default=None,
            help="Time zone of dates written without an offset (default: TIME_ZONE).",
        )
        parser.add_argument("--chunk-size", type=int, default=None, help="Rows per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tz = ZoneInfo(options["timezone"]) if options["timezone"] else None
        except (ZoneInfoNotFoundError, ValueError):
            raise CommandError(f"unknown time zone: {options['timezone']}") from None
        bar = None
        if sys.stderr.isatty():
            bar = tqdm(total=0, unit="B", unit_scale=True, desc=options["kind"], file=sys.stderr)

        def progress(checkpoint: Checkpoint) -> None:
            if bar is not None:
                result = checkpoint.result
                bar.total = checkpoint.size
                bar.update(checkpoint.position - bar.n)
                bar.set_postfix(
                    created=result.created,
                    updated=result.updated,
                    skipped=result.skipped,
                    refresh=False,
                )

        try:
            result = import_file(
                options["kind"],
                options["file"],
                tz=tz,
                create_contacts=not options["no_create_contacts"],
                chunk_size=options["chunk_size"],
                on_progress=progress,
            )
        except ImportFileError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc}") from None
        finally:
            if bar is not None:
                bar.close()
        self.stdout.write(json.dumps(result.summary(), ensure_ascii=False))

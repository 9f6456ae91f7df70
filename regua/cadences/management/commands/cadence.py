"""regua cadence export KEY > file.yaml | regua cadence import FILE... | regua cadence list"""

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from regua.cadences.models import Cadence
from regua.cadences.yaml_io import CadenceError, cadence_export, cadence_import


class Command(BaseCommand):
    help = "Export a régua to YAML, import réguas from YAML, or list them."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="Print a régua as YAML.")
        export.add_argument("key")
        load = sub.add_parser("import", help="Create or update réguas from YAML files.")
        load.add_argument("files", nargs="+")
        sub.add_parser("list", help="The réguas, a line each.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            for c in Cadence.objects.order_by("key"):
                self.stdout.write(f"{c.key}\t{c.status}\t{c.name}")
        elif action == "export":
            cadence = Cadence.objects.filter(key=options["key"]).first()
            if cadence is None:
                raise CommandError(f"no régua with key {options['key']!r}")
            self.stdout.write(cadence_export(cadence), ending="")
        else:
            failed = False
            for name in options["files"]:
                try:
                    text = sys.stdin.read() if name == "-" else Path(name).read_text("utf-8")
                    cadence, created = cadence_import(text)
                except OSError as error:
                    raise CommandError(f"{name}: {error.strerror}") from None
                except CadenceError as error:
                    failed = True
                    for problem in error.problems:
                        self.stderr.write(f"{name}: {problem}")
                    continue
                verb = "created" if created else "updated"
                self.stdout.write(f"{name}: {verb} {cadence.key}")
            if failed:
                raise CommandError("some files were not imported (see above)")

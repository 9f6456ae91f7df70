"""regua privacy-export CONTACT_ID [--format json|csv] [--output FILE]

Everything Régua holds about one person (regua.privacy.export), as the data-subject page
exports it, to standard output or a file. Recorded in the audit log with no user.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from regua.customers.models import Contact
from regua.lib.csv_safe import csv_lines
from regua.privacy import audit
from regua.privacy.export import CSV_HEADER, export_csv_rows, export_json


class Command(BaseCommand):
    help = "Export everything about one contact (LGPD right of access) as JSON or CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("contact_id", type=int)
        parser.add_argument("--format", choices=["json", "csv"], default="json")
        parser.add_argument("--output", help="Write to this file instead of standard output.")

    def handle(self, *args: Any, **options: Any) -> None:
        contact = Contact.objects.filter(pk=options["contact_id"]).first()
        if contact is None:
            raise CommandError(f"no contact #{options['contact_id']}")
        pieces = (
            export_json(contact)
            if options["format"] == "json"
            else csv_lines(CSV_HEADER, export_csv_rows(contact))
        )
        audit.record(
            None,
            audit.AuditAction.EXPORTED_SUBJECT,
            contact=contact,
            detail={"format": options["format"], "by": "command"},
        )
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as handle:
                handle.writelines(pieces)
        else:
            for piece in pieces:
                self.stdout.write(piece, ending="")

"""regua privacy-erase CONTACT_ID --yes

Erases one data subject as the data-subject page does (regua.privacy.erase): irreversible,
so it asks for --yes. Prints what it anonymised or deleted, per table, as JSON (counts
only: no personal data). The audit log records it with no user (the system).
"""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from regua.customers.models import Contact
from regua.privacy.erase import AlreadyErased, contact_erase


class Command(BaseCommand):
    help = "Erase a contact's personal data for good (LGPD); needs --yes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("contact_id", type=int)
        parser.add_argument("--yes", action="store_true", help="Confirm: erasure is final.")

    def handle(self, *args: Any, **options: Any) -> None:
        contact = Contact.objects.filter(pk=options["contact_id"]).first()
        if contact is None:
            raise CommandError(f"no contact #{options['contact_id']}")
        if not options["yes"]:
            raise CommandError("erasure cannot be undone: run again with --yes")
        try:
            result = contact_erase(contact=contact)
        except AlreadyErased:
            raise CommandError(f"contact #{contact.pk} was erased already") from None
        self.stdout.write(json.dumps({"contact": result.contact_id, "rows": result.counts}))

"""regua demo [--contacts N] [--months M] [--seed S] [--reset]

Migrates the database and fills it with a believable Brazilian online shop: a team,
a catalogue, B2B accounts, contacts with consent and tags, orders and events over the
last M months. The same seed gives the same data.
"""

import sys
import time
from collections.abc import Iterator
from datetime import UTC
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from regua.accounts.demo import accounts_demo
from regua.agenda.demo import agenda_demo
from regua.analytics.services import scores_refresh
from regua.customers.models import Contact
from regua.desk.demo import desk_demo
from regua.faq.demo import faq_demo
from regua.lib.pipeline import can_fork, in_child
from regua.loyalty.demo import loyalty_demo

from ...loader import Loader
from ...reguas import demo_reguas_install
from ...setup import shop_create
from ...simulate import Block, simulate_block

BLOCK = 20_000
# fmt: off
COLUMNS = {
    "customers_contact": ["id", "external_id", "email", "first_name", "last_name", "search_name",
                          "phone", "birth_date", "gender", "city", "state", "country", "time_zone",
                          "language", "stage", "source", "relationship_type", "owner_id",
                          "attributes", "created_at", "updated_at"],
    "customers_stagechange": ["contact_id", "from_stage", "to_stage", "changed_at", "source", "created_at"],
    "customers_consent": ["contact_id", "channel", "status", "source", "recorded_at", "created_at",
                          "updated_at", "text_version"],
    "customers_consentchange": ["contact_id", "channel", "status", "source", "recorded_at", "created_at",
                                "text_version"],
    "customers_contacttag": ["contact_id", "tag_id", "created_at"],
    "customers_contactrole": ["contact_id", "company_id", "role", "job_title", "created_at", "updated_at"],
    "commerce_order": ["id", "external_id", "contact_id", "ordered_at", "status", "total", "discount",
                       "currency", "channel", "created_at", "updated_at"],
    "commerce_orderitem": ["order_id", "product_id", "sku", "quantity", "unit_price", "created_at",
                           "updated_at"],
    "events_event": ["contact_id", "name", "occurred_at", "properties", "fingerprint", "source",
                     "created_at"],
    "customers_interaction": ["contact_id", "company_id", "kind", "direction", "subject", "body",
                              "outcome", "duration_minutes", "occurred_at", "author_id",
                              "created_at", "updated_at"],
}
# fmt: on


class Command(BaseCommand):
    help = "Migrate and fill the database with a believable Brazilian shop's customer base."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--contacts", type=int, default=5000)
        parser.add_argument("--months", type=int, default=12)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--reset", action="store_true", help="Replace the customer base already there."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        call_command("migrate", interactive=False, verbosity=0)
        if Contact.objects.exists() and not options["reset"]:
            self.stdout.write(
                "The database already has contacts; keeping them (use --reset to replace them)."
            )
            self._print_login()
            return
        loader = Loader()
        if options["reset"]:
            loader.empty()
        contacts, months = max(1, options["contacts"]), max(1, options["months"])
        now = timezone.now().astimezone(UTC).replace(microsecond=0)
        shop, tag_ids = shop_create(contacts=contacts, months=months, seed=options["seed"], now=now)
        loader.begin_bulk()
        totals = dict.fromkeys(COLUMNS, 0)
        ids = {"order": 1}
        bar = tqdm(
            total=contacts, unit="contacts", disable=not sys.stderr.isatty(), file=sys.stderr
        )
        now_text = now.strftime("%Y-%m-%d %H:%M:%S")

        def blocks() -> Iterator[tuple[int, Block]]:
            for index, first in enumerate(range(1, contacts + 1, BLOCK)):
                size = min(BLOCK, contacts + 1 - first)
                yield size, simulate_block(shop, index, first, size, ids)

        try:
            # The next block is simulated in a child process while this one is written.
            produced = in_child(blocks, ahead=2) if contacts > BLOCK and can_fork() else blocks()
            for size, block in produced:
                tags = [(cid, tag_ids[key], now_text) for cid, key in block.tags]
                with transaction.atomic():
                    for table, rows in (
                        ("customers_contact", block.contacts),
                        ("customers_stagechange", block.stage_changes),
                        ("customers_consent", block.consents),
                        ("customers_consentchange", block.consent_log),
                        ("customers_contacttag", tags),
                        ("customers_contactrole", block.roles),
                        ("commerce_order", block.orders),
                        ("commerce_orderitem", block.items),
                        ("events_event", block.events),
                        ("customers_interaction", block.interactions),
                    ):
                        loader.write(table, COLUMNS[table], rows)
                        totals[table] += len(rows)
                bar.update(size)
            bar.close()
        finally:  # a failed load still leaves the indexes and the search triggers in place
            self.stdout.write("Building indexes…")
            loader.end_bulk()
        self.stdout.write("Scoring the customers (RFM, activity, CLV)…")
        scores_refresh(as_of=timezone.localdate(now))
        self.stdout.write("Installing the default réguas…")
        sent = demo_reguas_install(now=now, contacts=contacts)
        self.stdout.write("Opening the loyalty programme…")
        loyalty_demo(now)
        accounts_demo(now)
        agenda_demo(now=now)
        self.stdout.write("Opening the service desk and the help centre…")
        desk_demo(now)
        faq_demo()
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"Demo loaded in {elapsed:.1f} s: {totals['customers_contact']:,} contacts, "
            f"{totals['commerce_order']:,} orders ({totals['commerce_orderitem']:,} items), "
            f"{totals['events_event']:,} events, over {months} months; "
            f"{sent:,} régua messages in the outbox."
        )
        self._print_login()

    def _print_login(self) -> None:
        from ...catalog import DEMO_PASSWORD, TEAM

        self.stdout.write(f"Sign in as {TEAM[0][0]} with the password {DEMO_PASSWORD}.")

"""regua bench: generate data, measure issue 2's figures, print them with their targets.

It replaces the customer base of the configured database (demo data), so point it at a
scratch database: `make bench` runs it on a SQLite file under var/bench/ and on a
throwaway PostgreSQL cluster. Figures go in docs/benchmarks.md; CI never runs this.
"""

import json
import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from regua.commerce.models import Order
from regua.customers.models import Contact
from regua.events.models import Event

from ... import measure


class Command(BaseCommand):
    help = "Measure the foundation's figures (pages, imports, API ingest) on generated data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--contacts", type=int, default=1_000_000)
        parser.add_argument("--months", type=int, default=12)
        parser.add_argument("--reset", action="store_true", help="Replace the data (required).")
        parser.add_argument(
            "--keep-data",
            action="store_true",
            help="Measure on the data already there instead of generating it.",
        )
        parser.add_argument("--runs", type=int, default=20)
        parser.add_argument("--import-contacts", type=int, default=200_000)
        parser.add_argument("--import-events", type=int, default=1_000_000)
        parser.add_argument("--api-batches", type=int, default=100)
        parser.add_argument(
            "--only",
            choices=[
                "demo",
                "pages",
                "imports",
                "api",
                "engine",
                "sending",
                "latency",
                "analytics",
                "analytics-memory",
                "agenda",
                "desk",
                "faults",
                "scale",
                "load",
                "erase",
                "fuzz",
                "history",
            ],
            action="append",
            help="Run only these parts (repeatable). Issue 7's parts run only when asked "
            "for: 'faults' (processes killed, SMTP and PostgreSQL down, disk full), 'scale' "
            "(one sending worker against two), 'load' (locust against gunicorn and workers). "
            "Issue 8's 'erase' (a contact with 10,000 events and 1,000 deliveries erased) "
            "runs only when asked for too, as does 'fuzz' (hypothesis against the importers "
            "and the segment rules, schemathesis against the API). 'analytics-memory' is "
            "the in-memory half of 'analytics' (generated orders, no database needed). "
            "'history' (PostgreSQL, only when asked for) measures the tick, event segment "
            "counts and the dossier, grows the events table to --history-events with "
            "older history, and measures them again. 'sending' is the sending half of "
            "'engine' (one worker against bare smtplib, with and without PIPELINING).",
        )
        parser.add_argument("--desk-tickets", type=int, default=1_000_000)
        parser.add_argument(
            "--faults-scale",
            type=float,
            default=1.0,
            help="Size of the fault runs: 1 = a 200,000-row import, 50,000 e-mails, ...",
        )
        parser.add_argument(
            "--tick-partitions",
            type=int,
            default=2,
            help="With engine: also tick a day by N partitions in N processes (1 skips).",
        )
        parser.add_argument("--scale-messages", type=int, default=20_000)
        parser.add_argument("--load-users", type=int, default=50)
        parser.add_argument("--load-minutes", type=float, default=10, help="measured minutes")
        parser.add_argument(
            "--load-warmup",
            type=float,
            default=60,
            help="seconds after the last user started before the measured minutes begin",
        )
        parser.add_argument("--load-workers", type=int, default=2)
        # docs/deploy.md §5: 2 × cores + 1 gunicorn processes, one thread each.
        parser.add_argument("--load-web", type=int, default=5, help="gunicorn processes")
        parser.add_argument("--load-threads", type=int, default=1, help="threads of each")
        # About one per contact who may receive e-mail: two workers at 1,400-1,800/s
        # empty it within the measured minutes; the window then ends with the last one.
        parser.add_argument("--load-messages", type=int, default=1_000_000)
        parser.add_argument(
            "--load-worker-nice",
            type=int,
            default=0,
            help="run the workers at this niceness (docs/deploy.md: Nice=10 beside the web)",
        )
        parser.add_argument(
            "--load-send-rate",
            type=float,
            default=0,
            help="REGUA_SEND_RATE of each worker: most messages a second (0: no limit)",
        )
        parser.add_argument("--erase-runs", type=int, default=5)
        parser.add_argument("--history-events", type=int, default=50_000_000)
        parser.add_argument(
            "--handovers",
            type=int,
            default=5,
            help="Portfolio hand-overs timed by 'agenda' (to a colleague and back).",
        )
        parser.add_argument(
            "--analytics-runs",
            type=int,
            default=7,
            help="Timed runs of the in-memory analytics, each side after one warm-up run.",
        )
        parser.add_argument(
            "--fuzz-examples", type=int, default=10_000, help="fuzz: inputs per fuzzer"
        )
        parser.add_argument(
            "--fuzz-api-examples",
            type=int,
            default=1_000,
            help="fuzz: schemathesis requests per API operation",
        )
        parser.add_argument("--json", help="Also write the figures to this file.")

    def handle(self, *args: Any, **options: Any) -> None:
        only = set(
            options["only"]
            or [
                "demo",
                "pages",
                "imports",
                "api",
                "engine",
                "latency",
                "analytics",
                "agenda",
                "desk",
            ]
        )
        report: dict[str, Any] = {"machine": measure.machine()}
        if "faults" in only:
            from regua.benchmarks.faults import faults

            # First: it creates its tables on an empty database, and its own data.
            report["faults"] = figures = faults(scale=options["faults_scale"])
            self.stdout.write(
                f"faults on {figures['database']} ({figures['seconds']:.0f} s, "
                f"seed {figures['seed']}):\n{figures['markdown']}"
            )
        if "demo" in only and not options["keep_data"]:
            if not options["reset"]:
                raise CommandError(
                    "bench replaces the data: run it on a scratch database with --reset"
                )
            started = time.perf_counter()
            call_command("demo", contacts=options["contacts"], months=options["months"], reset=True)
            seconds = time.perf_counter() - started
            report["demo"] = {
                "seconds": seconds,
                "contacts": Contact.objects.count(),
                "orders": Order.objects.count(),
                "events": Event.objects.count(),
            }
            self._line(
                "demo load",
                f"{seconds:.0f} s",
                measure.TARGETS["demo_1m_seconds"] / seconds
                if options["contacts"] >= 1_000_000
                else None,
            )
        known = Contact.objects.filter(external_id__startswith="C").count()
        report["data"] = {
            "contacts": Contact.objects.count(),
            "orders": Order.objects.count(),
            "events": Event.objects.count(),
        }
        if "pages" in only:
            report["pages"] = measure.pages(options["runs"])
            for name, figures in report["pages"].items():
                self._line(
                    name,
                    f"median {figures['median_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms",
                    measure.TARGETS["page_median_ms"] / figures["median_ms"],
                )
        if "imports" in only:
            report["imports"] = measure.imports(
                options["import_contacts"], options["import_events"], known
            )
            for kind in ("contacts", "events"):
                rate = report["imports"][kind]["rows_per_s"]
                self._line(
                    f"CSV import of {kind}",
                    f"{rate:,.0f} rows/s",
                    rate / measure.TARGETS[f"import_{kind}_rows_per_s"],
                )
        if "api" in only:
            report["api"] = measure.api_ingest(options["api_batches"], known)
            rate = report["api"]["events_per_s"]
            self._line(
                "API event ingest (batches of 1,000)",
                f"{rate:,.0f} events/s",
                rate / measure.TARGETS["api_events_per_s"],
            )
        if "engine" in only:
            from regua.benchmarks import engine

            for name, days, target in (("tick", 1, 5.0), ("catch_up", 365, 60.0)):
                report[name] = figures = engine.ticks(
                    runs=5 if days == 1 else 3, days=days, warmup=1 if days == 1 else 0
                )
                self._line(
                    f"tick over {days} day(s) of due work (default réguas)",
                    f"{figures['tick_s']:.2f} s, floor {figures['floor_s']:.3f} s "
                    f"(×{figures['ratio_to_floor']:.1f}; {figures['enrolled']:,} enrolled, "
                    f"{figures['scheduled']:,} scheduled, {figures['expired']:,} too late)",
                    target / figures["tick_s"],
                )
            if options["tick_partitions"] > 1:
                report["tick_partitioned"] = figures = engine.partitioned_ticks(
                    runs=5, days=1, processes=options["tick_partitions"]
                )
                for line in engine.partitioned_lines(figures):
                    self._line(*line)
        if only & {"engine", "sending"}:
            from regua.benchmarks import engine

            report["sending"] = engine.sending()
            self._line(
                "e-mails/s, one worker → local SMTP",
                f"{report['sending']['worker_per_s']:,.0f}/s "
                f"(smtplib {report['sending']['smtplib_per_s']:,.0f}/s, "
                f"ratio {report['sending']['ratio']:.2f}; without PIPELINING "
                f"{report['sending']['worker_unpipelined_per_s']:,.0f}/s)",
                report["sending"]["worker_per_s"] / 1000,
            )
        if "latency" in only:
            from regua.benchmarks.latency import TARGET_P95_S, latency

            report["latency"] = figures = latency()
            self._line(
                f"event → e-mail at SMTP ({figures['arrived']}/{figures['events']})",
                f"p50 {figures['p50_s']:.2f} s, p95 {figures['p95_s']:.2f} s, "
                f"max {figures['max_s']:.2f} s",
                TARGET_P95_S / figures["p95_s"],
            )
        if only & {"analytics", "analytics-memory"}:
            from regua.benchmarks import analytics

            report["analytics_memory"] = memory = analytics.in_memory(
                runs=options["analytics_runs"]
            )
            self._line(
                f"RFM + activity, {memory['customers']:,} customers / {memory['orders']:,} orders",
                f"{memory['rfm_activity_s']:.2f} s; pandas summary "
                f"{memory['pandas_summary_s']:.1f} s (×{memory['ratio_rfm_vs_pandas']:.1f})",
                10 / memory["rfm_activity_s"],
            )
            self._line(
                "BG/NBD + Gamma-Gamma fit, 1M customers",
                f"{memory['fit_1m_s']:.2f} s (CDNOW {memory['fit_cdnow_s']:.3f} s)",
                30 / memory["fit_1m_s"],
            )
        if "analytics" in only:
            from regua.benchmarks import analytics

            report["analytics_db"] = db = analytics.on_database()
            self._line(
                f"compound segment count ({db['contacts']:,} contacts)",
                f"{db['segment_count_s'] * 1000:.0f} ms ({db['members']:,} members)",
                1 / db["segment_count_s"],
            )
            self._line(
                f"cross-sell pairs over {db['items']:,} items",
                f"{db['crosssell_total_s']:.1f} s (read {db['load_items_s']:.1f} s)",
                30 / db["crosssell_total_s"],
            )
            self._line(
                f"dashboard recompute ({db['scored_customers']:,} customers)",
                f"{db['dashboard_recompute_with_scores_s']:.1f} s "
                f"(scores {db['scores_refresh_s']:.1f} s)",
                60 / db["dashboard_recompute_with_scores_s"],
            )
            self._line(
                "dashboard from its snapshot",
                f"median {db['dashboard_cached_median_ms']:.0f} ms, "
                f"p95 {db['dashboard_cached_p95_ms']:.0f} ms",
                300 / db["dashboard_cached_p95_ms"],
            )
        if "history" in only:
            from regua.benchmarks import history

            report["history_before"] = before = history.hot_paths()
            report["history_grow"] = grown = history.grow_events(options["history_events"])
            report["history_after"] = after = history.hot_paths()
            for figures in (before, after):
                events = f"{figures['events']:,} events"
                self._line(
                    f"tick over a day, {events}",
                    f"{figures['tick']['tick_s']:.2f} s",
                    5 / figures["tick"]["tick_s"],
                )
                for label, count in figures["segment_counts"].items():
                    self._line(
                        f"segment count: {label}, {events}",
                        f"{count['median_s'] * 1000:.0f} ms ({count['members']:,})",
                        1 / count["median_s"],
                    )
                dossier = figures["pages"]["dossier"]
                self._line(
                    f"dossier, {events}",
                    f"{dossier['median_ms']:.1f} ms (p95 {dossier['p95_ms']:.1f})",
                    100 / dossier["median_ms"],
                )
            self._line(
                "events added",
                f"{grown['events_added']:,} in {grown.get('total_s', 0):.0f} s",
                None,
            )
        if "agenda" in only:
            from regua.benchmarks.agenda import agenda

            report["agenda"] = figures = agenda(
                runs=options["runs"], handovers=options["handovers"]
            )
            for page, target in (("today", 100), ("week", 200), ("month", 200)):
                self._line(
                    f"agenda {page}, {figures['open_tasks_of_user']:,} open tasks",
                    f"median {figures[page]['median_ms']:.1f} ms, "
                    f"p95 {figures[page]['p95_ms']:.1f} ms",
                    target / figures[page]["median_ms"],
                )
            moved = figures["handover"]
            self._line(
                f"portfolio hand-over ({moved['contacts']:,} contacts, {moved['tasks']:,} tasks)",
                f"median {moved['median_s']:.2f} s",
                5 / moved["median_s"],
            )
        if "desk" in only:
            from regua.benchmarks.desk import desk

            report["desk"] = figures = desk(runs=options["runs"], tickets=options["desk_tickets"])
            for page in (
                "queue",
                "queue_page_2",
                "queue_one_agent",
                "queue_complaints",
                "queue_breached",
                "queue_all_closed",
                "queue_search_number",
                "ticket_page",
            ):
                self._line(
                    f"desk {page}, {figures['tickets_in_table']:,} tickets",
                    f"median {figures[page]['median_ms']:.1f} ms, "
                    f"p95 {figures[page]['p95_ms']:.1f} ms",
                    100 / figures[page]["median_ms"],
                )
            clocks = figures["clocks"]
            self._line(
                "SLA due times of a new ticket",
                f"{clocks['due_times_per_ticket_us']:.1f} µs "
                f"(minute walk {clocks['minute_walk_us']:.0f} µs for the first response)",
                1000 / clocks["due_times_per_ticket_us"],
            )
        if "erase" in only:
            from regua.benchmarks.erase import erase

            report["erase"] = figures = erase(runs=options["erase_runs"])
            self._line(
                f"erase a contact ({figures['events']:,} events, "
                f"{figures['deliveries']:,} deliveries; {figures['contacts_in_database']:,} "
                f"contacts in the {figures['database']} database)",
                f"median {figures['median_s']:.3f} s, max {figures['max_s']:.3f} s",
                figures["target_s"] / figures["median_s"],
            )
        if "fuzz" in only:
            from regua.benchmarks.fuzz import bench as fuzz_bench

            report["fuzz"] = figures = fuzz_bench(
                examples=options["fuzz_examples"], api_examples=options["fuzz_api_examples"]
            )
            for name, run in figures["fuzzers"].items():
                self._line(
                    f"fuzz {name} ({figures['database']})",
                    f"{run['examples']:,} inputs, {run['crashes']} crashes",
                    None,
                )
            api = figures["api"]
            self._line(
                f"schemathesis, {api['operations']} API operations",
                f"{api['requests']:,} requests, {api['server_errors']} server errors",
                None,
            )
        if "scale" in only:
            from regua.benchmarks.load import sending_scale

            report["scale"] = figures = sending_scale(messages=options["scale_messages"])
            self._line(
                f"sending, 1 worker → 2 ({figures['messages']:,} e-mails)",
                f"{figures['one_worker_per_s']:.0f}/s → {figures['two_workers_per_s']:.0f}/s",
                figures["ratio"] / 1.7,
            )
        if "load" in only:
            from regua.benchmarks.load import load

            report["load"] = figures = load(
                users=options["load_users"],
                minutes=options["load_minutes"],
                warmup=options["load_warmup"],
                workers=options["load_workers"],
                web=options["load_web"],
                threads=options["load_threads"],
                messages=options["load_messages"],
                worker_nice=options["load_worker_nice"],
                send_rate=options["load_send_rate"],
            )
            for name, row in figures["pages"].items():
                target = 100 if name.startswith("POST /api/") else 300
                self._line(
                    f"{name} ({row['requests']:,}, {row['failures']} errors)",
                    f"p50 {row['p50_ms']:.0f} ms, p95 {row['p95_ms']:.0f} ms, "
                    f"p99 {row['p99_ms']:.0f} ms",
                    target / row["p95_ms"] if row["p95_ms"] else None,
                )
            whole = figures["pages_with_start_up"]["All"]
            self._line(
                "All, with the start-up",
                f"p50 {whole['p50_ms']:.0f} ms, p95 {whole['p95_ms']:.0f} ms, "
                f"p99 {whole['p99_ms']:.0f} ms",
                None,
            )
            self._line(
                f"sent during the load ({figures['workers']} workers)",
                f"{figures['sent_per_s']:.0f} e-mails/s"
                + (
                    f" (the queue ran dry: measured over {figures['measured_s']:.0f} s, "
                    "up to the last message)"
                    if figures["window_cut_by_dry_queue"]
                    else ""
                ),
                figures["sent_per_s"] / 1000,
            )
        text = json.dumps(report, indent=2, default=str)
        self.stdout.write(text)
        if options["json"]:
            with open(options["json"], "w") as handle:
                handle.write(text)

    def _line(self, name: str, figure: str, ratio: float | None) -> None:
        ratio_text = f"  ×{ratio:.2f} of target" if ratio else ""
        self.stdout.write(f"{name:<40} {figure}{ratio_text}")
        self.stdout.flush()

"""regua analytics rfm|kpis|cohorts|clv|crosssell [--as-of DATE] [--segment NAME] --json

Prints the figures as one JSON document (with --json) or as short readable lines, and
writes the per-customer table to --csv FILE when asked. `regua analytics refresh`
recomputes the stored scores that segments, templates and the dossier read.
`regua analytics cdnow-orders IN OUT` converts the CDNOW sample into the orders CSV
that `regua import orders` reads.
"""

import csv
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone

from regua.analytics import cohorts, crosssell, frames, kpis, rfm
from regua.analytics.customer_value import DAYS_PER_UNIT, ClvSettings, customer_value
from regua.analytics.services import rules_from_settings, scores_refresh
from regua.lib.csv_safe import safe_cell, safe_frame

REPORTS = ["rfm", "kpis", "cohorts", "clv", "crosssell", "refresh", "cdnow-orders"]


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value}") from None


class Command(BaseCommand):
    help = "Print RFM, KPIs, cohorts, CLV or cross-sell figures (and convert CDNOW data)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("report", choices=REPORTS)
        parser.add_argument("paths", nargs="*", help="cdnow-orders: IN OUT")
        parser.add_argument("--as-of", type=_date, default=None, help="default: today")
        parser.add_argument("--segment", default=None, help="a saved segment's name")
        parser.add_argument("--json", action="store_true", help="print one JSON document")
        parser.add_argument("--csv", default=None, help="write the per-customer table here")
        parser.add_argument(
            "--window-days", type=int, default=None, help="rfm: window (REGUA_RFM_WINDOW_DAYS)"
        )
        parser.add_argument("--from", dest="start", type=_date, default=None, help="kpis")
        parser.add_argument("--to", dest="end", type=_date, default=None, help="kpis")
        parser.add_argument("--months", type=int, default=12, help="cohorts: how many")
        parser.add_argument("--calibration-end", type=_date, default=None, help="clv")
        parser.add_argument("--time-unit", choices=sorted(DAYS_PER_UNIT), default="week")
        parser.add_argument("--horizon-months", type=int, default=12, help="clv")
        parser.add_argument("--margin", type=float, default=0.3, help="clv: share kept")
        parser.add_argument("--discount-rate", type=float, default=0.12, help="clv: yearly")
        parser.add_argument("--top", type=int, default=5, help="crosssell: pairs per product")
        parser.add_argument("--min-baskets", type=int, default=3, help="crosssell")

    def handle(self, *args: Any, **options: Any) -> None:
        report = options["report"]
        if report == "cdnow-orders":
            self._cdnow(options["paths"])
            return
        as_of = options["as_of"] or timezone.localdate()
        contacts = self._segment(options["segment"])
        result = getattr(self, f"_{report}")(as_of, contacts, options)
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, default=str))
        else:
            for key, value in result.items():
                self.stdout.write(f"{key}: {json.dumps(value, ensure_ascii=False, default=str)}")

    def _refresh(self, as_of: date, contacts: Q | None, options: dict[str, Any]) -> dict[str, Any]:
        if contacts is not None:
            raise CommandError("refresh scores every customer; --segment does not apply")
        result = scores_refresh(as_of=as_of, window_days=options["window_days"])
        return {
            "as_of": as_of.isoformat(),
            "customers": result.customers,
            "seconds": round(result.seconds, 2),
            "clv_problems": result.clv_problems,
        }

    def _segment(self, name: str | None) -> Q | None:
        if name is None:
            return None
        from regua.segments.models import Segment

        segment = Segment.objects.filter(name=name).first()
        if segment is None:
            raise CommandError(f"no segment named {name!r}")
        return segment.as_q()

    def _write_csv(self, table: pl.DataFrame, path: str | None) -> None:
        if path:  # opened in spreadsheets: contact names and the like may not run there
            safe_frame(table).write_csv(path)

    def _rfm(self, as_of: date, contacts: Q | None, options: dict[str, Any]) -> dict[str, Any]:
        purchases = frames.purchases(until=as_of, contacts=contacts)
        surveyed = frames.events(["nps_answered"], until=as_of, contacts=contacts)
        activity, relationship, _value = rules_from_settings()
        scores = rfm.rfm_scores(
            purchases,
            as_of=as_of,
            window_days=options["window_days"] or settings.REGUA_RFM_WINDOW_DAYS,
            surveyed=surveyed.get_column("contact_id").unique(),
            activity=activity,
            relationship=relationship,
        )
        table = scores.table
        self._write_csv(table, options["csv"])
        return {
            "as_of": as_of.isoformat(),
            "window_days": scores.window_days,
            "customers": table.height,
            "in_window": table.filter(pl.col("r").is_not_null()).height,
            "interval_days": scores.interval_days,
            "interval_derived": scores.interval_derived,
            "segments": _counts(table, "rfm_segment"),
            "activity": rfm.activity_summary(table).to_dicts(),
            "relationship_types": _counts(table, "relationship_type"),
            "matrix": rfm.rfm_matrix(table).to_dicts(),
        }

    def _kpis(self, as_of: date, contacts: Q | None, options: dict[str, Any]) -> dict[str, Any]:
        end = options["end"] or as_of
        start = options["start"] or end - timedelta(days=29)
        if start > end:
            raise CommandError("--from is after --to")
        return {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "kpis": {
                kpi.key: {"value": kpi.value, "formula": str(kpi.formula), **kpi.parts}
                for kpi in kpis.kpis(start=start, end=end, contacts=contacts)
            },
        }

    def _cohorts(self, as_of: date, contacts: Q | None, options: dict[str, Any]) -> dict[str, Any]:
        purchases = frames.purchases(until=as_of, contacts=contacts)
        gaps = cohorts.second_purchase_gaps(purchases, as_of=as_of)
        self._write_csv(cohorts.expected_next_purchase(purchases, as_of=as_of), options["csv"])
        median = gaps.get_column("days").median() if not gaps.is_empty() else None
        return {
            "as_of": as_of.isoformat(),
            "cohorts": cohorts.cohort_table(purchases, as_of=as_of, months=options["months"])
            .with_columns(pl.col("cohort").cast(pl.String))
            .to_dicts(),
            "second_purchase": {
                "repeat_buyers": gaps.height,
                "median_days": median,
                "distribution": cohorts.second_purchase_distribution(gaps).to_dicts(),
            },
        }

    def _clv(self, as_of: date, contacts: Q | None, options: dict[str, Any]) -> dict[str, Any]:
        end = options["calibration_end"] or as_of
        clv_settings = ClvSettings(
            horizon_months=options["horizon_months"],
            margin=options["margin"],
            annual_discount_rate=options["discount_rate"],
            time_unit=options["time_unit"],
        )
        purchases = frames.purchases(until=end, contacts=contacts)
        result = customer_value(purchases, calibration_end=end, settings=clv_settings)
        self._write_csv(result.table, options["csv"])
        table = result.table
        out: dict[str, Any] = {
            "calibration_end": end.isoformat(),
            "time_unit": clv_settings.time_unit,
            "customers": table.height,
            "repeat_buyers": table.filter(pl.col("x") > 0).height,
            **result.parameters(),
            "problems": result.problems,
        }
        if result.fitted:
            out.update(
                horizon_months=clv_settings.horizon_months,
                margin=clv_settings.margin,
                annual_discount_rate=clv_settings.annual_discount_rate,
                total_clv=table.select(pl.col("clv").sum()).item(),
                mean_clv=table.select(pl.col("clv").mean()).item(),
                mean_p_alive=table.select(pl.col("p_alive").mean()).item(),
            )
        return out

    def _crosssell(
        self, as_of: date, contacts: Q | None, options: dict[str, Any]
    ) -> dict[str, Any]:
        lines = frames.items(until=as_of)
        table = crosssell.pairs(lines, min_baskets=options["min_baskets"], top=options["top"])
        self._write_csv(table, options["csv"])
        return {
            "as_of": as_of.isoformat(),
            "baskets": lines.get_column("order_id").n_unique(),
            "pairs": table.to_dicts(),
        }

    def _cdnow(self, paths: list[str]) -> None:
        if len(paths) != 2:
            raise CommandError("usage: regua analytics cdnow-orders CDNOW_sample.txt orders.csv")
        source, target = Path(paths[0]), Path(paths[1])
        written = cdnow_to_orders(source, target)
        self.stdout.write(json.dumps({"orders": written, "file": str(target)}))


def _counts(table: pl.DataFrame, column: str) -> dict[str, int]:
    counts = table.filter(pl.col(column).is_not_null()).group_by(column).len()
    return {row[column]: row["len"] for row in counts.sort(column).to_dicts()}


def cdnow_to_orders(source: Path, target: Path) -> int:
    """CDNOW lines (customer, sample id, YYYYMMDD, CDs, dollars) → orders CSV rows.

    Every line is its own order (numbered by the customer and line), so two purchases on
    one day stay two orders; the time is noon, so the business day is the CDNOW date.
    """
    try:
        lines = source.read_text().splitlines()
    except OSError as error:
        raise CommandError(f"cannot read {source}: {error}") from None
    written = 0
    with target.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["customer_id", "order_id", "ordered_at", "total", "currency"])
        for number, line in enumerate(lines, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 5:
                raise CommandError(f"{source}:{number}: expected 5 columns, got {len(parts)}")
            customer, _sample, day, _cds, dollars = parts
            when = f"{day[:4]}-{day[4:6]}-{day[6:]} 12:00"
            row = [f"cdnow-{customer}", f"cdnow-{number}", when, dollars, "USD"]
            out.writerow([safe_cell(value) for value in row])
            written += 1
    return written

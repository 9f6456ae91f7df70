"""Refreshing the stored scores: one pass over the purchases, one bulk rewrite."""

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from regua.customers.models import Contact
from regua.lib.bulk import insert_many, statistics_refresh

from . import cohorts, crosssell, frames, rfm
from .customer_value import ClvSettings, customer_value
from .models import CustomerScore, ProductPair

logger = logging.getLogger(__name__)

COLUMNS = [
    "contact_id",
    "as_of",
    "purchases",
    "spend",
    "first_purchase_on",
    "last_purchase_on",
    "recency_days",
    "frequency",
    "monetary",
    "r",
    "f",
    "m",
    "rfm_segment",
    "activity_cell",
    "relationship_type",
    "p_alive",
    "expected_purchases",
    "clv",
    "next_purchase_on",
]


PAIR_COLUMNS = ["sku", "other", "baskets", "support", "confidence", "lift", "rank"]
PAIR_DAYS = 730  # cross-sell pairs from the last two years of orders
PAIRS_PER_PRODUCT = 10


@dataclass(frozen=True)
class RefreshResult:
    customers: int
    seconds: float
    clv_problems: list[str]


def rules_from_settings() -> tuple[rfm.ActivityRules, rfm.RelationshipRules, ClvSettings]:
    """The thresholds of the scores, as the REGUA_* settings set them."""
    activity = rfm.ActivityRules(
        interval_days=settings.REGUA_ACTIVITY_INTERVAL_DAYS or None,
        lost_after=settings.REGUA_ACTIVITY_LOST_AFTER,
        vip_share=settings.REGUA_ACTIVITY_VIP_SHARE,
    )
    relationship = rfm.RelationshipRules(
        long_term_days=settings.REGUA_RELATIONSHIP_LONG_TERM_DAYS,
        long_term_purchases=settings.REGUA_RELATIONSHIP_LONG_TERM_PURCHASES,
        close_frequency_share=settings.REGUA_RELATIONSHIP_CLOSE_SHARE,
        discount_share=settings.REGUA_RELATIONSHIP_DISCOUNT_SHARE,
    )
    value = ClvSettings(
        horizon_months=settings.REGUA_CLV_HORIZON_MONTHS,
        margin=settings.REGUA_CLV_MARGIN,
        annual_discount_rate=settings.REGUA_CLV_DISCOUNT_RATE,
        time_unit="day",
    )
    return activity, relationship, value


def scores_refresh(
    *, as_of: date, window_days: int | None = None, purchases: pl.DataFrame | None = None
) -> RefreshResult:
    """Recompute every customer's scores as of a date and store them.

    1. Read the purchases and the survey answers once.
    2. RFM, activity cell and relationship type (rfm.rfm_scores); CLV and P(alive) by
       day (customer_value, skipped with its reason when the models cannot be fitted);
       the expected next purchase (cohorts); cross-sell pairs (crosssell).
    3. Replace the score and pair tables in one transaction and copy the relationship
       type onto the contacts, where audience conditions read it.
    """
    started = time.monotonic()
    if purchases is None:  # the dashboard passes the frame it read already
        purchases = frames.purchases(until=as_of)
    surveyed = frames.events(["nps_answered"], until=as_of).get_column("contact_id").unique()
    activity, relationship, clv_settings = rules_from_settings()
    scores = rfm.rfm_scores(
        purchases,
        as_of=as_of,
        window_days=window_days or settings.REGUA_RFM_WINDOW_DAYS,
        surveyed=surveyed,
        activity=activity,
        relationship=relationship,
    )
    value = customer_value(purchases, calibration_end=as_of, settings=clv_settings)
    table = scores.table.join(cohorts.next_purchase_from(scores.table), on="contact_id")
    if value.fitted:
        table = table.join(
            value.table.select("contact_id", "p_alive", "expected_purchases", "clv"),
            on="contact_id",
            how="left",
        )
    else:
        table = table.with_columns(
            p_alive=pl.lit(None, pl.Float64),
            expected_purchases=pl.lit(None, pl.Float64),
            clv=pl.lit(None, pl.Float64),
        )
    table = table.with_columns(
        as_of=pl.lit(as_of),
        first_purchase_on=pl.col("first_day"),
        last_purchase_on=pl.col("last_day"),
        spend=pl.col("spend").round(2),
        monetary=pl.col("monetary").round(2),
        clv=pl.col("clv").round(2),
        rfm_segment=pl.col("rfm_segment").fill_null(""),
    ).select(COLUMNS)
    recent = purchases.filter(pl.col("day") > as_of - timedelta(days=PAIR_DAYS))
    pairs = crosssell.pairs(frames.items_of(recent), top=PAIRS_PER_PRODUCT)
    with transaction.atomic():
        CustomerScore.objects.all().delete()
        insert_many(CustomerScore, [*COLUMNS, "created_at", "updated_at"], _rows(table))
        _copy_relationship_types()
        ProductPair.objects.all().delete()
        insert_many(ProductPair, [*PAIR_COLUMNS, "created_at", "updated_at"], _rows(pairs))
    statistics_refresh(CustomerScore, ProductPair)
    seconds = time.monotonic() - started
    logger.info("analytics: %d customers scored in %.1f s", table.height, seconds)
    return RefreshResult(table.height, seconds, value.problems)


def _rows(table: pl.DataFrame) -> Iterator[tuple[Any, ...]]:
    """The frame's rows with created_at and updated_at."""
    now = timezone.now()
    for row in table.iter_rows():
        yield (*row, now, now)


def _copy_relationship_types() -> None:
    score = CustomerScore._meta.db_table
    contact = Contact._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {contact} SET relationship_type = s.relationship_type "
            f"FROM {score} s WHERE s.contact_id = {contact}.id "
            f"AND {contact}.relationship_type <> s.relationship_type"
        )


def scores_refresh_daily(*, now: datetime) -> bool:
    """Queue the day's refresh of the scores once, after REGUA_ANALYTICS_HOUR local time.

    Called by every worker on each tick; a snapshot row for the day is the marker, so
    however many workers run, one refresh is queued per day. Returns whether it queued.
    """
    from .models import Snapshot
    from .tasks import scores_refresh_job

    local = timezone.localtime(now)
    if local.hour < settings.REGUA_ANALYTICS_HOUR:
        return False
    today = local.date()
    # The marker first: one key read. Until the day's refresh has written its scores,
    # the scores' test reads the whole table (no index on as_of), and every tick asks.
    if Snapshot.objects.filter(key="scores-refresh", as_of=today).exists():
        return False
    if CustomerScore.objects.filter(as_of__gte=today).exists():
        return False
    _marker, created = Snapshot.objects.get_or_create(
        key="scores-refresh", as_of=today, defaults={"payload": {}, "seconds": 0.0}
    )
    if created:
        scores_refresh_job.enqueue(today.isoformat())
    return created

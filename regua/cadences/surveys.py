"""An NPS answer given through a survey link: recorded once, amendable for a while.

Each survey link (one delivery) has at most one `nps_answered` event, so an answer never
counts twice in the NPS. For REGUA_NPS_EDIT_HOURS after the first answer (default 24)
the customer may change it — a slip of the thumb on a phone, a second thought after the
comment — and the same event is amended in place (score, category, comment, edited_at);
the only amendment events ever get (see Event's docstring). After that the answer stands.

Closing the loop follows the category: a detractor gets a call from the owner (agenda),
a promoter a referral invitation event. An edit that moves the answer into a category
does what a first answer in it would have done, once.
"""

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from regua.analytics.kpis import nps_category
from regua.events.models import Event

from .models import Delivery
from .tracking import event_lookup, event_record, event_recorded

ANSWERED = "nps_answered"
COMMENT_LENGTH = 2000


def edit_window() -> timedelta:
    # Read at each call so tests (and a changed setting) take effect without a restart.
    return timedelta(hours=getattr(settings, "REGUA_NPS_EDIT_HOURS", 24))


class Outcome(enum.StrEnum):
    RECORDED = "recorded"  # the first answer
    EDITED = "edited"  # the answer changed within the window
    CLOSED = "closed"  # the window has passed: nothing changed


@dataclass(frozen=True)
class SurveyAnswer:
    """The answer given through one survey link, as the page shows it back."""

    score: int
    comment: str
    answered_at: datetime
    editable_until: datetime

    def editable(self, now: datetime) -> bool:
        return now <= self.editable_until


def survey_answer_of(delivery: Delivery) -> SurveyAnswer | None:
    event = event_lookup(delivery, ANSWERED)
    return _answer(event) if event is not None else None


def _answer(event: Event) -> SurveyAnswer | None:
    score = event.properties.get("score")
    if not isinstance(score, int):
        return None
    return SurveyAnswer(
        score=score,
        comment=str(event.properties.get("comment", "")),
        answered_at=event.occurred_at,
        editable_until=event.occurred_at + edit_window(),
    )


def survey_answer(
    *, delivery: Delivery, score: int, comment: str, now: datetime | None = None
) -> Outcome:
    """Record the answer to this survey link, or amend it within the edit window.

    1. Lock the delivery's row, so two posts of the same link at once (a double tap, a
       retried request) run one after the other: on PostgreSQL the second waits on the
       row lock and then reads the first one's event; SQLite's IMMEDIATE transactions
       queue writers at BEGIN already. The event's identity includes its time, so the
       unique index alone would not stop two answers made a millisecond apart.
    2. No answer yet: record it and close the loop for its category.
    3. An answer within the window: amend it; close the loop if the category changed.
    4. Later: change nothing.
    """
    now = now or timezone.now()
    comment = comment.strip()[:COMMENT_LENGTH]
    category = nps_category(score)
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().filter(pk=delivery.pk)
        list(locked.values_list("pk", flat=True))
        event = event_lookup(delivery, ANSWERED)
        if event is None:
            event_record(
                delivery, ANSWERED, now, {"score": score, "category": category, "comment": comment}
            )
            _close_the_loop(delivery, score, category, comment, now)
            return Outcome.RECORDED
        if now > event.occurred_at + edit_window():
            return Outcome.CLOSED
        before = event.properties.get("category") or nps_category(
            int(event.properties.get("score", 0))
        )
        properties = {
            **event.properties,
            "score": score,
            "category": category,
            "comment": comment,
            "edited_at": now.isoformat(),
        }
        Event.objects.filter(pk=event.pk).update(properties=properties)
        if category != before:
            _close_the_loop(delivery, score, category, comment, now)
        return Outcome.EDITED


def _close_the_loop(
    delivery: Delivery, score: int, category: str, comment: str, now: datetime
) -> None:
    """A detractor gets a call from the owner by the next business day; a promoter gets
    a referral invitation event (with their referral code) that a régua can trigger on.
    Both are once per contact or link: task_for_detractor keeps one open NPS call per
    contact (adding to its notes), and the invitation is one event per survey link."""
    from regua.agenda.services import task_for_detractor
    from regua.loyalty.services import referral_codes_ensure

    if category == "detractor":
        with translation.override(settings.LANGUAGE_CODE):  # the team reads it, not the contact
            task_for_detractor(contact=delivery.contact, score=score, comment=comment, now=now)
    elif category == "promoter" and not event_recorded(delivery, "referral_invited"):
        code = referral_codes_ensure(contact_ids=[delivery.contact_id])[delivery.contact_id]
        event_record(delivery, "referral_invited", now, {"score": score, "referral_code": code})

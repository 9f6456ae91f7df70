"""The guards a message passes at send time, read for a whole batch at once.

1. consent for the channel (marketing needs it granted; transactional needs it not
   withdrawn); an address to send to;
2. the suppression list (hard bounces, complaints);
3. quiet hours in the contact's time zone: deferred to the next allowed minute;
4. the frequency cap across réguas (marketing only): the higher priority goes first,
   the others wait until the oldest counted message leaves the window.

A message step that became a task for the contact's account manager (a dedicated
segment: relationship.py) passes 1 and 2 for the message's own channel, since the
owner will send that message by hand, but not 3 and 4: a task is not a message in the
customer's inbox, and the owner chooses the moment.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext as _

from regua.customers.models import Consent, ConsentStatus

from .models import MESSAGE_CHANNELS, Delivery, DeliveryStatus, Suppression


@dataclass(frozen=True)
class Verdict:
    action: str  # "send", "suppress" or "defer"
    reason: str = ""
    until: datetime | None = None


SEND = Verdict("send")


def channel_of(delivery: Delivery) -> str:
    """The channel the message reaches the contact by: the step's own for a message step
    that became a task for the owner (who sends it personally), else the delivery's."""
    if delivery.channel == "task" and delivery.step.channel in MESSAGE_CHANNELS:
        return delivery.step.channel
    return delivery.channel


def address_of(delivery: Delivery) -> str:
    contact = delivery.contact
    channel = channel_of(delivery)
    if channel == "email":
        return contact.email or ""
    if channel in {"sms", "whatsapp"}:
        return contact.phone or ""
    return ""


@dataclass
class BatchGuards:
    """Everything the guards need about a batch's contacts, loaded in a few queries."""

    now: datetime
    consent: dict[tuple[int, str], str] = field(default_factory=dict)
    suppressed: set[tuple[str, str]] = field(default_factory=set)
    recent: dict[int, list[datetime]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def load(cls, deliveries: list[Delivery], now: datetime) -> "BatchGuards":
        guards = cls(now=now)
        contact_ids = {d.contact_id for d in deliveries}
        channels = {channel_of(d) for d in deliveries} & MESSAGE_CHANNELS
        for contact_id, channel, status in Consent.objects.filter(
            contact_id__in=contact_ids, channel__in=channels
        ).values_list("contact_id", "channel", "status"):
            guards.consent[(contact_id, channel)] = status
        addresses = {address_of(d) for d in deliveries} - {""}
        guards.suppressed = set(
            Suppression.objects.filter(address__in=addresses).values_list("channel", "address")
        )
        since = now - timedelta(days=settings.REGUA_FREQUENCY_DAYS)
        for contact_id, sent_at in Delivery.objects.filter(
            contact_id__in=contact_ids,
            sent_at__gt=since,
            sent_at__lte=now,
            status=DeliveryStatus.SENT,
            cadence__marketing=True,
            channel__in=MESSAGE_CHANNELS,
        ).values_list("contact_id", "sent_at"):
            guards.recent[contact_id].append(sent_at)
        return guards

    def check(self, delivery: Delivery) -> Verdict:
        channel = channel_of(delivery)
        if channel not in MESSAGE_CHANNELS:
            return SEND  # tasks and webhooks are for us, not for the customer's inbox
        address = address_of(delivery)
        if not address:
            return Verdict("suppress", _("no address for this channel"))
        consent = self.consent.get((delivery.contact_id, channel))
        marketing = delivery.cadence.marketing
        if consent == ConsentStatus.WITHDRAWN or (marketing and consent != ConsentStatus.GRANTED):
            return Verdict("suppress", _("no consent for this channel"))
        if (channel, address) in self.suppressed:
            return Verdict("suppress", _("address on the suppression list"))
        if delivery.channel == "task":
            return SEND  # the owner sends it: no quiet hours, no frequency cap
        quiet_end = quiet_until(self.now, ZoneInfo(delivery.contact.time_zone))
        if quiet_end is not None:
            return Verdict("defer", _("quiet hours"), quiet_end)
        if marketing:
            return self._cap(delivery)
        return SEND

    def _cap(self, delivery: Delivery) -> Verdict:
        sent = self.recent[delivery.contact_id]
        if len(sent) < settings.REGUA_FREQUENCY_CAP:
            return SEND
        window = timedelta(days=settings.REGUA_FREQUENCY_DAYS)
        # The cap frees a place when the oldest counted message leaves the window.
        frees = sorted(sent)[len(sent) - settings.REGUA_FREQUENCY_CAP] + window
        return Verdict("defer", _("frequency cap"), max(frees, self.now) + timedelta(minutes=1))

    def record_sent(self, delivery: Delivery) -> None:
        """Count a message sent in this batch against the contact's cap."""
        if delivery.channel in MESSAGE_CHANNELS and delivery.cadence.marketing:
            self.recent[delivery.contact_id].append(self.now)


def quiet_hours() -> tuple[time, time] | None:
    raw = settings.REGUA_QUIET_HOURS.strip()
    if not raw:
        return None
    start, end = (time.fromisoformat(part.strip()) for part in raw.split("-"))
    return start, end


def quiet_until(moment: datetime, zone: ZoneInfo) -> datetime | None:
    """When the quiet hours around `moment` end in `zone`, or None if it is not quiet."""
    window = quiet_hours()
    if window is None:
        return None
    start, end = window
    local = moment.astimezone(zone)
    clock = local.time()
    if start > end:  # across midnight, the usual 21:00–08:00
        if clock >= start:
            return datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
        if clock < end:
            return datetime.combine(local.date(), end, tzinfo=zone)
        return None
    if start <= clock < end:
        return datetime.combine(local.date(), end, tzinfo=zone)
    return None


def sort_by_priority(deliveries: list[Delivery]) -> list[Delivery]:
    """Under the cap the higher priority goes first; then the older due moment."""
    return sorted(deliveries, key=lambda d: (-d.cadence.priority, d.due_at, d.pk))

"""A user's private iCalendar feed of their open tasks, for their phone's calendar.

The feed's URL carries "<user id>.<nonce>" signed with the secret key: nobody can
forge one for another user, and making a new nonce (the "new link" button) revokes every
link given out before. The calendar apps that subscribe cannot log in, so the signed URL
is the only key: the feed shows titles, contacts and times, not notes.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from regua.users.models import User

from .models import CalendarFeed, Task, TaskStatus

SALT = "regua.agenda.feed"
PAST_DAYS = 30  # overdue tasks older than this are left out of the phone's calendar
MAX_EVENTS = 2_000


def feed_for(user: User) -> CalendarFeed:
    feed, _created = CalendarFeed.objects.get_or_create(user=user)
    return feed


def feed_url(feed: CalendarFeed) -> str:
    token = signing.Signer(salt=SALT).sign(f"{feed.user_id}.{feed.nonce}")
    return settings.REGUA_SITE_URL + reverse("agenda:feed", args=[token])


def feed_renew(user: User) -> CalendarFeed:
    """A new link; the old one stops working at once."""
    feed = feed_for(user)
    feed.nonce = CalendarFeed._meta.get_field("nonce").get_default()
    feed.save(update_fields=["nonce", "updated_at"])
    return feed


def feed_user(token: str) -> User | None:
    """The active user a feed token belongs to, or None if it is forged or revoked."""
    try:
        value = signing.Signer(salt=SALT).unsign(token)
    except signing.BadSignature:
        return None
    user_id, _, nonce = value.partition(".")
    feed = (
        CalendarFeed.objects.select_related("user")
        .filter(user_id=int(user_id) if user_id.isdigit() else 0, nonce=nonce)
        .first()
    )
    if feed is None or not feed.user.is_active:
        return None
    return feed.user


def feed_ical(user: User, now: datetime | None = None) -> bytes:
    """The user's open tasks from PAST_DAYS ago on, as an RFC 5545 calendar."""
    now = now or timezone.now()
    zone = ZoneInfo(settings.TIME_ZONE)
    since = timezone.localdate(now) - timedelta(days=PAST_DAYS)
    tasks = (
        Task.objects.filter(owner=user, status=TaskStatus.OPEN, due_on__gte=since)
        .select_related("contact", "company")
        .order_by("due_on", "due_time", "id")[:MAX_EVENTS]
    )
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Régua//Agenda//PT")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"Régua · {user}")
    calendar.add("x-wr-timezone", settings.TIME_ZONE)
    site = settings.REGUA_SITE_URL
    domain = site.split("://")[-1].split("/")[0]
    for task in tasks:
        event = icalendar.Event()
        event.add("uid", f"task-{task.pk}@{domain}")
        event.add("dtstamp", task.updated_at)
        event.add("summary", task.title)
        if task.due_time is None:
            event.add("dtstart", task.due_on)
            event.add("dtend", task.due_on + timedelta(days=1))
        else:
            start = datetime.combine(task.due_on, task.due_time, tzinfo=zone)
            event.add("dtstart", start)
            event.add("dtend", start + timedelta(minutes=task.minutes))
        who = task.contact or task.company
        details = [task.get_kind_display(), str(who) if who else ""]
        if task.contact and task.contact.phone:
            details.append(task.contact.phone)
        event.add("description", " · ".join(part for part in details if part))
        event.add("url", site + reverse("agenda:task_complete", args=[task.pk]))
        event.add("priority", {3: 1, 2: 5, 1: 9}.get(task.priority, 5))
        calendar.add_component(event)
    calendar.add_missing_timezones()  # the VTIMEZONE that TZID refers to (RFC 5545)
    return calendar.to_ical()

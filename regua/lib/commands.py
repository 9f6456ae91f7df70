"""Helpers for Régua's management commands."""

from argparse import ArgumentTypeError
from datetime import datetime

from django.utils import timezone


def instant(text: str) -> datetime:
    """The `--now ISO-8601` of the commands that run as of an instant (tick, loyalty,
    events-archive); a time without an offset is in TIME_ZONE."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        # argparse's own error: a usage line, not a traceback.
        raise ArgumentTypeError(f"{text!r} is not an ISO-8601 instant") from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment

"""The demo's réguas: the defaults installed, the everyday ones active for a month.

On a small demo the last three weeks are replayed through the engine (a tick each afternoon,
as of that instant), so the outbox, the réguas' reports and the agenda show what a
month of Régua looks like. On a large one the réguas are activated now instead.
"""

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings

from regua.cadences.models import Cadence, CadenceStatus, Step
from regua.cadences.tick import tick
from regua.cadences.yaml_io import cadence_import

DEFAULTS = Path(__file__).resolve().parent.parent / "cadences" / "defaults"
ACTIVE = ["onboarding", "birthday", "inactivity", "viewed_product", "post_upgrade"]
REPLAY_DAYS = 21  # three weeks: enough to fill every report, inside the 30 s demo budget
REPLAY_STEP = timedelta(days=1)
REPLAY_UP_TO = 20_000  # contacts


def demo_reguas_install(*, now: datetime, contacts: int) -> int:
    """Install the defaults, activate the everyday ones; the messages sent while replaying."""
    for path in sorted(DEFAULTS.glob("*.yaml")):
        cadence_import(path.read_text("utf-8"))
    replay = contacts <= REPLAY_UP_TO
    # Ticks at 14:00 in São Paulo: outside quiet hours, inside the usual send windows.
    local = now.astimezone(ZoneInfo(settings.TIME_ZONE))
    afternoon = local.replace(hour=14, minute=0, second=0, microsecond=0)
    start = (afternoon - timedelta(days=REPLAY_DAYS)) if replay else now
    Cadence.objects.filter(key__in=ACTIVE).update(
        status=CadenceStatus.ACTIVE, activated_at=start, enrolled_through=start
    )
    Step.objects.filter(cadence__key__in=ACTIVE).update(scheduled_through=start)
    sent = 0
    moment = start
    while replay and moment + REPLAY_STEP <= now:
        moment += REPLAY_STEP
        sent += tick(now=moment).total.sent
    return sent

"""Latency: an event posted to the API → its day-0 e-mail accepted by a local SMTP server.

Issue 2's target: with the worker running, p95 under 5 s over 200 events. The path is
the real one, end to end: `regua run` (gunicorn and `regua worker`, the one-machine
setup) as a subprocess on the configured database, an aiosmtpd server in this process
that notes when each message arrives, and events POSTed one at a time over loopback.

1. import a transactional régua (BENCH_REGUA's welcome step, on its own event) and
   activate it;
2. start the SMTP server and `regua run` (tick every second, no quiet hours, SMTP to us);
3. warm up: one event, waited for, so the figures start once the worker has started
   and sent whatever was already due on this database;
4. post the events spaced out, each for a different contact, noting when each left;
5. wait (bounded) for their e-mails; latency = arrival − post; stop and clean up.
"""

import http.client
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from django.db.models import Exists, OuterRef
from django.utils import timezone

from regua.cadences.models import Cadence, Suppression
from regua.cadences.yaml_io import cadence_import, cadence_set_status
from regua.customers.models import Consent, ConsentStatus, Contact
from regua.events.models import Event
from regua.users.models import ApiKey, User

from .engine import BENCH_REGUA
from .measure import _free_port, _percentile, _wait_for

EVENT = "bench_latency"
TARGET_P95_S = 5.0


class _Arrivals:
    """An SMTP handler that notes when the message for each expected recipient arrived."""

    def __init__(self, addresses: list[str]) -> None:
        self.expected = set(addresses)
        self.at: dict[str, float] = {}
        self.others = 0  # messages for anyone else, or repeats
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        arrived = time.perf_counter()
        with self.lock:
            for address in (a.lower() for a in envelope.rcpt_tos):
                if address in self.expected and address not in self.at:
                    self.at[address] = arrived
                else:
                    self.others += 1
        return "250 OK"

    def count(self, addresses: list[str]) -> int:
        with self.lock:
            return sum(address in self.at for address in addresses)


def latency(events: int = 200, spacing_s: float = 0.075, wait_s: float = 120) -> dict[str, Any]:
    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    addresses = _recipients(events + 1)
    if len(addresses) < events + 1:
        raise RuntimeError(f"latency needs {events + 1} contacts with an e-mail address")
    warmup, measured = addresses[0], addresses[1:]
    cadence = _regua_activate()
    others_active = Cadence.objects.filter(status="active").exclude(pk=cadence.pk).count()
    user = User.objects.filter(role__in=["admin", "manager"]).order_by("id").first()
    key, token = ApiKey.generate(user=user, name="benchmark: latency")  # type: ignore[arg-type]
    arrivals = _Arrivals(addresses)
    smtp = Controller(arrivals, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    port = _free_port()
    log = Path(tempfile.mkstemp(prefix="regua-latency-", suffix=".log")[1])
    app = _app_start(port, smtp.port, log)
    try:
        _wait_for(port)
        started = time.perf_counter()
        with _Poster(port, token) as poster:
            poster.post(warmup, "warmup")
            _wait_until(lambda: arrivals.count([warmup]) == 1, 300, app, log)
            warmup_s = time.perf_counter() - started
            posted, answers = poster.post_spaced(measured, spacing_s)
        deadline = time.monotonic() + wait_s
        while arrivals.count(measured) < events and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        _app_stop(app)
        smtp.stop()
        Cadence.objects.filter(pk=cadence.pk).delete()
        Event.objects.filter(name=EVENT).delete()
        key.delete()
    # A message that never came counts as infinitely late: the p95 stays honest.
    seconds = [arrivals.at.get(a, float("inf")) - posted[a] for a in measured]
    arrived = [s for s in seconds if s != float("inf")]
    log.unlink()
    return {
        "events": events,
        "arrived": len(arrived),
        "spacing_ms": spacing_s * 1000,
        "p50_s": _percentile(seconds, 0.50),
        "p95_s": _percentile(seconds, 0.95),
        "max_s": max(seconds),
        "min_s": min(seconds),
        "api_reply_median_ms": statistics.median(answers) * 1000,
        "warmup_s": warmup_s,
        "other_messages": arrivals.others,
        "contacts": Contact.objects.count(),
        "other_active_reguas": others_active,
    }


def _recipients(n: int) -> list[str]:
    """n contacts a transactional e-mail reaches: an address, not withdrawn, not suppressed."""
    withdrawn = Consent.objects.filter(
        contact=OuterRef("pk"), channel="email", status=ConsentStatus.WITHDRAWN
    )
    suppressed = Suppression.objects.filter(channel="email", address=OuterRef("email"))
    reachable = Contact.objects.exclude(email=None).exclude(Exists(withdrawn) | Exists(suppressed))
    emails = reachable.order_by("id").values_list("email", flat=True)[:n]
    return [email.lower() for email in emails if email]


def _regua_activate() -> Cadence:
    spec = yaml.safe_load(BENCH_REGUA)
    spec.update(
        key="bench-latency",
        name="Benchmark de latência",
        trigger={"kind": "event", "event": EVENT},
    )
    Cadence.objects.filter(key=spec["key"]).delete()
    Event.objects.filter(name=EVENT).delete()
    cadence, _ = cadence_import(yaml.safe_dump(spec, allow_unicode=True))
    cadence_set_status(cadence, "active")
    return cadence


def _app_start(port: int, smtp_port: int, log: Path) -> subprocess.Popen[bytes]:
    """`regua run` on the same database (the environment passes through), mailing us."""
    env = {
        **os.environ,
        "EMAIL_BACKEND": "smtp",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_TIMEOUT": "5",
        "REGUA_QUIET_HOURS": "",
        "REGUA_TICK_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
    }
    command = ["run", "--host", "127.0.0.1", "--port", str(port), "--web-workers", "2"]
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "regua", *command],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _app_stop(app: subprocess.Popen[bytes]) -> None:
    app.send_signal(signal.SIGTERM)
    try:
        app.wait(timeout=60)
    except subprocess.TimeoutExpired:
        app.kill()
        app.wait()


def _wait_until(
    condition: Callable[[], bool], seconds: float, app: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if app.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"latency: the warm-up e-mail never came; regua run said:\n{tail}")
        time.sleep(0.05)


class _Poster:
    """POST /api/events, one event a request, over one keep-alive connection."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.run = timezone.now().strftime("%Y%m%d%H%M%S")

    def __enter__(self) -> "_Poster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.connection.close()

    def post(self, address: str, label: str) -> None:
        event = {
            "customer_id": address,
            "name": EVENT,
            "occurred_at": timezone.now().isoformat(),
            "id": f"latency-{self.run}-{label}",
        }
        body = json.dumps({"events": [event], "create_contacts": False})
        self.connection.request("POST", "/api/events", body=body, headers=self.headers)
        reply = self.connection.getresponse()
        payload = json.loads(reply.read())
        assert reply.status == 200 and payload["created"] == 1, payload

    def post_spaced(
        self, addresses: list[str], spacing_s: float
    ) -> tuple[dict[str, float], list[float]]:
        """One event per address, one every spacing_s: when each left, and reply times."""
        posted: dict[str, float] = {}
        answers = []
        for n, address in enumerate(addresses):
            posted[address] = time.perf_counter()
            self.post(address, str(n))
            answers.append(time.perf_counter() - posted[address])
            time.sleep(max(0.0, posted[address] + spacing_s - time.perf_counter()))
        return posted, answers

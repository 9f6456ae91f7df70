"""Production-shaped figures (issue 7): the load test, and one worker against two.

`load()` starts, on loopback, what a production install runs: gunicorn, `workers`
delivery workers (each sending to its own discarding SMTP server, `engine.sink_name`, so
the server is not what is measured), and locust with `users` simulated users
(locustfile.py): the team browsing contacts, dossiers, the agenda and the dashboard, and
the shop's API posting event batches. It stops by itself after `minutes`, and reports
p50/p95/p99 and errors per page and the e-mails sent per second meanwhile.

`sending_scale()` sends the same due messages with one worker, then with two, and
compares the rates: each rate is the messages sent divided by the time between the
first and the last `sent_at`, so process start-up is not counted.
"""

import os
import secrets
import signal
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy
from django.conf import settings
from django.db.models import Max, Min

from regua.cadences.models import Cadence, Delivery, DeliveryStatus
from regua.customers.models import Contact
from regua.events.models import Event
from regua.users.models import ApiKey, Role, User

from .engine import _bench_regua, _reschedule, _sink, bench_regua_remove, sink_name
from .measure import _free_port, _wait_for

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
LOAD_USER = "carga@regua.bench"
SPAWNED = "*spawned*"  # locustfile.py's line for the moment the last user started


def _env(smtp_port: int | None = None) -> dict[str, str]:
    env = {**os.environ, "REGUA_QUIET_HOURS": "", "REGUA_FREQUENCY_CAP": "1000"}
    # Every simulated team member signs in as the same user from 127.0.0.1 within seconds,
    # which the sign-in rate limits are there to refuse (the API's defaults fit the test).
    env.setdefault("REGUA_RATELIMIT_LOGIN_IP", "off")
    env.setdefault("REGUA_RATELIMIT_LOGIN_USER", "off")
    if smtp_port is not None:
        env.update(EMAIL_BACKEND="smtp", EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp_port))
    return env


def _start_workers(
    count: int, *, batch: bool, nice: int = 0, send_rate: float = 0
) -> tuple[list[subprocess.Popen[bytes]], list[Any]]:
    """`count` delivery workers, each with its own SMTP sink, at `nice` (docs/deploy.md:
    on a machine that also serves the pages, the workers yield the CPU to them) and
    sending at most `send_rate` messages a second each (REGUA_SEND_RATE, 0: no cap)."""
    sinks, workers = [], []
    for _ in range(count):
        port = _free_port()
        sinks.append(_sink(port))
        command = [sys.executable, "-m", "regua", "worker", "--only", "deliveries"]
        workers.append(
            subprocess.Popen(
                [*command, "--batch"] if batch else command,
                env={**_env(port), "REGUA_SEND_RATE": str(send_rate)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=(lambda: os.nice(nice)) if nice else None,
            )
        )
    return workers, sinks


def _stop(processes: list[Any]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()


def _sent_rate(cadence: Cadence) -> tuple[int, float]:
    sent = Delivery.objects.filter(cadence=cadence, status=DeliveryStatus.SENT)
    span = sent.aggregate(first=Min("sent_at"), last=Max("sent_at"))
    count = sent.count()
    if count < 2:
        return count, 0.0
    return count, count / max((span["last"] - span["first"]).total_seconds(), 1e-6)


def sending_scale(messages: int = 20_000, runs: int = 3) -> dict[str, Any]:
    """The same `messages` due e-mails sent by one worker, then by two, `runs` times."""
    cadence = _bench_regua(messages)
    rates: dict[int, list[float]] = {1: [], 2: []}
    try:
        for _ in range(runs):
            for count in (1, 2):
                _reschedule(cadence)
                workers, sinks = _start_workers(count, batch=True)
                try:
                    for worker in workers:
                        worker.wait(timeout=3600)
                finally:
                    _stop(workers + sinks)
                sent, rate = _sent_rate(cadence)
                if sent != Delivery.objects.filter(cadence=cadence).count():
                    raise RuntimeError(f"only {sent} of the messages were sent")
                rates[count].append(rate)
    finally:
        bench_regua_remove(cadence)
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    return {
        "messages": messages,
        "runs": runs,
        "one_worker_per_s": one,
        "two_workers_per_s": two,
        "ratio": two / one,
        "cores": os.cpu_count(),
        "smtp_server": sink_name(),
    }


def _load_user() -> tuple[str, str]:
    password = secrets.token_urlsafe(16)
    user, _ = User.objects.get_or_create(
        email=LOAD_USER, defaults={"first_name": "Carga", "role": Role.MANAGER}
    )
    user.set_password(password)
    user.role = Role.MANAGER
    user.save()
    _key, token = ApiKey.generate(user=user, name="load test")
    return password, token


def _contacts_file(directory: Path, sample: int = 5000) -> Path:
    """A spread sample of contact ids for the dossiers (every n-th id, not the first ones)."""
    ids = Contact.objects.order_by("id").values_list("id", flat=True)
    total = ids.count()
    step = max(total // sample, 1)
    chosen = [str(pk) for n, pk in enumerate(ids.iterator(chunk_size=50_000)) if n % step == 0]
    path = directory / "load-contacts.txt"
    path.write_text("\n".join(chosen))
    return path


def load(
    *,
    users: int = 50,
    minutes: float = 10,
    warmup: float = 60,
    workers: int = 2,
    web: int = 5,
    threads: int = 1,
    messages: int = 1_000_000,
    worker_nice: int = 0,
    send_rate: float = 0,
) -> dict[str, Any]:
    """The load test; its figures cover `minutes` of full load that begin `warmup`
    seconds after the last user started (`pages_with_start_up` covers the whole run)."""
    directory = Path(settings.VAR_DIR) / "load"
    directory.mkdir(exist_ok=True)
    password, token = _load_user()
    contacts = _contacts_file(directory)
    cadence = _bench_regua(messages)
    port = _free_port()
    web_server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "regua.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(web), "--threads", str(threads),
            "--timeout", "120",
        ],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    processes: list[Any] = [web_server]
    samples = directory / "locust-samples.tsv"
    spawn_rate = max(users // 10, 1)
    try:
        _wait_for(port)
        started_workers, sinks = _start_workers(
            workers, batch=False, nice=worker_nice, send_rate=send_rate
        )
        processes += started_workers + sinks
        prefix = directory / "locust"
        locust_env = {
            **os.environ,
            "LOAD_EMAIL": LOAD_USER,
            "LOAD_PASSWORD": password,
            "LOAD_TOKEN": token,
            "LOAD_CONTACTS": str(contacts),
            "LOAD_CUSTOMERS": str(Contact.objects.exclude(external_id=None).count()),
            "LOAD_SAMPLES": str(samples),
        }
        # Starting the users, then the warm-up, then the measured minutes.
        run_time = users / spawn_rate + warmup + minutes * 60 + 5
        subprocess.run(
            [
                sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
                "-u", str(users), "-r", str(spawn_rate),
                "-t", f"{round(run_time)}s", "--stop-timeout", "10",
                "--host", f"http://127.0.0.1:{port}", "--csv", str(prefix), "--only-summary",
            ],
            env=locust_env,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=run_time + 300,
        )  # fmt: skip
        # None left means the workers ran out of work: the window then ends with the
        # last message, so that every measured request met the sending too.
        left = Delivery.objects.filter(cadence=cadence, status=DeliveryStatus.SCHEDULED).count()
        last_sent = Delivery.objects.filter(cadence=cadence).aggregate(last=Max("sent_at"))
        until = last_sent["last"].timestamp() if not left and last_sent["last"] else None
        figures = load_figures(samples.read_text(), warmup=warmup, minutes=minutes, until=until)
        start, end = (datetime.fromtimestamp(t, UTC) for t in figures.pop("window"))
        sent = Delivery.objects.filter(
            cadence=cadence, status=DeliveryStatus.SENT, sent_at__gte=start, sent_at__lte=end
        ).count()
    finally:
        _stop(processes)
        bench_regua_remove(cadence)
    return {
        "users": users,
        "minutes": minutes,
        "warmup_s": warmup,
        "workers": workers,
        "web_processes": web,
        "web_threads": threads,
        "contacts": Contact.objects.count(),
        "events": _events_estimate(),
        **figures,
        "sent": sent,
        "sent_per_s": sent / ((end - start).total_seconds() or 1),
        "left_unsent": left,
        "window_cut_by_dry_queue": until is not None and until < start.timestamp() + minutes * 60,
        "worker_nice": worker_nice,
        "send_rate_per_worker": send_rate,
        "cores": os.cpu_count(),
        "smtp_server": sink_name(),
    }


def load_figures(
    samples: str, *, warmup: float, minutes: float, until: float | None = None
) -> dict[str, Any]:
    """Per page: requests, failures, p50/p95/p99 and rate, from locustfile.py's samples.

    `pages` covers the measured window: `minutes` from `warmup` seconds after the last
    user started (a load test measures the load, not its start: fifty team members
    signing in within ten seconds, each sign-in a deliberately slow password hash, and
    the processes' first requests), cut short at `until` (the last message sent, when
    the queue ran dry). `pages_with_start_up` covers every request.
    """
    rows = [line.split("\t") for line in samples.splitlines() if line]
    spawned = [float(row[0]) for row in rows if row[1] == SPAWNED]
    requests = [(float(t), name, float(ms), failed == "1") for t, name, ms, failed in rows]
    requests = [row for row in requests if row[1] != SPAWNED]
    if not spawned or not requests:
        raise RuntimeError("the load test did not start all its users")
    start = spawned[0] + warmup
    end = min(start + minutes * 60, max(row[0] for row in requests), until or float("inf"))
    if end <= start:
        raise RuntimeError("the load test stopped before its measured window")
    window = [row for row in requests if start <= row[0] < end]
    return {
        "pages": _page_stats(window, end - start),
        "pages_with_start_up": _page_stats(requests, max(r[0] for r in requests) - spawned[0]),
        "measured_s": end - start,
        "window": (start, end),
    }


def _page_stats(
    requests: list[tuple[float, str, float, bool]], seconds: float
) -> dict[str, dict[str, float]]:
    by_name: dict[str, list[tuple[float, bool]]] = {}
    for _at, name, ms, failed in requests:
        by_name.setdefault(name, []).append((ms, failed))
    by_name = dict(sorted(by_name.items()))
    by_name["All"] = [(ms, failed) for _at, _name, ms, failed in requests]
    stats = {}
    for name, values in by_name.items():
        times = numpy.array([ms for ms, _failed in values])
        p50, p95, p99 = numpy.percentile(times, [50, 95, 99], method="higher")
        stats[name] = {
            "requests": len(values),
            "failures": sum(failed for _ms, failed in values),
            "p50_ms": float(p50),
            "p95_ms": float(p95),
            "p99_ms": float(p99),
            "per_s": len(values) / max(seconds, 1e-6),
        }
    return stats


def _events_estimate() -> int:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE relname = %s",
                [Event._meta.db_table],
            )
            return int(cursor.fetchone()[0])
    return Event.objects.count()

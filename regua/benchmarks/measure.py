"""The measurements behind `regua bench`. Each returns plain figures; the command prints them.

Targets come from issue 2 ("How well"); each figure is reported with its ratio to its
target, measured in the same run (> 1 is better than the target).
"""

import http.client
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connection
from django.test import Client

from regua.customers.models import Contact
from regua.imports.runner import import_file
from regua.users.models import ApiKey, User

from .csvgen import contacts_csv, events_csv

TARGETS = {
    "page_median_ms": 100.0,
    "page_p95_ms": 200.0,
    "import_contacts_rows_per_s": 20_000.0,
    "import_events_rows_per_s": 50_000.0,
    "api_events_per_s": 10_000.0,
    "demo_1m_seconds": 600.0,
}


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "database": connection.vendor,
        "database_version": ".".join(map(str, connection.get_database_version())),
    }


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def pages(runs: int = 20, seed: int = 1) -> dict[str, dict[str, float]]:
    """Server time of the list, the searches and the dossier, in-process (no network)."""
    rng = random.Random(seed)
    user = User.objects.filter(role="admin").first() or User.objects.order_by("id").first()
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)  # type: ignore[arg-type]
    last_id = Contact.objects.order_by("-id").values_list("id", flat=True).first() or 1
    samples = [
        Contact.objects.filter(pk__gte=rng.randint(1, last_id))
        .order_by("pk")
        .values("pk", "email", "first_name", "last_name")
        .first()
        for _ in range(runs)
    ]
    samples = [s for s in samples if s]
    # the busiest contacts make the heaviest dossiers
    heavy = list(
        Contact.objects.filter(stage="customer").order_by("id").values_list("pk", flat=True)[:runs]
    )
    cases: dict[str, Callable[[int], str]] = {
        "contacts list": lambda i: "/contacts/",
        "contacts list, A–Z, page 2": lambda i: (
            "/contacts/?sort=name&cursor=" + _name_cursor(samples[i])
        ),
        "search by e-mail prefix": lambda i: "/contacts/?q=" + (samples[i]["email"] or "")[:7],
        "search by name": lambda i: "/contacts/?q=" + samples[i]["last_name"].split()[-1],
        "search by first and last name": lambda i: (
            "/contacts/?q="
            + samples[i]["first_name"][:4]
            + "+"
            + samples[i]["last_name"].split()[0][:4]
        ),
        "dossier": lambda i: f"/contacts/{(heavy or [samples[i]['pk']])[i % max(len(heavy), 1)]}/",
    }
    results = {}
    for name, url in cases.items():
        client.get(url(0))  # warm the page cache and the templates
        times = []
        for i in range(len(samples)):
            started = time.perf_counter()
            response = client.get(url(i))
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url(i), response.status_code)
        results[name] = {
            "median_ms": statistics.median(times),
            "p95_ms": _percentile(times, 0.95),
            "runs": len(times),
        }
    return results


def _name_cursor(sample: dict[str, Any]) -> str:
    from regua.customers.selectors import encode_cursor
    from regua.lib.text import search_key

    return encode_cursor(search_key(f"{sample['first_name']} {sample['last_name']}"), sample["pk"])


def imports(contacts_rows: int, events_rows: int, known_contacts: int) -> dict[str, Any]:
    """CSV import rates on generated Brazilian exports (new contacts; events of known ones)."""
    with tempfile.TemporaryDirectory() as folder:
        # New people each run: external ids above any the base already holds.
        offset = 10_000_000 + Contact.objects.count()
        people = contacts_csv(Path(folder) / "contatos.csv", contacts_rows, offset=offset)
        started = time.perf_counter()
        result = import_file("contacts", people)
        contacts_seconds = time.perf_counter() - started
        assert result.created == contacts_rows, result.summary()
        stream = events_csv(
            Path(folder) / "eventos.csv", events_rows, known_contacts, seed=int(time.time())
        )
        started = time.perf_counter()
        result = import_file("events", stream)
        events_seconds = time.perf_counter() - started
        assert result.created + result.unchanged == events_rows, result.summary()
        return {
            "contacts": {
                "rows": contacts_rows,
                "seconds": contacts_seconds,
                "rows_per_s": contacts_rows / contacts_seconds,
                "file_mb": people.stat().st_size / 1e6,
            },
            "events": {
                "rows": events_rows,
                "seconds": events_seconds,
                "rows_per_s": events_rows / events_seconds,
                "file_mb": stream.stat().st_size / 1e6,
            },
        }


def api_ingest(batches: int, known_contacts: int, clients: int = 2) -> dict[str, Any]:
    """POST /api/events in batches of 1,000 over loopback to gunicorn (2 workers)."""
    user = User.objects.filter(role__in=["admin", "manager"]).order_by("id").first()
    _key, token = ApiKey.generate(user=user, name="benchmark")  # type: ignore[arg-type]
    port = _free_port()
    env = {**os.environ, "WEB_CONCURRENCY": "2"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "regua.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--timeout",
            "120",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port)
        rng = random.Random(5)
        bodies = []
        for b in range(batches):
            events = [
                {
                    "customer_id": f"C{rng.randint(1, known_contacts):07d}",
                    "name": rng.choice(["login", "product_viewed", "review"]),
                    "occurred_at": f"2026-0{rng.randint(1, 9)}-{rng.randint(10, 28)}"
                    f"T{rng.randint(10, 23)}:{rng.randint(10, 59)}:00-03:00",
                    "properties": {"sku": f"PERF-{rng.randint(1, 7):03d}"},
                    "id": f"bench-{b}-{i}",
                }
                for i in range(1000)
            ]
            bodies.append(json.dumps({"events": events}).encode())
        work = list(range(batches))
        created = [0]
        lock = threading.Lock()

        def client_loop() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            while True:
                with lock:
                    if not work:
                        break
                    index = work.pop()
                conn.request(
                    "POST",
                    "/api/events",
                    body=bodies[index],
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                    },
                )
                reply = conn.getresponse()
                payload = json.loads(reply.read())
                assert reply.status == 200, payload
                with lock:
                    created[0] += payload["created"] + payload["unchanged"]

        threads = [threading.Thread(target=client_loop) for _ in range(clients)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    events = batches * 1000
    assert created[0] == events
    return {
        "events": events,
        "batches": batches,
        "clients": clients,
        "seconds": seconds,
        "events_per_s": events / seconds,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the benchmark server did not start")

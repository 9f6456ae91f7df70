"""The load test's users (run by `regua bench --only load`, see load.py; not by Django).

Two kinds of user against one Régua on loopback:
- `TeamMember`: someone of the team signed in, browsing what a working day is made of:
  the contact list and its search, dossiers, the agenda, the dashboard. Think time of
  1–5 s between pages, as a person reading them.
- `ShopApi`: the shop's integration posting events in batches of 100 through the API.

Inputs come from the environment (load.py sets them): LOAD_EMAIL, LOAD_PASSWORD,
LOAD_TOKEN, LOAD_CONTACTS (a file of contact ids, one per line), LOAD_CUSTOMERS (the
number of customers with external ids C0000001...), LOAD_SAMPLES (where to write each
request's time, name, response time and outcome, and when the last user was started:
load.py leaves the start-up out of its figures).
"""

import json
import os
import random
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from locust import HttpUser, between, events, task

SPAWNED = "*spawned*"  # the samples file's line for the moment the last user started

CONTACT_IDS = [int(line) for line in Path(os.environ["LOAD_CONTACTS"]).read_text().split()]
CUSTOMERS = int(os.environ["LOAD_CUSTOMERS"])
SEARCHES = ["silva", "souza", "maria", "oliveira", "santos", "ana", "pereira", "lima"]
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# Open for the whole run, closed when locust quits (below).
SAMPLES = Path(os.environ["LOAD_SAMPLES"]).open("w", buffering=1 << 16)  # noqa: SIM115


@events.spawning_complete.add_listener
def _all_started(user_count: int, **_kwargs: Any) -> None:
    SAMPLES.write(f"{time.time():.3f}\t{SPAWNED}\t0\t0\n")


@events.request.add_listener
def _sample(name: str, response_time: float, exception: Exception | None, **_kwargs: Any) -> None:
    SAMPLES.write(f"{time.time():.3f}\t{name}\t{response_time:.1f}\t{int(exception is not None)}\n")


@events.quitting.add_listener
def _close(**_kwargs: Any) -> None:
    SAMPLES.close()


class TeamMember(HttpUser):
    weight = 45
    wait_time = between(1, 5)

    def on_start(self) -> None:
        page = self.client.get("/accounts/login/", name="login page")
        token = CSRF.search(page.text)
        self.client.post(
            "/accounts/login/",
            {
                "username": os.environ["LOAD_EMAIL"],
                "password": os.environ["LOAD_PASSWORD"],
                "csrfmiddlewaretoken": token.group(1) if token else "",
            },
            headers={"Referer": f"{self.host}/accounts/login/"},
            name="sign in",
        )

    @task(4)
    def contact_list(self) -> None:
        self.client.get("/contacts/", name="/contacts/")

    @task(2)
    def contact_search(self) -> None:
        self.client.get(f"/contacts/?q={random.choice(SEARCHES)}", name="/contacts/?q=")

    @task(6)
    def dossier(self) -> None:
        contact = random.choice(CONTACT_IDS)
        self.client.get(f"/contacts/{contact}/", name="/contacts/[id]/")

    @task(3)
    def agenda(self) -> None:
        self.client.get("/agenda/", name="/agenda/")

    @task(1)
    def agenda_week(self) -> None:
        self.client.get("/agenda/week/", name="/agenda/week/")

    @task(2)
    def dashboard(self) -> None:
        self.client.get("/analytics/", name="/analytics/")


class ShopApi(HttpUser):
    weight = 5
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {os.environ['LOAD_TOKEN']}"
        self.sent = 0

    @task
    def post_events(self) -> None:
        now = datetime.now(UTC)
        events = []
        for _ in range(100):
            self.sent += 1
            events.append(
                {
                    "customer_id": f"C{random.randint(1, CUSTOMERS):07d}",
                    "name": random.choice(["login", "product_viewed", "cart_viewed"]),
                    "occurred_at": (now - timedelta(seconds=random.randint(0, 600))).isoformat(),
                    "properties": {"sku": f"PERF-{random.randint(1, 7):03d}"},
                    "id": f"load-{id(self)}-{self.sent}",
                }
            )
        self.client.post(
            "/api/events",
            data=json.dumps({"events": events}),
            headers={"Content-Type": "application/json"},
            name="POST /api/events (100)",
        )

"""The load test's users (run by `regua bench --only load`, see load.py; not by Django).

Two kinds of user against one Régua on loopback:
- `TeamMember`: someone of the team signed in, browsing what a working day is made of:
  the contact list and its search, dossiers, the agenda, the dashboard. Think time of
  1–5 s between pages, as a person reading them.
- `ShopApi`: the shop's integration posting events in batches of 100 through the API.

Inputs come from the environment (load.py sets them): LOAD_EMAIL, LOAD_PASSWORD,
LOAD_TOKEN, LOAD_CONTACTS (a file of contact ids, one per line), LOAD_CUSTOMERS (the
number of customers with external ids C0000001...).
"""

import json
import os
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from locust import HttpUser, between, task

CONTACT_IDS = [int(line) for line in Path(os.environ["LOAD_CONTACTS"]).read_text().split()]
CUSTOMERS = int(os.environ["LOAD_CUSTOMERS"])
SEARCHES = ["silva", "souza", "maria", "oliveira", "santos", "ana", "pereira", "lima"]
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


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

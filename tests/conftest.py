"""Shared fixtures: the team (an owner, a teammate, a manager, an outsider), API clients."""

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from django.utils import translation

from regua.customers.models import Contact
from regua.users.models import ApiKey, Role, User

if TYPE_CHECKING:
    from support.smtp import SmtpServer

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


# A phone's screen for the browser tests that check the mobile layout.
PHONE = {"width": 375, "height": 740}


def _chromium_page(**context: Any) -> Iterator[object]:
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # The live server answers each request in a new thread: persistent connections would
    # outlive them and keep the test database busy at teardown.
    database = connections.settings["default"]
    max_age, database["CONN_MAX_AGE"] = database["CONN_MAX_AGE"], 0
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # around it are ordinary synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(locale="pt-BR", **context).new_page()
        page.set_default_timeout(15_000)
        yield page
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    database["CONN_MAX_AGE"] = max_age


# The headless Chromium page of the browser tests (test_browser*.py).
@pytest.fixture
def browser_page() -> Iterator[object]:
    yield from _chromium_page()


# The same on a touch screen 375 px wide.
@pytest.fixture
def phone_page() -> Iterator[object]:
    yield from _chromium_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)


# An SMTP server on loopback that keeps what it accepts (test_worker_crash, test_faults).
@pytest.fixture
def smtp() -> Iterator["SmtpServer"]:
    from support.smtp import smtp_server

    with smtp_server() as server:
        yield server


@pytest.fixture(scope="session", autouse=True)
def _end_live_server_sessions(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """At the end of the run, end the sessions the live server's request threads left
    open (PostgreSQL), which would keep the test database from being dropped. Done once
    here: ending them between tests could catch a connection a later test still uses."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


@pytest.fixture(autouse=True)
def _immediate_tasks(settings: Any) -> None:
    # Background jobs run inline in tests; test_import_ui runs the real worker once.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.PORTFOLIO_VISIBILITY = "all"


@pytest.fixture(autouse=True)
def _fresh_shared_cache(request: pytest.FixtureRequest, django_db_blocker: Any) -> Iterator[None]:
    # The shared cache (settings.CACHES["shared"]) is a table of the database but not a
    # model's, so the flush after a test that commits (the live server of the browser
    # tests, the subprocess tests) does not empty it. A test in a transaction leaves
    # nothing behind. (The rate limits' counts are a model's, core.RateCount: flushed.)
    yield
    marker = request.node.get_closest_marker("django_db")
    committed = {"transactional_db", "live_server"} & set(request.fixturenames) or (
        marker is not None and marker.kwargs.get("transaction")
    )
    if committed:
        from django.core.cache import caches

        with django_db_blocker.unblock():
            caches["shared"].clear()


@pytest.fixture(autouse=True)
def _fresh_best_sellers() -> None:
    # Recommendations keep the best sellers for ten minutes per process: each test has
    # its own catalogue, so none may see the previous test's.
    from regua.analytics import recommendations

    recommendations._popular_cache = None


@pytest.fixture(autouse=True)
def _english_outside_requests() -> Iterator[None]:
    # Messages built outside a request (importers, commands) follow the active language;
    # tests read them in English unless they say otherwise. Pages pick their own.
    with translation.override("en"):
        yield


@pytest.fixture
def alice(db: None) -> User:
    """An agent who owns contacts (the owner)."""
    return User.objects.create_user(
        "alice@example.com", "pw-alice-123", first_name="Alice", role=Role.AGENT
    )


@pytest.fixture
def bob(db: None) -> User:
    """Another agent of the same team (the teammate)."""
    return User.objects.create_user(
        "bob@example.com", "pw-bob-123", first_name="Bob", role=Role.AGENT
    )


@pytest.fixture
def manager(db: None) -> User:
    return User.objects.create_user(
        "gerente@example.com", "pw-manager-123", first_name="Marta", role=Role.MANAGER
    )


@pytest.fixture
def admin_user(db: None) -> User:
    return User.objects.create_superuser("admin@example.com", "pw-admin-123", first_name="Ana")


@pytest.fixture
def make_contact(db: None) -> Callable[..., Contact]:
    counter = {"n": 0}

    def make(**fields: Any) -> Contact:
        counter["n"] += 1
        n = counter["n"]
        fields.setdefault("email", f"cliente{n}@exemplo.com.br")
        fields.setdefault("first_name", "Cliente")
        fields.setdefault("last_name", f"Número {n}")
        return Contact.objects.create(**fields)

    return make


@pytest.fixture
def client_for() -> Callable[[User], Client]:
    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def api_token(manager: User) -> str:
    _key, token = ApiKey.generate(user=manager, name="Loja virtual")
    return token


@pytest.fixture
def api(api_token: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {api_token}"})

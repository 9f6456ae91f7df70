"""Operations: the worker's heartbeat, /healthz, /metrics, the status page and
`regua check-deploy` (docs/deploy.md)."""

import os
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from test_tick import T0, customer, event, regua  # noqa: F401  (customer is a fixture)

from regua.cadences.models import Delivery, DeliveryStatus
from regua.cadences.tick import tick
from regua.customers.models import Contact
from regua.ops import checks
from regua.ops.heartbeat import Heartbeat
from regua.ops.models import WorkerBeat
from regua.users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counts() -> None:
    cache.clear()


def scheduled_deliveries(customer: Callable[..., Contact], n: int) -> None:  # noqa: F811
    """n welcome e-mails due at T0 + 5 min and not sent yet."""
    regua("{kind: event, event: signup}")
    for _ in range(n):
        event(customer(), "signup", T0 + timedelta(minutes=5))
    tick(now=T0 + timedelta(minutes=6), send=False)


def metrics(client: Client, **headers: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


# The heartbeat ---------------------------------------------------------------------------


def test_a_worker_registers_beats_with_what_it_did_and_says_when_it_stops(settings: Any) -> None:
    settings.REGUA_WORKER_BEAT_SECONDS = 0
    heartbeat = Heartbeat.start("maquina-1:4242")
    row = WorkerBeat.objects.get()
    assert (row.host, row.pid, row.sent_total, row.stopped_at) == ("maquina-1", 4242, 0, None)
    heartbeat.sent(120)
    heartbeat.sent(0)
    heartbeat.sent(30)
    heartbeat.ticked(0.25)
    heartbeat.failed(ConnectionRefusedError("[Errno 111] Connection refused"))
    heartbeat.beat()
    row.refresh_from_db()
    assert (row.sent_total, row.sent_last_minute, row.tick_seconds, row.errors_total) == (
        150,
        150,
        0.25,
        1,
    )
    assert row.last_error == "ConnectionRefusedError: [Errno 111] Connection refused"
    heartbeat.stop()
    row.refresh_from_db()
    assert row.stopped_at is not None


def test_beats_are_written_at_most_every_few_seconds(settings: Any) -> None:
    settings.REGUA_WORKER_BEAT_SECONDS = 3600
    heartbeat = Heartbeat.start("maquina-1:1")
    heartbeat.sent(10)
    heartbeat.beat()
    assert WorkerBeat.objects.get().sent_total == 0  # not yet: the interval has not passed
    heartbeat.beat(force=True)
    assert WorkerBeat.objects.get().sent_total == 10


def test_the_rate_counts_only_the_last_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("regua.ops.heartbeat.time.monotonic", lambda: clock[0])
    heartbeat = Heartbeat("maquina-1:1")
    heartbeat.sent(500)
    clock[0] += 45
    heartbeat.sent(200)
    assert heartbeat.sent_last_minute() == 700
    clock[0] += 30  # the first batch is now 75 s old
    assert heartbeat.sent_last_minute() == 200


def test_the_worker_loop_beats_counts_its_errors_and_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = {"n": 0}

    def send_due(**kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("renderer exploded")
        if calls["n"] == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # systemd stopping the worker
        return 0

    monkeypatch.setattr("regua.cadences.sending.send_due", send_due)
    monkeypatch.setattr("regua.ops.heartbeat.settings.REGUA_WORKER_BEAT_SECONDS", 0)
    # in-process, inside the test's transaction, which closing it would end on PostgreSQL
    monkeypatch.setattr("regua.core.management.commands.worker.close_old_connections", lambda: None)
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        call_command("worker", only="deliveries", interval=0)
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
    # the failing turn did not end the worker: it went on until told to stop
    assert calls["n"] == 3
    beat = WorkerBeat.objects.get()
    assert (beat.errors_total, beat.last_error) == (1, "RuntimeError: renderer exploded")
    assert beat.stopped_at is not None and beat.ticked_at is not None
    assert beat.tick_seconds is not None and beat.tick_seconds >= 0


def test_a_worker_with_a_send_rate_sends_a_second_s_worth_at_a_time(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from regua.core.management.commands.worker import Command

    # given: 350 messages due, a worker allowed 100 a second, and a clock that only
    # moves when the worker sleeps (sending takes no time at all)
    settings.REGUA_SEND_RATE, settings.REGUA_SEND_BATCH = 100, 500
    clock, queue, sends = [1000.0], [350], []
    monkeypatch.setattr("regua.core.management.commands.worker.time.monotonic", lambda: clock[0])
    monkeypatch.setattr(
        "regua.core.management.commands.worker.time.sleep",
        lambda seconds: clock.__setitem__(0, clock[0] + seconds),
    )

    def send_due(*, batch_size: int, **kwargs: Any) -> int:
        taken = min(batch_size, queue[0])
        queue[0] -= taken
        sends.append((round(clock[0] - 1000, 2), batch_size, taken))
        return taken

    monkeypatch.setattr("regua.cadences.sending.send_due", send_due)
    monkeypatch.setattr(Command, "_tick", lambda self, worker: False)
    monkeypatch.setattr(Command, "_due_work", lambda self: None)
    monkeypatch.setattr("regua.core.management.commands.worker.close_old_connections", lambda: None)
    # when: it runs until nothing is due
    call_command("worker", only="deliveries", batch=True, interval=0)
    # then: batches of a second's worth, a second apart, and a last look when it may
    assert sends == [(0, 100, 100), (1, 100, 100), (2, 100, 100), (3, 100, 50), (3.5, 100, 0)]


def test_a_send_pace_without_a_rate_sends_whole_batches_back_to_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from regua.core.management.commands.worker import SendPace

    clock = [50.0]
    monkeypatch.setattr("regua.core.management.commands.worker.time.monotonic", lambda: clock[0])
    pace = SendPace(0, 500)
    pace.spent(500, clock[0])
    assert (pace.batch, pace.ready(), pace.wait()) == (500, True, 0.0)
    # a cap above the batch keeps the batch; a slow batch leaves no wait behind it
    pace = SendPace(600, 500)
    pace.spent(500, clock[0])
    assert (pace.batch, pace.ready(), round(pace.wait(), 3)) == (500, False, 0.833)
    clock[0] += 1.0  # the next batch starts late (a tick ran), and takes 2 s to go out
    pace.spent(500, clock[0])
    clock[0] += 2.0
    assert (pace.ready(), pace.wait()) == (True, 0.0)


def test_a_capped_worker_that_starts_a_batch_late_catches_up_to_its_rate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from regua.core.management.commands.worker import SendPace

    clock = [0.0]
    monkeypatch.setattr("regua.core.management.commands.worker.time.monotonic", lambda: clock[0])
    pace = SendPace(100, 500)  # batches of 100, one a second
    pace.spent(100, 0.0)
    # a tick holds the second batch back by 0.4 s: the third is still due at 2 s
    pace.spent(100, 1.4)
    clock[0] = 1.9
    assert not pace.ready() and round(pace.wait(), 2) == 0.1
    clock[0] = 2.0
    assert pace.ready()
    # after a pause longer than a batch's second, the count starts again: no burst
    pace.spent(100, 10.0)
    clock[0] = 10.5
    assert not pace.ready() and round(pace.wait(), 2) == 0.5


# /healthz --------------------------------------------------------------------------------


def test_health_check(make_contact, alice: User) -> None:  # type: ignore[no-untyped-def]
    from regua.desk.models import Message
    from regua.desk.services import ticket_open, ticket_reply

    assert Client().get("/healthz").json() == {
        "status": "ok",
        "database": "ok",
        "queue_lag_seconds": 0.0,
        "desk_outbox_lag_seconds": 0.0,
        "workers_alive": 0,
    }
    # a reply nobody has sent for ten minutes: no worker is running
    ticket = ticket_open(contact=make_contact(), subject="Atraso", body="Cadê?")
    reply = ticket_reply(ticket, by=alice, body="Já vamos ver.")
    Message.objects.filter(pk=reply.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=10)
    )
    Heartbeat.start("maquina-1:1")
    health = Client().get("/healthz").json()
    assert 600 <= health["desk_outbox_lag_seconds"] < 660
    assert health["workers_alive"] == 1


def test_health_check_says_503_when_the_database_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import DatabaseError, connection

    def broken() -> None:
        raise DatabaseError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken)
    response = Client().get("/healthz")
    assert response.status_code == 503 and response.json()["database"] == "unreachable"


# /metrics --------------------------------------------------------------------------------


def test_metrics_need_the_token_or_a_manager(
    settings: Any, alice: User, manager: User, client_for: Callable[[User], Client]
) -> None:
    settings.REGUA_METRICS_TOKEN = "s3cr3t-token-for-prometheus"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client_for(alice).get("/metrics").status_code == 401
    assert client_for(manager).get("/metrics").status_code == 200
    ok = Client().get("/metrics", headers={"Authorization": "Bearer s3cr3t-token-for-prometheus"})
    assert ok.status_code == 200
    settings.REGUA_METRICS_TOKEN = ""  # no token configured: an empty bearer opens nothing
    assert Client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


def test_metrics_report_the_queue_the_workers_and_the_imports(
    settings: Any,
    customer: Callable[..., Contact],  # noqa: F811
    manager: User,
) -> None:
    from regua.imports.models import ImportJob, ImportKind, ImportStatus

    settings.REGUA_METRICS_TOKEN = "t0k3n"
    scheduled_deliveries(customer, 3)
    Delivery.objects.filter(pk=Delivery.objects.order_by("pk")[0].pk).update(
        status=DeliveryStatus.SENT
    )
    heartbeat = Heartbeat.start("maquina-1:77")
    heartbeat.sent(40)
    heartbeat.ticked(1.5)
    heartbeat.beat(force=True)
    Heartbeat.start("maquina-2:78").stop()  # a worker that stopped cleanly
    now = timezone.now()
    ImportJob.objects.create(
        kind=ImportKind.CONTACTS,
        status=ImportStatus.DONE,
        rows=50_000,
        started_at=now - timedelta(seconds=20),
        finished_at=now - timedelta(seconds=10),
        created_by=manager,
    )
    with time_machine.travel(T0 + timedelta(minutes=15), tick=False):
        found = metrics(Client(), Authorization="Bearer t0k3n")
    assert found["regua_deliveries"][(("status", "scheduled"),)] == 2
    assert found["regua_deliveries"][(("status", "sent"),)] == 1
    assert found["regua_deliveries"][(("status", "failed"),)] == 0
    assert found["regua_queue_lag_seconds"][()] == 600.0  # due at 10:05, now 10:15
    assert found["regua_workers_alive"][()] == 1
    worker = (("worker", "maquina-1:77"),)
    assert found["regua_worker_sent_total"][worker] == 40
    assert found["regua_worker_sent_last_minute"][worker] == 40
    assert found["regua_tick_duration_seconds"][worker] == 1.5
    assert found["regua_import_rows_per_second"][()] == 5000.0
    assert (("worker", "maquina-2:78"),) not in found["regua_worker_sent_total"]


def test_a_worker_that_stopped_beating_is_not_alive(settings: Any) -> None:
    settings.REGUA_WORKER_STALE_SECONDS = 60
    Heartbeat.start("maquina-1:1")
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert Client().get("/healthz").json()["workers_alive"] == 0


# The status page ---------------------------------------------------------------------------


def test_the_status_page_is_for_managers(
    alice: User, manager: User, client_for: Callable[[User], Client]
) -> None:
    Heartbeat.start("maquina-1:4242")
    assert client_for(alice).get("/status/").status_code == 403
    page = client_for(manager).get("/status/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "maquina-1:4242" in html and 'hx-trigger="every 10s"' in html
    panel = client_for(manager).get("/status/", headers={"HX-Request": "true"}).content.decode()
    assert "maquina-1:4242" in panel and "<html" not in panel


def test_the_status_page_warns_when_no_worker_ever_reported(
    manager: User, client_for: Callable[[User], Client]
) -> None:
    html = client_for(manager).get("/status/", headers={"Accept-Language": "en"}).content
    assert "No worker has ever reported" in html.decode()


def test_the_status_page_speaks_portuguese(
    manager: User, client_for: Callable[[User], Client]
) -> None:
    html = client_for(manager).get("/status/", headers={"Accept-Language": "pt-BR"}).content
    assert "Estado do sistema" in html.decode()


# check-deploy ------------------------------------------------------------------------------

PRODUCTION = {
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "REGUA_SITE_URL": "https://crm.lojadamaria.com.br",
    "DEFAULT_FROM_EMAIL": "Loja da Maria <contato@lojadamaria.com.br>",
    "REGUA_METRICS_TOKEN": "t0k3n",
}


def ids(found: list[Any]) -> set[str]:
    return {message.id for message in found}


def test_the_settings_check_names_each_problem(settings: Any) -> None:
    assert {"regua.E001", "regua.E002", "regua.E007", "regua.W006"} <= ids(checks.settings_check())
    for name, value in PRODUCTION.items():
        setattr(settings, name, value)
    assert (
        ids(checks.settings_check()) & {"regua.E001", "regua.E002", "regua.E007", "regua.W006"}
        == set()
    )
    settings.REGUA_SITE_URL = "http://crm.lojadamaria.com.br"
    assert "regua.W003" in ids(checks.settings_check())


def test_the_worker_check_wants_a_live_worker_and_a_short_queue(
    customer: Callable[..., Contact],  # noqa: F811
) -> None:
    assert checks.workers_check(databases=None) == []  # without a database: not run
    assert ids(checks.workers_check(databases=["default"])) == {"regua.E011"}
    Heartbeat.start("maquina-1:1")
    assert ids(checks.workers_check(databases=["default"])) == set()
    scheduled_deliveries(customer, 1)
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        Heartbeat.start("maquina-1:1")
        assert ids(checks.workers_check(databases=["default"])) == {"regua.W012"}


def test_check_deploy_fails_on_a_demo_install_and_passes_on_a_production_one(
    settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemCheckError) as failed:
        call_command("check-deploy")
    assert "regua.E001" in str(failed.value) and "regua.E011" in str(failed.value)
    for name, value in PRODUCTION.items():
        setattr(settings, name, value)
    Heartbeat.start("maquina-1:1")
    call_command("check-deploy")  # warnings (e.g. SQLite, HSTS) do not fail at ERROR level
    with pytest.raises(SystemCheckError):
        call_command("check-deploy", fail_level="WARNING")

"""Rate limits on sign-in, password reset, the public forms and the API (docs/security.md).

Each limit is a setting; the tests set small ones and count. The counts live in the
shared cache, a table in the database: the last test runs two processes at once
against one limit and checks that together they get exactly the limit, no more.
"""

import json
import textwrap
import time
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.cache import caches
from django.db import connection, transaction
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from support.processes import ReguaProcess, WorkerDatabase

from regua.cadences import tokens as delivery_tokens
from regua.core import ratelimits
from regua.core.models import RateCount
from regua.users.models import ApiKey, User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _still_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    # A limit counts in fixed windows (a minute, an hour) that start at a moment of each
    # address's own (ratelimits.window_end); a test whose requests straddled one would
    # see its count start again. The clock stands still, except for the processes of the
    # last test, which have their own.
    if "two_processes" in request.node.name:
        yield
        return
    with time_machine.travel(time.time(), tick=False):
        yield


@pytest.fixture(autouse=True)
def _no_lockout(settings: Any) -> None:
    # The lockout (test_lockout.py) would step in after five failures; here only the
    # rate limits are counted.
    settings.AXES_ENABLED = False


def from_ip(address: str, **headers: str) -> Client:
    return Client(REMOTE_ADDR=address, headers={"Accept-Language": "en", **headers})


def sign_in(client: Client, email: str, password: str = "wrong") -> Any:  # noqa: S107
    return client.post(reverse("login"), {"username": email, "password": password})


def assert_limited(response: Any) -> None:
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "try again in" in response.content.decode()


# Sign-in ---------------------------------------------------------------------------------


def test_signing_in_is_limited_per_email_address_from_any_ip(settings: Any, alice: User) -> None:
    settings.REGUA_RATELIMIT_LOGIN_USER = "3/m"
    # given three attempts at Alice's address from three addresses
    for n in range(3):
        assert sign_in(from_ip(f"10.0.0.{n}"), "alice@example.com").status_code == 200
    # when a fourth comes, even with the right password and in capitals
    response = sign_in(from_ip("10.0.0.9"), "ALICE@example.com", "pw-alice-123")
    # then it is refused for a while, and nobody was signed in
    assert_limited(response)
    assert "_auth_user_id" not in response.client.session
    # and another address is not affected
    assert sign_in(from_ip("10.0.0.9"), "bob@example.com").status_code == 200


def test_signing_in_is_limited_per_client_ip(settings: Any, alice: User) -> None:
    settings.REGUA_RATELIMIT_LOGIN_IP = "3/m"
    client = from_ip("192.0.2.7")
    for n in range(3):
        assert sign_in(client, f"someone{n}@example.com").status_code == 200
    assert_limited(sign_in(client, "alice@example.com", "pw-alice-123"))
    assert sign_in(from_ip("192.0.2.8"), "alice@example.com", "pw-alice-123").status_code == 302


def test_the_limit_page_speaks_portuguese(settings: Any) -> None:
    settings.REGUA_RATELIMIT_LOGIN_IP = "1/m"
    client = Client(headers={"Accept-Language": "pt-BR"})
    sign_in(client, "a@example.com")
    response = sign_in(client, "a@example.com")
    assert response.status_code == 429
    assert "Tente de novo em" in response.content.decode()


def test_behind_a_proxy_the_client_is_the_address_the_proxy_saw(settings: Any) -> None:
    settings.REGUA_PROXY_COUNT = 1
    settings.REGUA_RATELIMIT_LOGIN_IP = "2/m"
    # every request comes from the proxy (10.0.0.1); the client forges a first entry
    for n in range(2):
        forged = f"203.0.113.{n}, 198.51.100.5"
        assert (
            sign_in(from_ip("10.0.0.1", **{"X-Forwarded-For": forged}), "x@y.z").status_code == 200
        )
    # the entry the proxy added (the real client) is what counts
    assert_limited(
        sign_in(from_ip("10.0.0.1", **{"X-Forwarded-For": "9.9.9.9, 198.51.100.5"}), "x@y.z")
    )
    # and another real client is not limited
    assert (
        sign_in(from_ip("10.0.0.1", **{"X-Forwarded-For": "198.51.100.6"}), "x@y.z").status_code
        == 200
    )


def test_a_limit_set_to_off_counts_nothing(settings: Any) -> None:
    settings.REGUA_RATELIMIT_LOGIN_IP = ""
    settings.REGUA_RATELIMIT_LOGIN_USER = ""
    client = from_ip("192.0.2.1")
    assert all(sign_in(client, "a@example.com").status_code == 200 for _ in range(40))


# Password reset --------------------------------------------------------------------------


def test_a_reset_answers_the_same_for_known_and_unknown_addresses(
    settings: Any, alice: User
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    known = from_ip("192.0.2.1").post(reverse("password_reset"), {"email": "alice@example.com"})
    unknown = from_ip("192.0.2.2").post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]


def test_asking_for_resets_is_limited_per_address_and_per_ip(settings: Any, alice: User) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.REGUA_RATELIMIT_PASSWORD_RESET = "2/h"
    url = reverse("password_reset")
    for n in range(2):
        assert from_ip(f"192.0.2.{n}").post(url, {"email": "alice@example.com"}).status_code == 302
    # a third for the same address, from elsewhere: refused, and no third e-mail
    assert_limited(from_ip("192.0.2.9").post(url, {"email": "alice@example.com"}))
    assert len(mail.outbox) == 2
    # the same IP asking for other addresses is limited too
    client = from_ip("198.51.100.1")
    for n in range(2):
        assert client.post(url, {"email": f"x{n}@example.com"}).status_code == 302
    assert_limited(client.post(url, {"email": "y@example.com"}))


# Public forms ----------------------------------------------------------------------------


def test_the_public_contact_form_is_limited_per_ip(settings: Any) -> None:
    settings.REGUA_RATELIMIT_PUBLIC_FORMS = "3/m"
    client = from_ip("192.0.2.50")
    for _ in range(3):
        assert client.post(reverse("desk_public:contact"), {}).status_code == 200
    assert_limited(client.post(reverse("desk_public:contact"), {}))
    assert from_ip("192.0.2.51").post(reverse("desk_public:contact"), {}).status_code == 200


def test_survey_posts_are_limited_per_ip(settings: Any) -> None:
    settings.REGUA_RATELIMIT_PUBLIC_FORMS = "2/m"
    client = from_ip("192.0.2.60")
    # forged tokens cost the sender their share too
    for n in range(2):
        url = reverse("cadences:survey", args=[f"{n}:forged"])
        assert client.post(url, {"score": "9"}).status_code == 404
    assert_limited(client.post(reverse("cadences:survey", args=["3:forged"]), {"score": "9"}))


def test_one_click_unsubscribes_are_counted_per_link_not_per_ip(settings: Any) -> None:
    settings.REGUA_RATELIMIT_PUBLIC_FORMS = "2/m"
    # a mail provider posts one-click unsubscribes for many customers from one address
    provider = from_ip("192.0.2.70")
    one_click = {"List-Unsubscribe": "One-Click"}
    for n in range(5):
        url = reverse("cadences:unsubscribe", args=[delivery_tokens.make("unsubscribe", 900 + n)])
        assert provider.post(url, one_click).status_code == 404  # no such delivery: not limited
    # but one link posted again and again is
    url = reverse("cadences:unsubscribe", args=[delivery_tokens.make("unsubscribe", 999)])
    provider.post(url, one_click)
    provider.post(url, one_click)
    assert_limited(provider.post(url, one_click))
    # and the preference form (a person in a browser) counts per address
    browser = from_ip("192.0.2.71")
    for n in range(2):
        url = reverse("cadences:unsubscribe", args=[delivery_tokens.make("unsubscribe", 800 + n)])
        browser.post(url, {"channels": ["email"]})
    assert_limited(browser.post(url, {"channels": ["email"]}))


def test_referral_codes_cannot_be_tried_in_bulk(settings: Any) -> None:
    settings.REGUA_RATELIMIT_PUBLIC_FORMS = "3/m"
    client = from_ip("192.0.2.80")
    for code in ("AAAA", "AAAB", "AAAC"):
        assert client.get(reverse("loyalty:referral_landing", args=[code])).status_code == 404
    assert_limited(client.get(reverse("loyalty:referral_landing", args=["AAAD"])))


def test_help_centre_searches_are_limited_but_reading_is_not(settings: Any) -> None:
    settings.REGUA_RATELIMIT_PUBLIC_FORMS = "2/m"
    client = from_ip("192.0.2.90")
    for _ in range(2):
        assert client.get(reverse("faq:index"), {"q": "entrega"}).status_code == 200
    assert_limited(client.get(reverse("faq:index"), {"q": "entrega"}))
    assert client.get(reverse("faq:index")).status_code == 200


# The API ---------------------------------------------------------------------------------


def api_client(token: str, address: str = "192.0.2.100") -> Client:
    return Client(REMOTE_ADDR=address, headers={"Authorization": f"Bearer {token}"})


def assert_api_limited(response: Any) -> None:
    assert response.status_code == 429
    assert response["Content-Type"].startswith("application/json")
    assert 0 < int(response["Retry-After"]) <= 60
    assert "try again in" in json.loads(response.content)["detail"]


def test_each_api_key_has_its_own_limit(settings: Any, manager: User, api_token: str) -> None:
    settings.REGUA_RATELIMIT_API_KEY = "3/m"
    _key, other = ApiKey.generate(user=manager, name="ERP")
    for n in range(3):
        assert api_client(api_token, f"192.0.2.{n}").get("/api/contacts").status_code == 200
    # the fourth call of the key, from anywhere, is refused in JSON
    assert_api_limited(api_client(api_token, "192.0.2.99").get("/api/contacts"))
    # the other key goes on
    assert api_client(other).get("/api/contacts").status_code == 200


def test_the_api_is_limited_per_ip_whatever_the_key(settings: Any, api_token: str) -> None:
    settings.REGUA_RATELIMIT_API_IP = "3/m"
    guesser = "198.51.100.200"
    # guessing keys costs requests
    for n in range(3):
        assert api_client(f"rg_{n:012d}_guess", guesser).get("/api/contacts").status_code == 401
    # then even a good key from there waits, while elsewhere it works
    assert_api_limited(api_client(api_token, guesser).get("/api/contacts"))
    assert api_client(api_token, "198.51.100.201").get("/api/contacts").status_code == 200


def test_the_default_api_limits_leave_room_for_the_load_test(settings: Any) -> None:
    # the load test's shop posts about five batches a second from one key and address
    for name in ("REGUA_RATELIMIT_API_KEY", "REGUA_RATELIMIT_API_IP"):
        count, period = getattr(settings, name).split("/")
        seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[-1]] * int(period[:-1] or 1)
        assert int(count) / seconds >= 50, name


# Shared between processes ----------------------------------------------------------------


def test_the_counts_are_kept_in_the_database(settings: Any) -> None:
    settings.REGUA_RATELIMIT_LOGIN_IP = "2/m"
    client = from_ip("192.0.2.123")
    sign_in(client, "a@example.com")
    sign_in(client, "a@example.com")
    # the counts are rows of a table, named by a hash: no address in clear
    rows = list(RateCount.objects.values_list("key", "hits"))
    assert sorted(hits for _key, hits in rows) == [2, 2]  # per address and per e-mail
    assert all(isinstance(key, int) for key, _hits in rows)
    # and nothing is kept in the process's own memory
    caches["default"].clear()
    assert_limited(sign_in(client, "a@example.com"))


def test_count_adds_one_per_call_and_a_new_window_removes_the_ended_ones() -> None:
    now = timezone.now()
    assert [ratelimits.count(1, now + timedelta(minutes=1)) for _ in range(3)] == [1, 2, 3]
    assert ratelimits.count(2, now + timedelta(minutes=1)) == 1  # its own count
    # given a window that ended
    RateCount.objects.filter(key=1).update(expires=now - timedelta(seconds=1))
    # when another count's first request comes, the ended window goes
    assert ratelimits.count(3, now + timedelta(minutes=1)) == 1
    assert set(RateCount.objects.values_list("key", flat=True)) == {2, 3}
    # while a count that goes on keeps its own
    assert ratelimits.count(2, now + timedelta(minutes=1)) == 2


def test_windows_are_the_period_long_and_end_in_the_future() -> None:
    assert ratelimits.split_rate("30/m") == (30, 60)
    assert ratelimits.split_rate("5/15m") == (5, 900)
    assert ratelimits.split_rate("6000/h") == (6000, 3600)
    now = 1_800_000_000.5
    for value in ("10.0.0.1", "alice@example.com", ""):
        end = ratelimits.window_end(value, 60, now)
        assert now < end <= int(now) + 60
        # the same window for every second before its end, the next one from it on
        assert ratelimits.window_end(value, 60, end - 60) == end
        assert ratelimits.window_end(value, 60, end - 0.5) == end
        assert ratelimits.window_end(value, 60, end) == end + 60
    # and every window of a value ends at its own second: the counts do not all start
    # again at once
    assert len({ratelimits.window_end(str(n), 60, now) for n in range(100)}) > 30


def test_a_window_ending_this_very_second_still_counts(settings: Any) -> None:
    # given a value whose windows end at the current second (their shift is its own)
    settings.REGUA_RATELIMIT_TEST = "1/m"
    now = int(time.time())
    value = next(v for n in range(10_000) if zlib.crc32((v := f"v{n}").encode()) % 60 == now % 60)
    limit = ratelimits.Limit("test", "REGUA_RATELIMIT_TEST", lambda _request: value)
    request = RequestFactory().post("/")
    # when it is counted twice, the second is over the limit: a new window's first
    # count removes the windows that have ended, and this one had not
    assert ratelimits.exceeded(request, limit) == 0
    assert 0 < ratelimits.exceeded(request, limit) <= 60


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL setting")
@pytest.mark.django_db(transaction=True)
def test_a_count_does_not_wait_for_the_disk_but_a_callers_transaction_does() -> None:
    # A count commits asynchronously (a crash may forget the last counts), in the same
    # round trip as the upsert; a count inside a caller's transaction joins it as it
    # is, so the caller's own writes still wait for the disk.
    statements: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "core_ratecount" in sql and "INSERT" in sql:
            statements.append(sql)
        return execute(sql, params, many, context)

    def setting() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return str(cursor.fetchone()[0])

    with connection.cursor() as cursor:
        # durable, as on a production server (the test cluster turns it off for speed)
        cursor.execute("SET synchronous_commit TO on")
    try:
        with connection.execute_wrapper(record):
            assert ratelimits.count(7, timezone.now() + timedelta(minutes=1)) == 1
            assert setting() == "on"  # the SET was the count's alone
            with transaction.atomic():
                assert ratelimits.count(7, timezone.now() + timedelta(minutes=1)) == 2
                assert setting() == "on"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")
    assert statements[0].startswith("SET LOCAL synchronous_commit TO OFF; INSERT")
    assert statements[1].startswith("INSERT")


@pytest.mark.django_db(transaction=True)
def test_two_processes_at_once_share_one_limit_exactly(tmp_path: Path, manager: User) -> None:
    # given one API key with a limit of 40 calls a minute, and two web processes
    _key, token = ApiKey.generate(user=manager, name="Loja virtual")
    database = WorkerDatabase(tmp_path)
    database.hand_over()
    script = textwrap.dedent(
        f"""
        import json
        from django.test import Client, RequestFactory
        client = Client(SERVER_NAME="localhost", headers={{"Authorization": "Bearer {token}"}})
        print("CODES", json.dumps([client.get("/api/contacts").status_code for _ in range(30)]))
        """
    )
    env = {"REGUA_RATELIMIT_API_KEY": "40/h", "REGUA_RATELIMIT_API_IP": "off"}
    processes = [ReguaProcess(database, tmp_path / f"p{n}", env) for n in range(2)]
    for n, process in enumerate(processes):
        (tmp_path / f"p{n}").mkdir()
        process.start("shell", "-c", script)
    # when each makes 30 calls at the same time
    for process in processes:
        assert process.wait(120) == 0, process.output()
    codes = [
        code
        for process in processes
        for line in process.output().splitlines()
        if line.startswith("CODES ")
        for code in json.loads(line[len("CODES ") :])
    ]
    # then exactly 40 were served and 20 refused, between them
    assert len(codes) == 60
    assert codes.count(200) == 40 and codes.count(429) == 20

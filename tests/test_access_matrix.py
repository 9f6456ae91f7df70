"""Access control, proven: every URL pattern × every role (docs/security.md).

MATRIX below gives each URL pattern's name its class of access; the first test fails
when a pattern exists that MATRIX does not list, so a new page or endpoint must be
classified (and written down in docs/security.md) before the suite passes again. Then
each pattern is asked for with a real object (tests/support/access_world.py) by:

- anonymous: nobody signed in (for the API: no key);
- owner: Alice, the agent whose portfolio holds the object;
- teammate: Bob, another agent, with private portfolios (PORTFOLIO_VISIBILITY=own);
- manager and admin.

The outcomes: sent to sign in (a 302 to /accounts/login/; 401 for the API), 403 for a
role that may not do this at all, 404 for an object outside what the user may see (so
that ids cannot be probed), and otherwise an answer (no 401/403/404/405, no 5xx). Every
page Bob gets is also read for Alice's private contact (the word "Sigilosa"): lists,
searches, exports, reports and the API must not show it to him.
"""

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from enum import StrEnum
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.http import HttpResponseBase
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from support.access_world import (
    BOBS,
    SECRET,
    World,
    delivery_token,
    loyalty_token,
    world_build,
)

from regua.cadences.models import Suppression
from regua.customers.models import Contact

DOCS = Path(__file__).resolve().parent.parent / "docs" / "security.md"
LOGIN = "/accounts/login/"
BOBS_EMAIL = "bento.visivel@exemplo.com.br"  # Bob's contact's address
WEBHOOK_SECRET = "regua:segredo-do-provedor"


class Access(StrEnum):
    """Who may open a URL; docs/security.md explains each class."""

    PUBLIC = "public"  # anyone; protected by a signed token, a secret or by holding no data
    NOWHERE = "nowhere"  # answers 404 to everyone
    WEBHOOK = "webhook"  # the e-mail provider, with the webhook secret; sessions do not count
    METRICS = "metrics"  # the metrics token, or a manager signed in; anyone else 401
    SIGNED_IN = "signed in"  # any role; what it lists follows the portfolio
    MANAGERS = "managers"  # managers and admins; agents 403
    PORTFOLIO = "portfolio"  # an object of a portfolio: its agent, managers, admins
    PORTFOLIO_MANAGERS = "portfolio, managers"  # a portfolio's object, managers only
    OWN = "own"  # what an agent made or takes part in (import, hand-over); managers see all
    PERSONAL = "personal"  # the user's own (an API key): nobody else, admins included
    API = "api"  # any key; reads follow the key's user's portfolio
    API_PORTFOLIO = "api, portfolio"  # an object of the key's user's portfolio
    API_WRITE = "api, write"  # a manager's or an admin's key; agents' keys 403


ROLES = ["anonymous", "owner", "teammate", "manager", "admin"]
USERS = {"owner": "alice", "teammate": "bob", "manager": "manager", "admin": "admin"}
SESSIONS: dict[str, str] = {}  # role → session key, made once by the `world` fixture

# The outcomes: "ok", "login", or the status code that must answer.
OK, LOGIN_FIRST, REFUSED = "ok", "login", "refused"
EVERYONE_OK: dict[str, str | int] = dict.fromkeys(ROLES, OK)
SIGNED_IN_OK: dict[str, str | int] = {**EVERYONE_OK, "anonymous": LOGIN_FIRST}
EXPECTED: dict[Access, dict[str, str | int]] = {
    Access.PUBLIC: EVERYONE_OK,
    Access.NOWHERE: dict.fromkeys(ROLES, 404),
    Access.WEBHOOK: dict.fromkeys(ROLES, REFUSED),
    Access.METRICS: {"anonymous": 401, "owner": 401, "teammate": 401, "manager": OK, "admin": OK},
    Access.SIGNED_IN: SIGNED_IN_OK,
    Access.MANAGERS: {**SIGNED_IN_OK, "owner": 403, "teammate": 403},
    Access.PORTFOLIO: {**SIGNED_IN_OK, "teammate": 404},
    Access.PORTFOLIO_MANAGERS: {**SIGNED_IN_OK, "owner": 403, "teammate": 403},
    Access.OWN: {**SIGNED_IN_OK, "teammate": 404},
    Access.PERSONAL: {**SIGNED_IN_OK, "teammate": 404, "manager": 404, "admin": 404},
    Access.API: {**EVERYONE_OK, "anonymous": 401},
    Access.API_PORTFOLIO: {**EVERYONE_OK, "anonymous": 401, "teammate": 404},
    Access.API_WRITE: {**EVERYONE_OK, "anonymous": 401, "owner": 403, "teammate": 403},
}
API_CLASSES = {Access.API, Access.API_PORTFOLIO, Access.API_WRITE}


@dataclass(frozen=True)
class Case:
    """How to ask for one URL pattern: its access class, the request, and why (for the
    public ones). `args` build the URL from the world's objects; `path` replaces it
    where the app makes the link itself (signed tokens)."""

    access: Access
    why: str = ""
    method: str = "get"
    args: Callable[[World], list[Any]] = lambda w: []
    path: Callable[[World], str] | None = None
    query: Callable[[World], dict[str, Any]] = lambda w: {}
    data: Callable[[World], Any] = lambda w: {}
    prepare: Callable[[Client, World], None] | None = None


def get(access: Access, *args: Callable[[World], Any], **options: Any) -> Case:
    return Case(access, args=lambda w: [arg(w) for arg in args], **options)


def post(access: Access, *args: Callable[[World], Any], **options: Any) -> Case:
    return Case(access, method="post", args=lambda w: [arg(w) for arg in args], **options)


def public(why: str, **options: Any) -> Case:
    return Case(Access.PUBLIC, why=why, **options)


def _secret(w: World) -> int:
    return w.secret.pk


def _company(w: World) -> int:
    return w.company.pk


def _regua(w: World) -> str:
    return w.cadence.key


def _step(w: World) -> str:
    return w.step.key


def _dashboard_first(client: Client, world: World) -> None:
    client.get(reverse("analytics:dashboard"))  # the export reads the page's snapshot


def _event(w: World) -> dict[str, Any]:
    return {
        "events": [
            {"customer_id": "ext-bento", "name": "login", "occurred_at": "2025-01-02T10:00:00Z"}
        ]
    }


def _order(w: World) -> dict[str, Any]:
    order = {"order_id": "A-1", "customer_id": "ext-bento", "ordered_at": "2025-01-02"}
    return {"orders": [{**order, "total": "10.00"}]}


MATRIX: dict[str, Case] = {
    # -- Public surfaces: why each may be opened without signing in -------------------
    "login": public("the sign-in page"),
    "logout": public("signing out needs no permission", method="post"),
    "password_reset": public("asking for a reset link: rate limited, tells nothing"),
    "password_reset_done": public("the page after asking: tells nothing"),
    "password_reset_confirm": public(
        "choosing a new password: Django's signed, single-use token (a bad one: a message)",
        args=lambda w: ["MQ", "bad-token"],
    ),
    "password_reset_complete": public("the page after a new password: tells nothing"),
    "set_language": public(
        "the language switch: sets a cookie", method="post", data=lambda w: {"language": "en"}
    ),
    "ops:healthz": public("the load balancer's probe: database up, queue lag; no customer data"),
    "cadences:open": public(
        "open pixel: a signed token per delivery",
        path=lambda w: reverse("cadences:open", args=[delivery_token(w, "open")]),
    ),
    "cadences:click": public(
        "click redirect: a token signed for the delivery and the target",
        path=lambda w: reverse(
            "cadences:click", args=[delivery_token(w, "click", "https://loja.example.com/")]
        ),
        query=lambda w: {"u": "https://loja.example.com/"},
    ),
    "cadences:unsubscribe": public(
        "unsubscribe page: a signed token per delivery",
        path=lambda w: reverse("cadences:unsubscribe", args=[delivery_token(w, "unsubscribe")]),
    ),
    "cadences:survey": public(
        "NPS survey: a signed token per delivery",
        path=lambda w: reverse("cadences:survey", args=[delivery_token(w, "survey")]),
    ),
    "loyalty:public_page": public(
        "the customer's loyalty page: a signed token per contact",
        path=lambda w: reverse("loyalty:public_page", args=[loyalty_token(w)]),
    ),
    "loyalty:referral_landing": public(
        "a referral link: the public code a customer shares; shows a first name only",
        args=lambda w: [w.referral.code],
    ),
    "agenda:feed": public(
        "a user's calendar feed (.ics): a signed link the user can renew",
        path=lambda w: w.feed_path,
    ),
    "desk_public:contact": public("the public contact form: anti-spam stamp, rate limited"),
    "desk_public:rating": public(
        "the satisfaction rating link of a resolution e-mail: a signed token",
        path=lambda w: w.rating_path,
    ),
    "faq:index": public("the help centre: published articles only"),
    "faq:article": public(
        "a help centre article: published only (drafts: staff)", args=lambda w: [w.article.slug]
    ),
    "api:openapi-json": public("the API's schema: describes the operations, holds no data"),
    "api:openapi-view": public("the API's interactive docs: calls still need a key"),
    "api:api-root": Case(Access.NOWHERE, why="django-ninja's placeholder for /api/: always 404"),
    # -- Everyone signed in -----------------------------------------------------------
    "home": get(Access.SIGNED_IN),
    "ops:metrics": get(Access.METRICS),
    "ops:status": get(Access.MANAGERS),
    "users:api_keys": get(Access.SIGNED_IN),
    "users:two_factor": get(Access.SIGNED_IN),
    "login_code": get(Access.SIGNED_IN),
    "users:api_key_revoke": post(Access.PERSONAL, lambda w: w.alice_key.pk),
    # -- Contacts and companies -------------------------------------------------------
    "customers:contact_list": get(Access.SIGNED_IN),
    "customers:contact_detail": get(Access.PORTFOLIO, _secret),
    "customers:contact_timeline": get(Access.PORTFOLIO, _secret),
    "customers:interaction_create": post(Access.PORTFOLIO, _secret),
    "customers:company_list": get(Access.SIGNED_IN),
    "customers:company_detail": get(Access.PORTFOLIO, _company),
    # -- Imports ------------------------------------------------------------------------
    "imports:list": get(Access.SIGNED_IN),
    "imports:detail": get(Access.OWN, lambda w: w.job.pk),
    "imports:retry": post(Access.OWN, lambda w: w.job.pk),
    "imports:errors_csv": get(Access.OWN, lambda w: w.job.pk),
    # -- Réguas -------------------------------------------------------------------------
    "cadences:list": get(Access.SIGNED_IN),
    "cadences:new": get(Access.MANAGERS),
    "cadences:import": post(Access.MANAGERS),
    "cadences:install_defaults": post(Access.MANAGERS),
    "cadences:detail": get(Access.SIGNED_IN, _regua),
    "cadences:settings": get(Access.MANAGERS, _regua),
    "cadences:status": post(Access.MANAGERS, _regua, data=lambda w: {"status": "paused"}),
    "cadences:broadcast": post(Access.MANAGERS, _regua),
    "cadences:yaml": get(Access.SIGNED_IN, _regua),
    # The backtest: the régua's signup trigger enters the contacts who signed up lately,
    # so the page names some of them.
    "cadences:preview": get(
        Access.SIGNED_IN, lambda w: w.previewed.key, query=lambda w: {"period": "past"}
    ),
    "cadences:step_new": get(Access.MANAGERS, _regua),
    "cadences:step": get(Access.MANAGERS, _regua, _step),
    "cadences:step_archive": post(Access.MANAGERS, _regua, _step),
    "cadences:step_test": post(Access.MANAGERS, _regua, _step),
    "cadences:outbox": get(Access.SIGNED_IN),
    "cadences:outbox_message": get(Access.PORTFOLIO, lambda w: w.outbox.pk),
    # -- Segments -----------------------------------------------------------------------
    "segments:list": get(Access.SIGNED_IN),
    "segments:new": get(Access.MANAGERS),
    "segments:count": post(Access.SIGNED_IN, data=lambda w: {"rule": json.dumps(w.segment.rule)}),
    "segments:edit": get(Access.MANAGERS, lambda w: w.segment.pk),
    "segments:saved_count": get(Access.SIGNED_IN, lambda w: w.segment.pk),
    "segments:members": get(Access.SIGNED_IN, lambda w: w.segment.pk),
    "segments:export": get(Access.SIGNED_IN, lambda w: w.segment.pk),
    "segments:delete": post(Access.MANAGERS, lambda w: w.segment.pk),
    # -- Analytics ----------------------------------------------------------------------
    "analytics:dashboard": get(Access.SIGNED_IN),
    "analytics:nps": get(Access.SIGNED_IN),
    "analytics:recompute": post(Access.SIGNED_IN),
    "analytics:export": get(Access.SIGNED_IN, lambda w: "top_customers", prepare=_dashboard_first),
    # -- Accounts -----------------------------------------------------------------------
    "accounts:matrix": get(Access.SIGNED_IN),
    "accounts:companies": get(Access.SIGNED_IN),
    "accounts:classify": get(Access.PORTFOLIO, _company),
    "accounts:roles": get(Access.PORTFOLIO, _company),
    "accounts:role_edit": post(Access.PORTFOLIO, lambda w: w.role.pk),
    "accounts:role_delete": post(Access.PORTFOLIO, lambda w: w.role.pk),
    "accounts:plan": get(Access.PORTFOLIO, _company),
    "accounts:plan_review": post(Access.PORTFOLIO, _company),
    "accounts:initiative_new": get(Access.PORTFOLIO, _company),
    "accounts:initiative_edit": get(Access.PORTFOLIO, lambda w: w.initiative.pk),
    "accounts:initiative_status": post(Access.PORTFOLIO, lambda w: w.initiative.pk),
    "accounts:initiative_delete": post(Access.PORTFOLIO, lambda w: w.initiative.pk),
    "accounts:plans": get(Access.SIGNED_IN),
    # -- Agenda -------------------------------------------------------------------------
    "agenda:today": get(Access.SIGNED_IN),
    "agenda:week": get(Access.SIGNED_IN),
    "agenda:month": get(Access.SIGNED_IN),
    "agenda:day": get(Access.SIGNED_IN),
    "agenda:team": get(Access.MANAGERS),
    "agenda:task_new": get(Access.SIGNED_IN),
    "agenda:task_edit": get(Access.PORTFOLIO, lambda w: w.task.pk),
    "agenda:task_complete": get(Access.PORTFOLIO, lambda w: w.task.pk),
    "agenda:task_reschedule": post(Access.PORTFOLIO, lambda w: w.task.pk),
    "agenda:tasks_bulk": post(Access.SIGNED_IN),
    "agenda:handover": get(Access.SIGNED_IN),
    "agenda:handover_return": post(Access.OWN, lambda w: w.handover.pk),
    "agenda:calendar": get(Access.SIGNED_IN),
    # -- Loyalty ------------------------------------------------------------------------
    "loyalty:overview": get(Access.SIGNED_IN),
    "loyalty:tiers": get(Access.SIGNED_IN),
    "loyalty:tier_new": get(Access.MANAGERS),
    "loyalty:tier_edit": get(Access.MANAGERS, lambda w: w.tier.pk),
    "loyalty:tier_delete": post(Access.MANAGERS, lambda w: w.tier.pk),
    "loyalty:rewards": get(Access.SIGNED_IN),
    "loyalty:reward_new": get(Access.MANAGERS),
    "loyalty:reward_edit": get(Access.MANAGERS, lambda w: w.reward.pk),
    "loyalty:reward_delete": post(Access.MANAGERS, lambda w: w.reward.pk),
    "loyalty:contact": get(Access.PORTFOLIO, _secret),
    "loyalty:adjust": post(Access.PORTFOLIO_MANAGERS, _secret),
    "loyalty:redeem": post(Access.PORTFOLIO, _secret),
    # -- Service desk -------------------------------------------------------------------
    "desk:queue": get(Access.SIGNED_IN),
    "desk:new": get(Access.SIGNED_IN),
    "desk:ticket": get(Access.PORTFOLIO, lambda w: w.ticket.pk),
    "desk:reply": post(Access.PORTFOLIO, lambda w: w.ticket.pk),
    "desk:update": post(Access.PORTFOLIO, lambda w: w.ticket.pk),
    "desk:attachment": get(Access.PORTFOLIO, lambda w: w.attachment.pk),
    "desk:templates": get(Access.SIGNED_IN),
    "desk:template_new": get(Access.MANAGERS),
    "desk:template_edit": get(Access.MANAGERS, lambda w: w.template.pk),
    "desk:report": get(Access.SIGNED_IN),
    # -- Privacy (LGPD) -------------------------------------------------------------------
    "privacy:subject": get(Access.PORTFOLIO, _secret),
    "privacy:consent": post(Access.PORTFOLIO, _secret),
    "privacy:export_json": get(Access.PORTFOLIO, _secret),
    "privacy:export_csv": get(Access.PORTFOLIO, _secret),
    "privacy:erase": get(Access.PORTFOLIO_MANAGERS, _secret),
    "privacy:audit": get(Access.MANAGERS),
    # -- REST API (an API key: Authorization: Bearer …) ---------------------------------
    "api:contact_list": get(Access.API),
    "api:contact_get": get(Access.API_PORTFOLIO, _secret),
    "api:contact_upsert": post(
        Access.API_WRITE, data=lambda w: {"email": "nova.cliente@exemplo.com.br"}
    ),
    "api:contact_upsert_batch": post(
        Access.API_WRITE, data=lambda w: {"contacts": [{"email": "nova@exemplo.com.br"}]}
    ),
    "api:event_append_batch": post(Access.API_WRITE, data=_event),
    "api:order_upsert_batch": post(Access.API_WRITE, data=_order),
    "api:referral_create": post(
        Access.API_WRITE,
        data=lambda w: {"referrer_code": w.referral.code, "contact": "ext-bento"},
    ),
    "api:balance_read": get(Access.API_PORTFOLIO, lambda w: w.secret.external_id),
    "api:ticket_create": post(
        Access.API_WRITE,
        data=lambda w: {"contact": "ext-bento", "subject": "Dúvida", "body": "Olá"},
    ),
    "api:ticket_read": get(Access.API_PORTFOLIO, lambda w: w.ticket.pk),
    "api:message_add": post(Access.API_WRITE, lambda w: w.ticket.pk, data=lambda w: {"body": "Oi"}),
}


# -- The URL patterns ----------------------------------------------------------------------


def _patterns(
    patterns: list[Any], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str]]:
    """(route, name) of every URL pattern, recursively; names carry their namespaces."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(n for n in (namespace, pattern.namespace or "") if n)
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield prefix + str(pattern.pattern), name or ""


def url_patterns() -> list[tuple[str, str]]:
    """Every URL pattern but Django's admin site (staff only, by Django: see
    test_the_admin_site_sends_agents_to_its_own_login)."""
    return [
        (route, name)
        for route, name in _patterns(get_resolver().url_patterns)
        if not route.startswith("admin/")
    ]


WEBHOOKS = sorted(name for _route, name in url_patterns() if name.startswith("anymail:"))
for _name in WEBHOOKS:
    MATRIX[_name] = post(Access.WEBHOOK, why="the e-mail provider's webhook: the shared secret")


def test_every_url_pattern_has_its_place_in_the_matrix() -> None:
    patterns = url_patterns()
    unnamed = [route for route, name in patterns if not name]
    names = [name for _route, name in patterns]
    assert not unnamed, f"name these URL patterns, then classify them: {unnamed}"
    assert len(names) == len(set(names)), "two URL patterns share a name"
    unclassified = sorted(set(names) - set(MATRIX))
    assert not unclassified, f"classify these URL patterns in MATRIX and docs: {unclassified}"
    assert not set(MATRIX) - set(names), "MATRIX lists URL patterns that no longer exist"


def test_the_security_document_lists_every_url_pattern() -> None:
    written = DOCS.read_text("utf-8")
    missing = [
        name
        for name in MATRIX
        if f"`{name}`" not in written
        and not (name.startswith("anymail:") and "`anymail:*`" in written)
    ]
    assert not missing, f"docs/security.md does not say who may open {missing}"


# -- The world: one of everything, built once for the module --------------------------------


@pytest.fixture(scope="module")
def world(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The objects every case asks for, in a transaction of the module's own that is
    rolled back at the end; each test runs in a savepoint inside it (pytest-django's
    `db`), so what one test changes (a deletion, a revoked key) the next does not see."""
    media = override_settings(MEDIA_ROOT=str(tmp_path_factory.mktemp("media")))
    with media, ExitStack() as undo:
        with django_db_blocker.unblock():
            outer = transaction.atomic()
            outer.__enter__()
        undo.callback(_roll_back, outer, django_db_blocker)
        with django_db_blocker.unblock():
            built = world_build()
            for role, attribute in USERS.items():  # a session per role, for every test
                client = Client()
                client.force_login(getattr(built, attribute))
                SESSIONS[role] = client.cookies[django_settings.SESSION_COOKIE_NAME].value
        yield built
    SESSIONS.clear()
    CLIENTS.clear()


def _roll_back(outer: Any, django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


@pytest.fixture
def own(settings: Any, world: World, db: None) -> World:
    """Private portfolios: agents see their own contacts only."""
    settings.PORTFOLIO_VISIBILITY = "own"
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    settings.REGUA_METRICS_TOKEN = "metrics-token"
    return world


CLIENTS: dict[tuple[str, bool, bool], Client] = {}


def client_as(role: str, world: World, access: Access) -> Client:
    """The client of a role: its session, or for the API its user's key.

    Clients are kept for the module (each loads the middleware once, a third of a
    request's cost here) and start every test with only their session cookie."""
    api, webhook = access in API_CLASSES and role != "anonymous", access == Access.WEBHOOK
    key = (role, api, webhook)
    if key not in CLIENTS:
        headers = {"Authorization": f"Bearer {world.tokens[role]}"} if api else {}
        CLIENTS[key] = Client(raise_request_exception=not webhook, headers=headers)
    client = CLIENTS[key]
    client.cookies = SimpleCookie()
    if role != "anonymous" and not api:
        client.cookies[django_settings.SESSION_COOKIE_NAME] = SESSIONS[role]
    return client


def ask(client: Client, case: Case, world: World, name: str) -> HttpResponseBase:
    path = case.path(world) if case.path else reverse(name, args=case.args(world))
    if case.prepare:
        case.prepare(client, world)
    if case.access in API_CLASSES and case.method == "post":
        return client.post(path, json.dumps(case.data(world)), content_type="application/json")
    if case.method == "post":
        return client.post(path, case.data(world))
    return client.get(path, case.query(world))


def body_of(response: HttpResponseBase) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    else:
        content = response.content  # type: ignore[attr-defined]
    return content.decode("utf-8", "replace")


def check(response: HttpResponseBase, expected: str | int, case: Case) -> None:
    status = response.status_code
    where = response.get("Location", "")
    if expected == LOGIN_FIRST:
        assert status == 302 and where.startswith(LOGIN), (status, where)
    elif expected == REFUSED:
        assert status >= 400, status
    elif expected == OK:
        assert status not in (401, 403, 404, 405) and status < 500, status
        if case.access != Access.PUBLIC:  # signing out lands on the login page, rightly
            assert not where.startswith(LOGIN), f"a signed-in user was sent to {where}"
    else:
        assert status == expected, (status, where)


def cases() -> Iterator[Any]:
    for name, case in MATRIX.items():
        # A webhook takes the provider's secret, not a session: one signed-in role shows it.
        for role in ["anonymous", "admin"] if case.access == Access.WEBHOOK else ROLES:
            yield pytest.param(name, role, id=f"{name}-{role}")


@pytest.mark.parametrize(("name", "role"), list(cases()))
def test_each_role_gets_what_the_matrix_says(name: str, role: str, own: World) -> None:
    # given the URL's case and the role's client
    case = MATRIX[name]
    client = client_as(role, own, case.access)
    # when the role asks for it
    response = ask(client, case, own, name)
    # then the answer is the matrix's
    check(response, EXPECTED[case.access][role], case)
    # and no page the teammate gets shows the owner's private contact
    if role == "teammate" and response.status_code == 200 and case.access != Access.PUBLIC:
        assert SECRET not in body_of(response).lower()


@pytest.mark.parametrize(
    "name",
    [
        name
        for name, case in MATRIX.items()
        if case.access in (Access.PORTFOLIO, Access.API_PORTFOLIO)
    ],
)
def test_with_shared_portfolios_a_teammate_opens_the_owners_objects(
    name: str, own: World, settings: Any
) -> None:
    # given portfolios visible to the whole team (the default)
    settings.PORTFOLIO_VISIBILITY = "all"
    case = MATRIX[name]
    # when the teammate asks for the owner's object
    response = ask(client_as("teammate", own, case.access), case, own, name)
    # then it is there
    check(response, OK, case)


# -- What a private portfolio hides, page by page (with the pages' own positive control) --


@dataclass(frozen=True)
class Listing:
    """A list, search, export or report; `bobs` is what Bob's answer must show (his own
    contact, or a shared company), so that an empty or broken page cannot pass."""

    name: str
    args: Callable[[World], list[Any]] = lambda w: []
    query: Callable[[World], dict[str, Any]] = lambda w: {}
    bobs: str = BOBS
    prepare: Callable[[Client, World], None] | None = None


def _in_recife(w: World) -> dict[str, Any]:
    return {"segment": w.segment.pk}


LISTINGS = [
    Listing("customers:contact_list"),
    # The search box: the page repeats the words searched for, so search the first name.
    Listing("customers:contact_list", query=lambda w: {"q": "zuleica"}, bobs=""),
    Listing("customers:contact_list", query=lambda w: {"city": "Recife"}),
    Listing("customers:company_list", bobs="compartilhada"),
    Listing("customers:company_detail", lambda w: [w.shared.pk]),
    Listing("accounts:companies", bobs="compartilhada"),
    Listing("accounts:roles", lambda w: [w.shared.pk], query=lambda w: {"q": "Recife"}),
    Listing("accounts:plans", bobs=""),
    Listing("segments:members", lambda w: [w.segment.pk]),
    Listing("segments:export", lambda w: [w.segment.pk]),
    Listing("analytics:dashboard"),
    Listing("analytics:dashboard", query=_in_recife),
    Listing("analytics:nps"),
    Listing("analytics:nps", query=_in_recife),
    Listing("analytics:export", lambda w: ["top_customers"], prepare=_dashboard_first),
    Listing("desk:queue", bobs=""),
    Listing("desk:queue", query=lambda w: {"q": "atrasado"}, bobs=""),
    Listing("imports:list", bobs=""),
    Listing("cadences:outbox"),
    Listing("cadences:preview", lambda w: [w.previewed.key], query=lambda w: {"period": "past"}),
]


@pytest.mark.parametrize(
    "listing", LISTINGS, ids=[f"{item.name}-{n}" for n, item in enumerate(LISTINGS)]
)
def test_a_private_contact_shows_to_managers_but_not_to_a_teammate(
    listing: Listing, own: World
) -> None:
    path = reverse(listing.name, args=listing.args(own))
    pages = {}
    for role in ("manager", "teammate"):
        client = client_as(role, own, Access.SIGNED_IN)
        if listing.prepare:
            listing.prepare(client, own)
        response = client.get(path, listing.query(own))
        assert response.status_code == 200, (role, response.status_code)
        pages[role] = body_of(response).lower()
    assert SECRET in pages["manager"]
    assert SECRET not in pages["teammate"]
    assert listing.bobs in pages["teammate"]


@pytest.mark.parametrize(
    ("query", "bobs"), [({}, 1), ({"q": "sigilosa"}, 0), ({"owner": "ALICE"}, 0)]
)
def test_an_agents_key_lists_and_searches_the_agents_portfolio_only(
    query: dict[str, str], bobs: int, own: World
) -> None:
    query = {k: str(own.alice.pk) if v == "ALICE" else v for k, v in query.items()}
    found = {}
    for role in ("manager", "teammate"):
        response = client_as(role, own, Access.API).get(reverse("api:contact_list"), query)
        found[role] = {item["email"] for item in response.json()["items"]}
    assert own.secret.email in found["manager"]
    assert own.secret.email not in found["teammate"]
    assert len(found["teammate"] & {own.bobs.email}) == bobs


def test_a_teammates_dossier_does_not_name_the_owners_contact_at_a_shared_company(
    own: World,
) -> None:
    # given Bento (Bob's) and Zuleica (Alice's) both on Empresa Compartilhada's power map
    path = reverse("customers:contact_detail", args=[own.bobs.pk])
    # when Bob opens his own contact's dossier
    page = body_of(client_as("teammate", own, Access.SIGNED_IN).get(path)).lower()
    # then its power map shows his people, not Alice's
    assert "compartilhada" in page and BOBS in page
    assert SECRET not in page


def test_a_teammate_cannot_reach_the_owners_objects_through_parameters(own: World) -> None:
    bob = client_as("teammate", own, Access.SIGNED_IN)
    assert bob.get(reverse("agenda:today"), {"user": own.alice.pk}).status_code == 403
    assert bob.get(reverse("agenda:week"), {"user": "none"}).status_code == 403
    assert bob.get(reverse("agenda:task_new"), {"contact": own.secret.pk}).status_code == 404
    assert bob.get(reverse("agenda:task_new"), {"company": own.company.pk}).status_code == 404
    assert bob.get(reverse("desk:new"), {"contact": own.secret.pk}).status_code == 404
    roles = reverse("accounts:roles", args=[own.shared.pk])
    added = bob.post(roles, {"contact": own.secret.pk, "role": "influencer"})
    assert added.status_code == 404
    shared_role = own.secret.roles.get(company=own.shared)
    assert bob.post(reverse("accounts:role_delete", args=[shared_role.pk])).status_code == 404
    assert own.secret.roles.filter(company=own.shared).exists()


def test_a_teammates_import_does_not_change_the_owners_contacts(
    own: World, django_capture_on_commit_callbacks: Any
) -> None:
    # given a file that names Alice's private contact
    csv = b"email;cidade\nzuleica.sigilosa@exemplo.com.br;Natal\n"
    upload = SimpleUploadedFile("clientes.csv", csv, content_type="text/csv")
    # when Bob imports it
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as("teammate", own, Access.SIGNED_IN).post(
            reverse("imports:list"), {"kind": "contacts", "file": upload}
        )
    # then the contact is as Alice left it, and Bob is told why
    assert Contact.objects.get(pk=own.secret.pk).city == "Recife"
    assert response.status_code == 403


# -- Django's admin site, the API's keys, the public links, the webhooks, the metrics ----


def test_the_admin_site_sends_agents_and_managers_to_its_own_login(own: World) -> None:
    for role in ("owner", "manager"):
        response = client_as(role, own, Access.SIGNED_IN).get("/admin/")
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert client_as("admin", own, Access.SIGNED_IN).get("/admin/").status_code == 200


def test_an_api_key_acts_as_its_user_until_it_is_revoked(own: World) -> None:
    path = reverse("api:contact_get", args=[own.secret.pk])
    token = own.tokens["owner"]
    assert Client(headers={"X-API-Key": token}).get(path).status_code == 200
    assert Client(headers={"Authorization": f"Bearer {token}x"}).get(path).status_code == 401
    assert Client(headers={"Authorization": "Bearer rg_abc_def"}).get(path).status_code == 401
    # a signed-in session works too (the interactive docs), with the same portfolio rule
    assert client_as("teammate", own, Access.SIGNED_IN).get(path).status_code == 404
    client_as("owner", own, Access.SIGNED_IN).post(
        reverse("users:api_key_revoke", args=[own.alice_key.pk])
    )
    assert Client(headers={"Authorization": f"Bearer {token}"}).get(path).status_code == 401


TOKEN_LINKS = [
    "cadences:click",
    "cadences:unsubscribe",
    "cadences:survey",
    "loyalty:public_page",
    "agenda:feed",
    "desk_public:rating",
]


@pytest.mark.parametrize("name", TOKEN_LINKS)
def test_a_public_link_with_a_forged_token_is_not_found(name: str, own: World) -> None:
    case = MATRIX[name]
    assert case.path is not None
    real = case.path(own)
    # one character of the token's signature changed (the token: the longest part)
    parts = real.split("/")
    token = max(parts, key=len)
    changed = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    forged = "/".join(changed if part == token else part for part in parts)
    assert Client().get(real, case.query(own)).status_code in (200, 302)
    assert Client().get(forged, case.query(own)).status_code == 404


def test_a_forged_open_pixel_records_nothing(own: World) -> None:
    forged = delivery_token(own, "open")[:-2] + "xx"
    response = Client().get(reverse("cadences:open", args=[forged]))
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    own.delivery.refresh_from_db()
    assert own.delivery.opened_at is None


def _postmark_bounce(email: str) -> str:
    return json.dumps(
        {
            "RecordType": "Bounce",
            "Type": "HardBounce",
            "TypeCode": 1,
            "Email": email,
            "BouncedAt": "2025-01-02T10:00:00Z",
            "Description": "The address does not exist",
            "MessageID": "00000000-0000-0000-0000-000000000000",
        }
    )


def _basic(credentials: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def test_provider_events_need_the_webhook_secret(own: World) -> None:
    url = reverse("anymail:postmark_tracking_webhook")
    body = _postmark_bounce(BOBS_EMAIL)
    # without the secret's credentials: refused, nothing suppressed
    refused = Client().post(url, body, content_type="application/json")
    wrong = Client(headers=_basic("regua:outra")).post(url, body, content_type="application/json")
    assert refused.status_code == 400 and wrong.status_code == 400
    assert not Suppression.objects.filter(address=BOBS_EMAIL).exists()
    # with them: the bounce suppresses the address
    right = Client(headers=_basic(WEBHOOK_SECRET))
    assert right.post(url, body, content_type="application/json").status_code == 200
    assert Suppression.objects.filter(address=BOBS_EMAIL).exists()


def test_provider_events_are_ignored_while_no_secret_is_set(own: World, settings: Any) -> None:
    # given a deployment that has not set ANYMAIL_WEBHOOK_SECRET (anymail only warns)
    settings.ANYMAIL = {}
    url = reverse("anymail:postmark_tracking_webhook")
    # when anyone on the web posts a bounce for a customer's address
    with pytest.warns(Warning):
        response = Client().post(url, _postmark_bounce(BOBS_EMAIL), content_type="application/json")
    # then the provider gets its 200, and the address is not suppressed
    assert response.status_code == 200
    assert not Suppression.objects.filter(address=BOBS_EMAIL).exists()


def test_metrics_take_the_scrapers_token(own: World) -> None:
    url = reverse("ops:metrics")
    assert Client(headers={"Authorization": "Bearer metrics-token"}).get(url).status_code == 200
    assert Client(headers={"Authorization": "Bearer wrong"}).get(url).status_code == 401


def test_a_step_test_send_by_an_agent_sends_nothing(own: World) -> None:
    path = reverse("cadences:step_test", args=[own.cadence.key, own.step.key])
    assert client_as("owner", own, Access.SIGNED_IN).post(path).status_code == 403
    assert not mail.outbox


def test_an_agent_hands_over_only_their_own_work(own: World) -> None:
    # when Bob tries to hand Alice's portfolio to himself
    response = client_as("teammate", own, Access.SIGNED_IN).post(
        reverse("agenda:handover"),
        {"from_user": own.alice.pk, "to_user": own.bob.pk, "scope": "portfolio"},
    )
    # then the form refuses it, and Alice's contact stays hers
    assert response.status_code == 200 and response.context["form"].errors
    assert Contact.objects.get(pk=own.secret.pk).owner_id == own.alice.pk

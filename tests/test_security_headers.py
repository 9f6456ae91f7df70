"""Security headers and the Content-Security-Policy (docs/security.md §Headers).

The policy allows no inline script or style; the templates are read here for anything
that would need it (an inline <script>, an on*= handler, a style attribute or element),
and the pages are asked for their headers. tests/test_browser_csp.py opens the pages in
Chromium and fails on any violation the browser reports.
"""

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from support.access_world import World, delivery_token, loyalty_token, world_build

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(
    path
    for path in (ROOT / "regua").glob("*/templates/**/*.html")
    # E-mails are styled inline by necessity: they are shown only in the outbox's
    # sandboxed frame, under a policy of their own.
    if "/email/" not in path.as_posix()
)


@pytest.fixture
def world(db: None, settings: Any) -> World:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return world_build()


def directives(response: Any) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    parts = [part.strip().split() for part in policy.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


def public_pages(world: World) -> dict[str, str]:
    return {
        "login": reverse("login"),
        "password reset": reverse("password_reset"),
        "survey": reverse("cadences:survey", args=[delivery_token(world, "survey")]),
        "unsubscribe": reverse("cadences:unsubscribe", args=[delivery_token(world, "unsubscribe")]),
        "loyalty": reverse("loyalty:public_page", args=[loyalty_token(world)]),
        "help": reverse("faq:index"),
        "contact form": reverse("desk_public:contact"),
        "rating": world.rating_path,
    }


def staff_pages(world: World) -> dict[str, str]:
    return {
        "contacts": reverse("customers:contact_list"),
        "dossier": reverse("customers:contact_detail", args=[world.secret.pk]),
        "agenda": reverse("agenda:week"),
        "dashboard": reverse("analytics:dashboard"),
        "régua": reverse("cadences:detail", args=[world.cadence.key]),
        "two-factor": reverse("users:two_factor"),
        "api docs": "/api/docs",
    }


def test_every_page_sends_the_strict_policy_and_the_other_headers(
    world: World, client_for: Any
) -> None:
    anonymous, manager = Client(), client_for(world.manager)
    pages = [(anonymous, url) for url in public_pages(world).values()]
    pages += [(manager, url) for url in staff_pages(world).values()]
    for client, url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        policy = directives(response)
        assert policy["default-src"] == ["'self'"], url
        assert policy["script-src"] == ["'self'"], url
        assert policy["style-src"] == ["'self'"], url
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"], url
        assert policy["frame-ancestors"] == ["'none'"], url
        assert response["X-Frame-Options"] == "DENY", url
        assert response["X-Content-Type-Options"] == "nosniff", url
        assert response["Referrer-Policy"] in ("same-origin", "no-referrer"), url
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", url


def test_the_loyalty_page_keeps_its_token_from_other_sites(world: World) -> None:
    page = Client().get(reverse("loyalty:public_page", args=[loyalty_token(world)]))
    assert page["Referrer-Policy"] == "no-referrer"


def test_a_kept_email_is_framed_by_the_outbox_only_under_its_own_policy(
    world: World, client_for: Any
) -> None:
    world.outbox.html = '<p style="color:red">Olá</p>'
    world.outbox.save(update_fields=["html"])
    url = reverse("cadences:outbox_message", args=[world.outbox.pk])
    raw = client_for(world.manager).get(url, {"raw": "html"})
    policy = directives(raw)
    assert "sandbox" in policy and policy["default-src"] == ["'none'"]
    assert policy["style-src"] == ["'unsafe-inline'"] and policy["frame-ancestors"] == ["'self'"]
    assert "script-src" not in policy  # falls back to default-src 'none'
    assert raw["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT / "regua")))
def test_no_template_needs_inline_script_or_style(path: Path) -> None:
    text = path.read_text("utf-8")
    # <script> only with src, or holding data (type="application/json")
    for tag in re.findall(r"<script\b[^>]*>", text):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son[a-z]+\s*=", text), "an on*= event handler"
    assert not re.search(r"\sstyle\s*=", text), "a style attribute"
    assert "<style" not in text, "a <style> element"
    assert "hx-on" not in text and "js:" not in text, "htmx evaluating script"


def test_htmx_adds_no_inline_style_and_evaluates_nothing(client_for: Any, alice: Any) -> None:
    page = client_for(alice).get(reverse("customers:contact_list")).content.decode()
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'>', page)
    assert config and '"includeIndicatorStyles": false' in config.group(1)
    assert '"allowEval": false' in config.group(1)
    css = (ROOT / "regua/core/static/regua/regua.css").read_text()
    assert ".htmx-indicator" in css and ".htmx-request .htmx-indicator" in css


def test_check_deploy_finds_nothing_in_djangos_checks_for_a_production_install(
    tmp_path: Path,
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "REGUA_VAR_DIR": str(tmp_path),
        "REGUA_HTTPS": "true",
        "SECRET_KEY": "k" * 20 + "-Zq8#vT2!mW4$pR7&xN1*bL5^cH9@dF3%gJ6",
        "ALLOWED_HOSTS": "crm.loja.example",
        "REGUA_SITE_URL": "https://crm.loja.example",
        "EMAIL_BACKEND": "smtp",
        "DEFAULT_FROM_EMAIL": "Loja <contato@loja.example>",
        "REGUA_METRICS_TOKEN": "metrics-token",
    }
    run = subprocess.run(
        [sys.executable, "-m", "regua", "check-deploy", "--fail-level", "CRITICAL"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = run.stdout + run.stderr
    found = re.findall(r"\(([a-z_]+)\.([EW]\d+)\)", output)
    assert found, output  # Régua's own checks speak (SQLite, no worker yet): the run worked
    assert [f"{app}.{code}" for app, code in found if app != "regua"] == [], output

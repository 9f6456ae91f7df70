"""Stored XSS: HTML and script written into every text people can fill — contact names,
notes on contacts and tasks, ticket messages (typed, or arrived as an HTML e-mail),
reply templates, account plans, segments, réguas and their messages, the help centre,
loyalty tiers and rewards, an import's file name — reaches no page as active markup.
Pages escape it (Django's autoescaping, no |safe); the help centre's answers, the one
place that shows HTML built from someone's text, pass nh3; e-mails are shown in
sandboxed frames."""

import html
import re
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
import yaml
from anymail.inbound import AnymailInboundMessage
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from regua.accounts.services import account_plan_save, initiative_save
from regua.agenda.models import Task, TaskKind
from regua.cadences.models import OutboxMessage
from regua.cadences.yaml_io import cadence_import
from regua.customers.models import Company, Contact, ContactRole, Interaction
from regua.desk.inbound import ticket_from_email
from regua.desk.models import ReplyTemplate, Ticket
from regua.desk.services import ticket_open, ticket_reply
from regua.faq.models import Article
from regua.faq.models import Category as FaqCategory
from regua.imports.models import ImportJob
from regua.lib.html import clean_html, html_to_text
from regua.loyalty.models import Reward, Tier
from regua.segments.models import Segment
from regua.users.models import User

pytestmark = pytest.mark.django_db

# Each carries the word "xss", so a page that runs any of them is caught by looking for
# it in a script, an event handler or a javascript:/data: address.
PAYLOADS = [
    "<script>alert('xss1')</script>",
    "<img src=x onerror=alert('xss2')>",
    "<a href=\"javascript:alert('xss3')\">link</a>",
    "<svg onload=alert('xss4')><circle r=1 /></svg>",
    "<div style=\"background:url(javascript:alert('xss5'))\">styled</div>",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgneHNzNicpPC9zY3JpcHQ+">xss6</a>',
    "\"><script>alert('xss7')</script>",
    "'><img src=x onerror=alert('xss8')>",
    "<iframe src=\"javascript:alert('xss9')\"></iframe>",
    "[clique](javascript:alert('xss10'))",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('xss11')>",
    "<object data=\"data:text/html,<script>alert('xss12')</script>\"></object>",
]
LONG = "\n\n".join(PAYLOADS)  # for text areas
SHORT = "<img src=x onerror=alert('xss')>"  # for names (they have a maximum length)
ACTIVE_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "style", "base", "form"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "background"}


class _ActiveMarkup(HTMLParser):
    """Collects what would run in a browser: a script, an event handler or a
    javascript:/data: address that comes from the payloads (which all say xss), and a
    frame's srcdoc document, checked the same way."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # A script that is data (json_script) runs nothing: its text is not checked.
        data = tag == "script" and ("type", "application/json") in attrs
        self.open.append("data" if data else tag)
        for name, raw in attrs:
            value = (raw or "").strip().lower()
            address = value.replace(" ", "").replace("\t", "").replace("\n", "")
            handler = name.startswith("on") and ("xss" in value or "alert" in value)
            if handler or (
                name in URL_ATTRIBUTES and address.startswith(("javascript:", "data:text"))
            ):
                self.found.append(f"<{tag} {name}={value}>")
            elif name == "style" and "javascript:" in address:
                self.found.append(f"<{tag} style={value}>")
            elif name == "srcdoc":
                self.found.extend(active_markup(raw or ""))  # a frame's own document
        attributes = [(name, value) for name, value in attrs if name != "srcdoc"]
        if tag in ACTIVE_TAGS and "xss" in str(attributes).lower():
            self.found.append(f"<{tag} {attributes}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if self.open and self.open[-1] in {"script", "style"} and "xss" in data.lower():
            self.found.append(f"<{self.open[-1]}>{data[:60]}")


def active_markup(page: str) -> list[str]:
    parser = _ActiveMarkup()
    parser.feed(page)
    parser.close()
    return parser.found


def test_the_checker_would_see_each_payload_if_a_page_showed_it_raw() -> None:
    # all but the markdown-style link (text anywhere but in markup that makes links) and
    # the parser-confusion one (the sanitiser's test below is its check)
    for payload in PAYLOADS[:9] + PAYLOADS[11:]:
        assert active_markup(f"<p>{payload}</p>"), payload
    assert active_markup(f"<p>{html.escape(LONG)}</p>") == []


# -- The sanitiser ------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_clean_html_leaves_nothing_active(payload: str) -> None:
    cleaned = clean_html(f"<p>Olá {payload} tchau</p>")

    assert active_markup(cleaned) == []
    assert "<script" not in cleaned and "onerror=" not in cleaned and '="javascript' not in cleaned
    assert "Olá" in cleaned  # the text around stays (inside a dropped <style>, it goes)


def test_clean_html_keeps_formatting_and_safe_links() -> None:
    markup = (
        '<p>Veja <a href="https://loja.example/ajuda" title="Ajuda" target="_blank">a ajuda</a>'
        ' ou <a href="mailto:oi@loja.example">escreva</a>.</p><ul><li><strong>Pix</strong></li>'
        "</ul><!-- nota --><p style='color:red' class='x'>fim</p>"
    )

    assert clean_html(markup) == (
        '<p>Veja <a href="https://loja.example/ajuda" title="Ajuda" rel="nofollow">a ajuda</a>'
        ' ou <a href="mailto:oi@loja.example" rel="nofollow">escreva</a>.</p><ul><li>'
        "<strong>Pix</strong></li></ul><p>fim</p>"
    )


def test_an_html_email_becomes_its_text_without_scripts_or_styles() -> None:
    markup = (
        "<html><head><style>p { color: red }</style><script>alert('xss')</script></head>"
        "<body><p>Olá,</p><p>meu pedido <b>10482</b> não chegou &amp; já&nbsp;faz 3 dias."
        "<br>Obrigada</p><div>Ana</div></body></html>"
    )

    assert html_to_text(markup) == (
        "Olá,\n\nmeu pedido 10482 não chegou & já\xa0faz 3 dias.\nObrigada\n\nAna"
    )


# -- The pages ----------------------------------------------------------------------------


@pytest.fixture
def hostile(db: None, manager: User, settings: Any, tmp_path: Any) -> dict[str, Any]:
    """One of everything with a text field, every text field a payload."""
    settings.MEDIA_ROOT = tmp_path
    settings.PORTFOLIO_VISIBILITY = "all"
    today = timezone.localdate()
    contact = Contact.objects.create(
        first_name=SHORT, last_name=SHORT, email="xss@exemplo.com.br", city=SHORT, owner=manager
    )
    Interaction.objects.create(
        contact=contact,
        kind="note",
        subject=SHORT,
        body=LONG,
        outcome=SHORT,
        occurred_at=timezone.now() - timedelta(hours=1),
        author=manager,
    )
    company = Company.objects.create(name=SHORT, owner=manager)
    ContactRole.objects.create(contact=contact, company=company, role="decision_maker")
    plan = account_plan_save(
        company=company, objective=LONG, owner=manager, review_on=today, by=manager
    )
    initiative_save(
        plan=plan, title=SHORT, description=LONG, owner=manager, starts_on=None, due_on=today
    )
    task = Task.objects.create(
        kind=TaskKind.CALL, title=SHORT, notes=LONG, contact=contact, owner=manager, due_on=today
    )
    ticket = ticket_open(contact=contact, subject=SHORT, body=LONG, by=manager)
    ticket_reply(ticket, by=manager, body=LONG)
    template = ReplyTemplate.objects.create(name=SHORT, body_pt=LONG)
    segment = Segment.objects.create(name=SHORT, description=LONG)
    document = {
        "key": "hostil",
        "name": SHORT,
        "description": LONG,
        "objective": "conversion",
        "trigger": {"kind": "manual"},
        "steps": [
            {
                "key": "oi",
                "name": SHORT,
                "offset": 0,
                "channel": "email",
                # (the editor refuses a [label](javascript:…) link: the rest is text)
                "message": {"pt-br": {"subject": SHORT, "body": LONG.replace(PAYLOADS[9], "")}},
            }
        ],
    }
    cadence, _created = cadence_import(yaml.safe_dump(document, allow_unicode=True))
    outbox = OutboxMessage.objects.create(
        channel="email",
        to="xss@exemplo.com.br",
        subject=SHORT,
        text=LONG,
        html=f"<html><body>{LONG}</body></html>",
        headers={"From": SHORT},
    )
    category = FaqCategory.objects.create(name=SHORT, position=1)
    article = Article.objects.create(question=SHORT, answer=LONG, category=category, published=True)
    tier = Tier.objects.create(name=SHORT, slug="xss", min_spend_12m=Decimal("100"), benefits=LONG)
    reward = Reward.objects.create(name=SHORT, description=LONG, points_cost=10)
    job = ImportJob.objects.create(
        kind="contacts",
        original_name=SHORT + ".csv",
        status="done",
        errors=[{"line": 2, "field": SHORT, "message": LONG}],
        created_by=manager,
    )
    return {
        "contact": contact,
        "company": company,
        "task": task,
        "ticket": ticket,
        "template": template,
        "segment": segment,
        "cadence": cadence,
        "outbox": outbox,
        "article": article,
        "tier": tier,
        "reward": reward,
        "job": job,
    }


SIGNED_IN_PAGES = [
    ("customers:contact_list", lambda w: [], {}),
    ("customers:contact_list", lambda w: [], {"q": SHORT}),
    ("customers:contact_detail", lambda w: [w["contact"].pk], {}),
    ("customers:contact_timeline", lambda w: [w["contact"].pk], {}),
    ("customers:company_list", lambda w: [], {}),
    ("customers:company_detail", lambda w: [w["company"].pk], {}),
    ("accounts:plan", lambda w: [w["company"].pk], {}),
    ("accounts:plans", lambda w: [], {}),
    ("accounts:roles", lambda w: [w["company"].pk], {}),
    ("agenda:today", lambda w: [], {}),
    ("agenda:week", lambda w: [], {}),
    ("agenda:task_edit", lambda w: [w["task"].pk], {}),
    ("desk:queue", lambda w: [], {}),
    ("desk:ticket", lambda w: [w["ticket"].pk], {}),
    ("desk:ticket", lambda w: [w["ticket"].pk], {"template": "{template}"}),
    ("desk:templates", lambda w: [], {}),
    ("desk:template_edit", lambda w: [w["template"].pk], {}),
    ("segments:list", lambda w: [], {}),
    ("segments:edit", lambda w: [w["segment"].pk], {}),
    ("cadences:list", lambda w: [], {}),
    ("cadences:detail", lambda w: [w["cadence"].key], {}),
    ("cadences:step", lambda w: [w["cadence"].key, "oi"], {}),
    ("cadences:outbox", lambda w: [], {}),
    ("cadences:outbox_message", lambda w: [w["outbox"].pk], {}),
    ("loyalty:tiers", lambda w: [], {}),
    ("loyalty:rewards", lambda w: [], {}),
    ("loyalty:contact", lambda w: [w["contact"].pk], {}),
    ("imports:list", lambda w: [], {}),
    ("imports:detail", lambda w: [w["job"].pk], {}),
    ("analytics:dashboard", lambda w: [], {}),
]


@pytest.mark.parametrize(
    ("name", "args", "query"),
    SIGNED_IN_PAGES,
    ids=[f"{name}{'?' + next(iter(q)) if q else ''}" for name, _a, q in SIGNED_IN_PAGES],
)
def test_no_staff_page_shows_the_payloads_as_markup(
    hostile: dict[str, Any], client_for: Any, manager: User, name: str, args: Any, query: Any
) -> None:
    query = {k: v.format(template=hostile["template"].pk) for k, v in query.items()}
    response = client_for(manager).get(reverse(name, args=args(hostile)), query)

    assert response.status_code == 200
    page = response.content.decode()
    assert active_markup(page) == []
    # the text is there, escaped, for the reader to see (not silently dropped)
    if "xss" in page:
        assert "&lt;img src=x onerror=alert(" in page or "&lt;script&gt;" in page


def test_the_help_centre_article_shows_the_answer_without_active_markup(
    hostile: dict[str, Any],
) -> None:
    response = Client().get(reverse("faq:article", args=[hostile["article"].slug]))

    assert response.status_code == 200
    page = response.content.decode()
    assert active_markup(page) == []
    assert "&lt;script&gt;alert(" in page  # shown as the text it is


def test_a_reguas_yaml_downloads_as_a_file_not_a_page(
    hostile: dict[str, Any], client_for: Any, manager: User
) -> None:
    response = client_for(manager).get(reverse("cadences:yaml", args=[hostile["cadence"].key]))

    assert response["Content-Type"].startswith("application/yaml")
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_outbox_shows_an_email_only_in_a_frame_that_runs_no_script(
    hostile: dict[str, Any], client_for: Any, manager: User
) -> None:
    url = reverse("cadences:outbox_message", args=[hostile["outbox"].pk])
    client = client_for(manager)
    page = client.get(url).content.decode()
    frame = re.search(r"<iframe[^>]*>", page)
    assert frame is not None
    assert "sandbox=" in frame.group(0)
    assert "allow-scripts" not in frame.group(0) and "allow-same-origin" not in frame.group(0)
    # the e-mail's own document, if opened by itself, is sandboxed by its policy too
    raw = client.get(url, {"raw": "html"})
    policy = raw["Content-Security-Policy"]
    assert policy.startswith("sandbox") and "allow-scripts" not in policy
    assert "script-src" not in policy and "default-src 'none'" in policy


def test_a_test_send_shows_the_rendered_email_escaped_in_a_sandboxed_frame(
    hostile: dict[str, Any], client_for: Any, manager: User, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    cadence = hostile["cadence"]

    response = client_for(manager).post(
        reverse("cadences:step_test", args=[cadence.key, "oi"]),
        {"contact": hostile["contact"].pk},
    )

    page = response.content.decode()
    frame = re.search(r"<iframe[^>]*>", page)
    assert frame is not None and " sandbox " in frame.group(0)
    assert "allow-scripts" not in frame.group(0)
    # the frame's document: the message, every payload in it written out as text
    srcdoc = html.unescape(re.search(r'srcdoc="([^"]*)"', frame.group(0)).group(1))
    assert "&lt;script&gt;alert(" in srcdoc
    assert active_markup(srcdoc) == []
    assert active_markup(page) == []


def test_an_html_email_to_the_desk_becomes_text_and_shows_no_markup(
    client_for: Any, manager: User, settings: Any
) -> None:
    settings.PORTFOLIO_VISIBILITY = "all"
    message = AnymailInboundMessage.construct(
        from_email="Ana <ana@cliente.com.br>",
        to="suporte@loja.example",
        subject="Pedido",
        html=(
            "<style>p{color:red}</style><p>Meu pedido não chegou.</p>"
            f"<script>alert('xss')</script>{''.join(PAYLOADS)}"
        ),
    )

    ticket = ticket_from_email(message)

    assert ticket is not None
    body = Ticket.objects.get(pk=ticket.pk).messages.get().body
    assert body.startswith("Meu pedido não chegou.")
    assert "alert('xss')" not in body and "color:red" not in body  # scripts and styles went
    page = client_for(manager).get(reverse("desk:ticket", args=[ticket.pk])).content.decode()
    assert "Meu pedido não chegou." in page
    assert active_markup(page) == []


def test_the_public_contact_form_echoes_what_was_typed_as_text(db: None) -> None:
    response = Client().post(
        reverse("desk_public:contact"),
        {"name": SHORT, "email": "nao-e-email", "subject": SHORT, "body": LONG, "kind": "x"},
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert active_markup(page) == []

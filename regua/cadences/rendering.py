"""Cadence messages: check a template when it is saved, render it when it is sent.

A message is Jinja2 run in a sandbox with strict undefined variables (docs/cadences.md lists
the variables), and its body carries two pieces of markup: a blank line starts a paragraph
and `[label](url)` is a link. The editor and `regua cadence import` call `check_message`; the
sender calls `render_message`. Both go through the same compiled templates, so a message that
passes the check renders the same way for a real contact.
"""

import functools
import html
import re
import traceback
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, cast
from zoneinfo import ZoneInfo

import jinja2
import jinja2.meta
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from .sandbox import MAX_OUTPUT_CHARS, Record, environment, refuse_internals, step_budget

LANGUAGES = ("pt-br", "en")
CHANNELS = ("email", "sms", "whatsapp", "task", "webhook")
CHANNELS_WITH_SUBJECT = {"email", "task"}
LAYOUT_TEMPLATE = "cadences/email/layout.html"

# Variables the real context may leave empty (a contact without a company, an enrollment
# not started by an event...); the check renders once with each of them set to None.
OPTIONAL_VARIABLES = ("company", "owner", "last_order", "event", "scores")
# Dictionaries whose keys differ from contact to contact: a missing key renders empty
# rather than failing, or no template could use a custom attribute (the sample cannot
# know them).
OPEN_ENDED = {"contact.attributes", "event.properties"}
# Operators say 160 characters per SMS part; three parts is as long as a message may get.
SMS_MAX_CHARS = 480

# [label](url); the url may hold one level of parentheses, as Wikipedia's and
# `javascript:alert(1)` do (the first to work, the second to be recognised and refused).
LINK = re.compile(r"\[([^\[\]\n]+)\]\(((?:[^()\s]|\([^()\s]*\))+)\)")
# Whatever looks like the start of a link, to refuse targets LINK would leave as text.
LINK_START = re.compile(r"\[([^\[\]\n]+)\]\(\s*([^)\s]*)")
SAFE_URL = re.compile(r"https?://\S", re.IGNORECASE)
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")

LINK_STYLE = "color:#1d4ed8;text-decoration:underline;"
BUTTON_STYLE = (
    "display:inline-block;padding:12px 24px;background:#1d4ed8;color:#ffffff;"
    "border-radius:6px;text-decoration:none;font-weight:600;"
)
PARAGRAPH_STYLE = "margin:0 0 16px;"


@dataclass(frozen=True)
class Rendered:
    subject: str  # "" for sms/whatsapp/webhook
    text: str  # plain text: body with links written as "label: url"
    html: str  # full e-mail HTML through the brand layout (email only, else "")


@dataclass(frozen=True)
class TemplateProblem:
    field: str  # "pt-br.subject", "en.body", "message"...
    line: int | None  # 1-based line inside that field's template, when known
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.field}: {self.message}"
        return gettext("%(field)s, line %(line)d: %(message)s") % {
            "field": self.field,
            "line": self.line,
            "message": self.message,
        }


class RenderError(Exception):
    """A template failed for a real contact; `problem` says where and why."""

    def __init__(self, problem: TemplateProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class OutputTooLong(Exception):
    pass


# -- Filters ----------------------------------------------------------------------------


def brl(value: Decimal | float | int | str | None) -> str:
    """1234.56 → 'R$ 1.234,56'; -10 → '-R$ 10,00'; None → '' (an empty field, not an error).

    Always the Brazilian notation: amounts are reais whatever the contact's language. A plain
    space, not U+00A0, so an SMS stays in the GSM alphabet.
    """
    if value is None or value == "":
        return ""
    try:
        if isinstance(value, bool):
            raise TypeError
        amount = Decimal(str(value) if isinstance(value, float) else value)
    except (InvalidOperation, TypeError, ValueError):
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise TypeError(gettext("brl expects an amount, not %(value)r") % {"value": value})
    cents = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    digits = f"{abs(cents):,.2f}".translate(str.maketrans(",.", ".,"))
    return f"{'-' if cents < 0 else ''}R$ {digits}"


def date_br(value: date | datetime | str | None) -> str:
    """A date or datetime (or an ISO string, as event properties carry them) → dd/mm/aaaa."""
    if value is None or value == "":
        return ""
    moment: object = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if not isinstance(moment, date):
        raise TypeError(gettext("date_br expects a date, not %(value)r") % {"value": value})
    if isinstance(moment, datetime) and timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime("%d/%m/%Y")


# -- The context ----------------------------------------------------------------------


def _wrap(value: Any, path: str, label: str) -> Any:
    if isinstance(value, Mapping):
        return Record(
            {str(k): _wrap(v, f"{path}.{k}", f"'{path}.{k}'") for k, v in value.items()},
            label,
            path in OPEN_ENDED,
        )
    if isinstance(value, list | tuple):
        item_label = gettext("an item of %(path)s") % {"path": f"'{path}'"}
        return [_wrap(v, f"{path}[]", item_label) for v in value]
    return value


def _wrap_context(
    context: Mapping[str, Any], names: frozenset[str] | None = None
) -> dict[str, Any]:
    """The context as the sandbox reads it; only `names` when given (what the template
    reads), so a welcome that says the first name does not copy the last order."""
    return {
        name: _wrap(value, name, f"'{name}'")
        for name, value in context.items()
        if names is None or name in names
    }


def names_used(message: Mapping[str, Any]) -> frozenset[str] | None:
    """The context's top-level names that a message's texts read, in every language and
    variant; None when a text does not parse (the render then reports where)."""
    names: set[str] = set()
    for texts in message.values():
        if not isinstance(texts, Mapping):
            continue
        for source in texts.values():
            if isinstance(source, str):
                found = _names_in(source)
                if found is None:
                    return None
                names |= found
    return frozenset(names)


@functools.lru_cache(maxsize=1024)
def _names_in(source: str) -> frozenset[str] | None:
    try:
        return frozenset(jinja2.meta.find_undeclared_variables(environment().parse(source)))
    except jinja2.TemplateSyntaxError:
        return None


@functools.lru_cache(maxsize=1024)
def _compile(source: str, name: str) -> jinja2.Template:
    # The file name lets _line_of find this template's frame in a traceback; a template is
    # compiled once and then rendered for every contact of a batch.
    if len(source) > MAX_OUTPUT_CHARS:
        raise OutputTooLong(
            gettext("the template is longer than %(max)d characters") % {"max": MAX_OUTPUT_CHARS}
        )
    env = environment()
    code = env.compile(source, name=name, filename=_filename(name))
    return env.template_class.from_code(env, code, env.make_globals(None), None)


def _filename(name: str) -> str:
    return f"<{name}>"


def _render(source: str, name: str, context: Mapping[str, Any], *, wrapped: bool = False) -> str:
    """The template's text; raises what the template raised, its traceback pointing at it."""
    template = _compile(source, name)
    chunks: list[str] = []
    size = 0
    variables = context if wrapped else _wrap_context(context)
    # Template.generate is a generator (typed as an Iterator): closing it stops the template.
    generator = cast(Generator[str, None, None], template.generate(variables))
    with step_budget(), closing(generator) as generated:
        for chunk in generated:
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise OutputTooLong(
                    gettext("the text is longer than %(max)d characters once rendered")
                    % {"max": MAX_OUTPUT_CHARS}
                )
            chunks.append(chunk)
    return refuse_internals("".join(chunks))


def _problem(field: str, error: Exception) -> TemplateProblem:
    if isinstance(error, jinja2.TemplateSyntaxError):
        return TemplateProblem(field, error.lineno, error.message or str(error))
    if isinstance(error, jinja2.TemplateError):
        message = error.message or str(error)
    else:
        message = str(error) or type(error).__name__
    return TemplateProblem(field, _line_of(error, field), message)


def _line_of(error: BaseException, field: str) -> int | None:
    # Jinja rewrites tracebacks so that the template's own frames carry its file name and
    # line; the innermost of them is where the template failed.
    line = None
    for frame, lineno in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == _filename(field):
            line = lineno
    return line


# -- Body markup ------------------------------------------------------------------------


def _normalize(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return PARAGRAPH_BREAK.sub("\n\n", "\n".join(lines)).strip()


def _single_line(text: str) -> str:
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


def body_to_text(body: str) -> str:
    """A rendered body as plain text (SMS, WhatsApp, the e-mail's text part): links written out."""

    def written_out(match: re.Match[str]) -> str:
        label, url = match.group(1).strip(), match.group(2)
        return url if label == url else f"{label}: {url}"

    return LINK.sub(written_out, _normalize(body))


def body_to_html(body: str, track: Callable[[str], str] | None = None) -> str:
    """A rendered body as e-mail HTML: everything escaped, then paragraphs, line breaks and
    links (a link alone on its line is a button). Links that are not http/https stay text."""
    paragraphs = _normalize(body).split("\n\n") if body.strip() else []
    return "\n".join(
        f'<p style="{PARAGRAPH_STYLE}">'
        + "<br>\n".join(_line_to_html(line, track) for line in paragraph.split("\n"))
        + "</p>"
        for paragraph in paragraphs
    )


def _line_to_html(line: str, track: Callable[[str], str] | None) -> str:
    alone = LINK.fullmatch(line.strip())
    if alone and SAFE_URL.match(alone.group(2)):
        return _anchor(alone, track, BUTTON_STYLE)
    parts: list[str] = []
    position = 0
    for match in LINK.finditer(line):
        parts.append(html.escape(line[position : match.start()]))
        if SAFE_URL.match(match.group(2)):
            parts.append(_anchor(match, track, LINK_STYLE))
        else:
            parts.append(html.escape(match.group(0)))
        position = match.end()
    parts.append(html.escape(line[position:]))
    return "".join(parts)


def _anchor(link: re.Match[str], track: Callable[[str], str] | None, style: str) -> str:
    url = track(link.group(2)) if track else link.group(2)
    return f'<a href="{html.escape(url)}" style="{style}">{html.escape(link.group(1).strip())}</a>'


# -- Sample context ---------------------------------------------------------------------


def sample_context() -> dict[str, Any]:
    """Every documented variable with realistic values: what templates are checked against."""
    today = timezone.localdate()
    birth_date = date(1991, 5, 12)
    age = today.year - birth_date.year - ((today.month, today.day) < (5, 12))
    return {
        "contact": {
            "first_name": "Mariana",
            "last_name": "Souza",
            "name": "Mariana Souza",
            "email": "mariana.souza@exemplo.com.br",
            "phone": "+55 11 98765-4321",
            "city": "São Paulo",
            "state": "SP",
            "gender": "F",
            "stage": "customer",
            "language": "pt-br",
            "birth_date": birth_date,
            "age": age,
            "tags": ["vip", "newsletter"],
            "attributes": {"plano": "ouro", "loja_preferida": "Pinheiros"},
        },
        "company": {"name": "Padaria Pão Dourado Ltda", "city": "Campinas"},
        "owner": {"name": "Rafael Lima", "email": "rafael.lima@lojaexemplo.com.br"},
        "last_order": {
            "number": "10482",
            "placed_at": datetime(2025, 3, 14, 15, 30, tzinfo=SAO_PAULO),
            "total": Decimal("1234.56"),
            "items": [
                {"name": "Café Especial Torrado 500 g", "quantity": 2, "price": Decimal("54.90")},
                {"name": "Cafeteira Italiana 6 xícaras", "quantity": 1, "price": Decimal("189.90")},
            ],
        },
        "recommended_products": [
            {
                "name": "Moedor de Café Manual",
                "price": Decimal("149.90"),
                "url": "https://www.lojaexemplo.com.br/p/moedor-manual",
            },
            {
                "name": "Filtro de Papel 103 (100 un.)",
                "price": Decimal("12.50"),
                "url": "https://www.lojaexemplo.com.br/p/filtro-103",
            },
            {
                "name": "Caneca de Cerâmica 300 ml",
                "price": Decimal("39.00"),
                "url": "https://www.lojaexemplo.com.br/p/caneca-300",
            },
        ],
        "event": {"name": "signup", "properties": {"plan": "pro", "source": "site"}},
        "scores": {
            "rfm_segment": "loyal",
            "rfm_segment_name": "Clientes fiéis",
            "r": 4,
            "f": 4,
            "m": 5,
            "activity": "vip",
            "purchases": 9,
            "spend": Decimal("2310.40"),
            "clv": Decimal("845.10"),
            "p_alive": 0.93,
            "next_purchase_on": today + timedelta(days=12),
        },
        "loyalty": {
            "points": 1250,
            "tier": "Ouro",
            "tier_code": "ouro",
            "tier_benefits": "Frete grátis em todas as compras e 10% de desconto no aniversário.",
            "referral_code": "K7M2Q9XA",
            "referral_url": "https://regua.lojaexemplo.com.br/r/K7M2Q9XA",
            "page_url": "https://regua.lojaexemplo.com.br/l/3f9a2c/",
        },
        "links": {
            "site": "https://www.lojaexemplo.com.br/",
            "unsubscribe": "https://regua.lojaexemplo.com.br/u/3f9a2c/sair",
            "preferences": "https://regua.lojaexemplo.com.br/u/3f9a2c/preferencias",
            "survey": "https://regua.lojaexemplo.com.br/u/3f9a2c/pesquisa",
        },
        "brand": {"name": "Loja Exemplo", "site_url": "https://www.lojaexemplo.com.br/"},
        "today": today,
    }


# -- Checking ---------------------------------------------------------------------------


def check_message(channel: str, message: Any) -> list[TemplateProblem]:
    """What is wrong with a step's message, each with its field and line; [] when it is fine.

    Never raises: the editor shows the problems and the importer reports them.
    """
    if channel not in CHANNELS:
        return [TemplateProblem("channel", None, gettext("unknown channel %(c)r") % {"c": channel})]
    if not isinstance(message, Mapping):
        return [TemplateProblem("message", None, gettext("expected texts for each language"))]
    problems = []
    if "pt-br" not in message:
        problems.append(TemplateProblem("message", None, gettext("pt-br is required")))
    for language, texts in message.items():
        if language not in LANGUAGES:
            problems.append(
                TemplateProblem(
                    "message",
                    None,
                    gettext("unknown language %(language)r (use pt-br or en)")
                    % {"language": language},
                )
            )
        else:
            problems.extend(_check_language(channel, language, texts))
    return problems


def _check_language(channel: str, language: str, texts: Any) -> list[TemplateProblem]:
    if not isinstance(texts, Mapping):
        return [TemplateProblem(language, None, gettext("expected a subject and a body"))]
    allowed = ("subject", "subject_b", "body") if channel in CHANNELS_WITH_SUBJECT else ("body",)
    problems = [
        TemplateProblem(
            f"{language}.{key}",
            None,
            gettext("unknown key %(key)r for %(channel)s (expected: %(allowed)s)")
            % {"key": key, "channel": channel, "allowed": ", ".join(allowed)},
        )
        for key in texts
        if key not in allowed
    ]
    required = ("subject", "body") if channel in CHANNELS_WITH_SUBJECT else ("body",)
    for key in allowed:
        field, value = f"{language}.{key}", texts.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if key in required:
                problems.append(TemplateProblem(field, None, gettext("is required")))
        elif not isinstance(value, str):
            problems.append(TemplateProblem(field, None, gettext("must be text")))
        else:
            problems.extend(_check_template(channel, field, value))
    return problems


def _check_template(channel: str, field: str, source: str) -> list[TemplateProblem]:
    """Compile, render against the sample context, then with each optional variable empty."""
    try:
        _compile(source, field)
        rendered = _render(source, field, sample_context())
    except Exception as error:  # any failure of a user's template is a problem to report
        return [_problem(field, error)]
    problems = [_empty_variable_problem(field, source, name) for name in OPTIONAL_VARIABLES]
    found = [problem for problem in problems if problem is not None]
    if field.endswith(".body"):
        found.extend(_link_problems(field, source, rendered))
        text = body_to_text(rendered)
        if channel == "sms" and len(text) > SMS_MAX_CHARS:
            found.append(
                TemplateProblem(
                    field,
                    None,
                    gettext("an SMS may have up to %(max)d characters; this one has %(n)d")
                    % {"max": SMS_MAX_CHARS, "n": len(text)},
                )
            )
    return found


def _empty_variable_problem(field: str, source: str, name: str) -> TemplateProblem | None:
    context = sample_context()
    context[name] = None
    try:
        _render(source, field, context)
    except Exception as error:  # any failure here comes from the empty variable
        reason = _problem(field, error)
        message = gettext(
            "%(name)s is empty for some contacts: use it inside "
            "{%% if %(name)s %%}…{%% endif %%} (%(reason)s)"
        ) % {"name": name, "reason": reason.message}
        return TemplateProblem(field, reason.line, message)
    return None


def _link_problems(field: str, source: str, rendered: str) -> Iterator[TemplateProblem]:
    for start in LINK_START.finditer(rendered):
        link = LINK.match(rendered, start.start())
        label, url = (link or start).group(1), (link or start).group(2)
        if not SAFE_URL.match(url):
            yield TemplateProblem(
                field,
                _source_line(source, label, url),
                gettext("links must start with http:// or https://, not %(url)r") % {"url": url},
            )


def _source_line(source: str, label: str, url: str) -> int | None:
    # The rendered text's lines do not map to the template's; the link usually appears
    # as written, or at least its label, so look for it.
    for needle in (f"[{label}]({url}", f"[{label}]", f"]({url}"):
        for number, line in enumerate(source.splitlines(), start=1):
            if needle in line:
                return number
    return None


# -- Rendering --------------------------------------------------------------------------


def render_message(
    channel: str,
    message: Mapping[str, Any],
    language: str,
    context: Mapping[str, Any],
    *,
    variant: str = "a",
    track: Callable[[str], str] | None = None,
) -> Rendered:
    """A checked message for one contact: subject, plain text and (e-mail) the branded HTML.

    `language` falls back to pt-br when the message has no texts for it; `variant` "b" uses
    subject_b when there is one; `track` maps each link of the HTML to its tracked URL.
    Raises RenderError when the template fails for this contact.
    """
    if variant not in ("a", "b"):
        raise ValueError(f"variant must be 'a' or 'b', not {variant!r}")
    language = language.lower() if language.lower() in LANGUAGES else "pt-br"
    if not isinstance(message.get(language), Mapping):
        language = "pt-br"
    texts = message[language]
    wrapped = _wrap_context(context, names_used(message))  # once for subject and body
    subject = ""
    if channel in CHANNELS_WITH_SUBJECT:
        key = "subject_b" if variant == "b" and texts.get("subject_b") else "subject"
        subject = _single_line(_render_or_raise(texts[key], f"{language}.{key}", wrapped))
    body = _render_or_raise(texts["body"], f"{language}.body", wrapped)
    page = _email_html(subject, body, context, language, track) if channel == "email" else ""
    return Rendered(subject=subject, text=body_to_text(body), html=page)


def render_text(source: str, field: str, context: Mapping[str, Any]) -> str:
    """One template text rendered with `context` (the service desk's reply templates);
    raises RenderError with the field and line when it fails."""
    return _render_or_raise(source, field, _wrap_context(context))


def check_text(source: str, field: str, context: Mapping[str, Any]) -> list[TemplateProblem]:
    """What is wrong with one template text rendered against `context`; [] when fine."""
    try:
        _compile(source, field)
        _render(source, field, context)
    except Exception as error:  # any failure of a user's template is a problem to report
        return [_problem(field, error)]
    return []


def branded_html(subject: str, body: str, language: str) -> str:
    """A plain-text body in the brand's e-mail layout, without unsubscribe links: what a
    one-to-one message (a ticket reply) looks like."""
    brand = {"name": settings.REGUA_BRAND_NAME, "site_url": settings.REGUA_SITE_URL}
    return _email_html(subject, body, {"brand": brand}, language, None)


def _render_or_raise(source: str, field: str, wrapped: Mapping[str, Any]) -> str:
    try:
        return _render(source, field, wrapped, wrapped=True)
    except Exception as error:  # the sender records the reason; anything else is a bug
        raise RenderError(_problem(field, error)) from error


def _email_html(
    subject: str,
    body: str,
    context: Mapping[str, Any],
    language: str,
    track: Callable[[str], str] | None,
) -> str:
    brand = context.get("brand") or {}
    links = context.get("links") or {}
    site_url = str(brand.get("site_url") or "")
    unsubscribe = str(links.get("unsubscribe", ""))
    preferences = str(links.get("preferences", ""))
    page = _layout(
        language,
        str(brand.get("name", "")),
        site_url if SAFE_URL.match(site_url) else "",
        bool(unsubscribe),
        bool(preferences),
    )
    # The layout is rendered once per language and brand with markers in its slots;
    # each message fills them with its values, escaped as the template would escape them.
    # body_to_html escaped every value itself.
    return (
        page.replace(_SLOT_SUBJECT, escape(subject))
        .replace(_SLOT_UNSUBSCRIBE, escape(unsubscribe))
        .replace(_SLOT_PREFERENCES, escape(preferences))
        .replace(_SLOT_BODY, body_to_html(body, track))
    )


_SLOT_SUBJECT = "REGUASLOTSUBJECT0f3a"
_SLOT_BODY = "REGUASLOTBODY0f3a"
_SLOT_UNSUBSCRIBE = "REGUASLOTUNSUBSCRIBE0f3a"
_SLOT_PREFERENCES = "REGUASLOTPREFERENCES0f3a"


@functools.lru_cache(maxsize=64)
def _layout(
    language: str, brand_name: str, brand_url: str, unsubscribe: bool, preferences: bool
) -> str:
    with translation.override(language):
        return render_to_string(
            LAYOUT_TEMPLATE,
            {
                "brand_name": brand_name,
                "brand_url": brand_url,
                "subject": _SLOT_SUBJECT,
                "body_html": _SLOT_BODY,
                "unsubscribe_url": _SLOT_UNSUBSCRIBE if unsubscribe else "",
                "preferences_url": _SLOT_PREFERENCES if preferences else "",
                "language": language,
            },
        )

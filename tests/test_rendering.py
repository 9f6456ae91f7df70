"""Cadence messages: the checks made when a template is saved and the rendering at send time."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regua.cadences.rendering import (
    CHANNELS_WITH_SUBJECT,
    LANGUAGES,
    Rendered,
    RenderError,
    TemplateProblem,
    body_to_html,
    body_to_text,
    brl,
    check_message,
    date_br,
    environment,
    render_message,
    sample_context,
)

WELCOME = {
    "pt-br": {
        "subject": "Bem-vinda, {{ contact.first_name }}!",
        "subject_b": "{{ contact.first_name }}, seu benefício chegou",
        "body": (
            "Olá, {{ contact.first_name }}!\n"
            "{% if company %}\n"
            "Vimos que você trabalha na {{ company.name }}.\n"
            "{% endif %}\n"
            "\n"
            "[Acessar minha conta]({{ links.site }})"
        ),
    },
    "en": {
        "subject": "Welcome, {{ contact.first_name }}!",
        "body": "Hello, {{ contact.first_name }}!\n\n[Go to my account]({{ links.site }})",
    },
}


def body_problems(body: str, channel: str = "sms") -> list[TemplateProblem]:
    return check_message(channel, {"pt-br": {"body": body}})


def context_with(**contact: Any) -> dict[str, Any]:
    context = sample_context()
    context["contact"].update(contact)
    return context


# -- Checks ---------------------------------------------------------------------------


def test_the_documented_example_passes() -> None:
    assert check_message("email", WELCOME) == []


def test_a_template_using_every_documented_variable_passes() -> None:
    body = """Olá, {{ contact.name }} ({{ contact.email }}, {{ contact.phone }})
{{ contact.city }}/{{ contact.state }} {{ contact.gender }} {{ contact.stage }}
{{ contact.language }}
{{ contact.birth_date|date_br }}, {{ contact.age }} anos, {{ contact.tags|join(", ") }}
Plano: {{ contact.attributes.plano }}
{% if company %}{{ company.name }} em {{ company.city }}{% endif %}

{% if owner %}Fale com {{ owner.name }} <{{ owner.email }}>{% endif %}
{% if last_order %}
Pedido {{ last_order.number }} de {{ last_order.placed_at|date_br }}: {{ last_order.total|brl }}
{% for item in last_order.items %}
- {{ item.name }}
{% endfor %}
{% endif %}
{% for product in recommended_products %}
[{{ product.name }} por {{ product.price|brl }}]({{ product.url }})
{% endfor %}
{% if event %}{{ event.name }} {{ event.properties.plan }}{% endif %}
[Preferências]({{ links.preferences }}) [Pesquisa]({{ links.survey }})
{{ brand.name }} {{ brand.site_url }} {{ today|date_br }}
[Sair]({{ links.unsubscribe }})"""
    message = {"pt-br": {"subject": "{{ brand.name }}", "body": body}}

    assert check_message("email", message) == []
    assert check_message("whatsapp", {"pt-br": {"body": body}}) == []


@pytest.mark.parametrize("channel", ["sms", "whatsapp", "webhook"])
def test_channels_without_subject_need_only_a_body(channel: str) -> None:
    assert check_message(channel, {"pt-br": {"body": "Oi, {{ contact.first_name }}"}}) == []


@pytest.mark.parametrize(
    ("channel", "message", "field", "words"),
    [
        ("email", "Olá", "message", "expected texts for each language"),
        ("email", {"en": WELCOME["en"]}, "message", "pt-br is required"),
        ("email", {**WELCOME, "es": WELCOME["en"]}, "message", "unknown language 'es'"),
        ("email", {"pt-br": {"body": "Oi"}}, "pt-br.subject", "is required"),
        ("task", {"pt-br": {"subject": " ", "body": "Oi"}}, "pt-br.subject", "is required"),
        ("email", {"pt-br": {"subject": "Oi"}}, "pt-br.body", "is required"),
        ("sms", {"pt-br": {"body": "  \n "}}, "pt-br.body", "is required"),
        ("sms", {"pt-br": {"body": 42}}, "pt-br.body", "must be text"),
        ("sms", {"pt-br": "Oi"}, "pt-br", "expected a subject and a body"),
        ("email", {"pt-br": {**WELCOME["pt-br"], "bdy": "x"}}, "pt-br.bdy", "unknown key"),
        ("sms", {"pt-br": {"subject": "Oi", "body": "Oi"}}, "pt-br.subject", "unknown key"),
        ("fax", WELCOME, "channel", "unknown channel 'fax'"),
    ],
)
def test_it_reports_a_malformed_message_with_its_field(
    channel: str, message: Any, field: str, words: str
) -> None:
    problems = check_message(channel, message)

    assert [(p.field, p.line) for p in problems] == [(field, None)]
    assert words in problems[0].message


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("Olá\n\n{% if contact.first_name %}\nOi\n", 4, "Unexpected end of template"),
        ("Olá\n{{ contact.first_name }\n", 2, "unexpected '}'"),
        ("Olá,\n{{ contact.frist_name }}!", 2, "'contact' has no attribute 'frist_name'"),
        ("a\nb\n{{ cliente.nome }}", 3, "'cliente' is undefined"),
        ("a\n{{ 1 // 0 }}", 2, "by zero"),
        ("{% if contact %}\n{{ contact.first_name|brl }}{% endif %}", 2, "brl expects an amount"),
        ("a\n{{ contact.first_name|date_br }}", 2, "date_br expects a date"),
        ("{{ contact.first_name + 1 }}", 1, "str"),
        (
            "a\n\n{% for i in last_order.items %}{{ i.sku }}{% endfor %}",
            3,
            "has no attribute 'sku'",
        ),
    ],
)
def test_it_reports_a_template_that_does_not_compile_or_render_with_its_line(
    body: str, line: int, words: str
) -> None:
    problems = body_problems(body)

    assert len(problems) == 1, problems
    assert (problems[0].field, problems[0].line) == ("pt-br.body", line)
    assert words in problems[0].message


def test_the_line_is_the_templates_own_even_for_a_subject_in_english() -> None:
    message = {**WELCOME, "en": {"subject": "Hi\n{{ contact.nickname }}", "body": "Hi"}}

    problems = check_message("email", message)

    assert [(p.field, p.line) for p in problems] == [("en.subject", 2)]
    assert str(problems[0]) == "en.subject, line 2: 'contact' has no attribute 'nickname'"


@pytest.mark.parametrize("variable", ["company", "owner", "last_order", "event", "scores"])
def test_it_refuses_an_optional_variable_used_without_a_guard(variable: str) -> None:
    # given a field of a variable that some contacts lack, used as if every one had it
    attribute = {
        "company": "name",
        "owner": "name",
        "last_order": "number",
        "event": "name",
        "scores": "rfm_segment_name",
    }
    body = f"Olá!\n\nSobre {{{{ {variable}.{attribute[variable]} }}}}"

    # when the message is saved
    problems = body_problems(body)

    # then it is refused, saying which variable may be empty and where
    assert len(problems) == 1
    assert problems[0].line == 3
    assert problems[0].message.startswith(f"{variable} is empty for some contacts")
    assert f"{{% if {variable} %}}" in problems[0].message


def test_guarded_optional_variables_pass() -> None:
    body = "{% if owner %}{{ owner.name }}{% else %}nossa equipe{% endif %}"
    assert body_problems(body) == []
    body = "{% if scores and scores.clv %}Seu valor: {{ scores.clv|brl }}{% endif %}"

    assert body_problems(body) == []


@pytest.mark.parametrize(
    "body",
    [
        "[Clique](javascript:alert(1))",
        "Olá\n\n[Clique](  data:text/html,oi)",
        "[Clique](www.lojaexemplo.com.br)",
        "[Clique]()",
        "{% set url = 'javascript:alert(1)' %}\n[Clique]({{ url }})",
    ],
)
def test_it_refuses_links_that_are_not_http(body: str) -> None:
    problems = body_problems(body, "whatsapp")

    assert len(problems) == 1
    assert "http://" in problems[0].message
    assert problems[0].line == body.count("\n") + 1


def test_it_refuses_an_sms_longer_than_three_parts_once_rendered() -> None:
    # 24 × ("Mariana " + 12) = 480: the limit; one more name goes over it
    fits = "{{ contact.first_name }} 123456789012" * 24
    too_long = fits + "{{ contact.first_name }}"

    assert body_problems(fits) == []
    assert "480" in body_problems(too_long)[0].message
    assert check_message("whatsapp", {"pt-br": {"body": too_long}}) == []


@pytest.mark.parametrize(
    "body",
    [
        "{{ contact.__class__ }}",
        "{{ contact.__class__.__init__.__globals__ }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ contact|attr('__class__') }}",
        "{{ contact|attr('_label') }}",
        "{{ contact.first_name.__class__ }}",
        "{{ today.__class__.__module__ }}",
        "{{ brand.name.format.__globals__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum(1000000) }}",
        "{{ config }}",
        "{{ self._TemplateReference__context }}",
    ],
)
def test_the_sandbox_keeps_templates_inside_the_data(body: str) -> None:
    problems = body_problems(body)

    assert problems, f"{body} was accepted"
    assert problems[0].line == 1


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("{{ range(10**9)|list }}", "Range too big"),
        ("{{ 10 ** 100000000 }}", "too large"),
        ("{{ 'x' * 10**9 }}", "too large"),
        ("{{ [1, 2] * 10**9 }}", "too large"),
        ("{% for i in range(100000) %}{{ 'xxxxxxxxxx' }}{% endfor %}", "longer than"),
    ],
)
def test_resource_abuse_is_refused_without_hanging(body: str, words: str) -> None:
    problems = body_problems(body)

    assert len(problems) == 1
    assert words in problems[0].message


def test_a_large_but_bounded_range_passes() -> None:
    assert body_problems("{{ range(100000)|list|length }}") == []


def test_custom_attributes_the_sample_lacks_render_empty_instead_of_failing() -> None:
    body = (
        "Plano {{ contact.attributes.nivel }}{% if event %}{{ event.properties.cupom }}{% endif %}"
    )

    assert body_problems(body) == []
    assert render_message("sms", {"pt-br": {"body": body}}, "pt-br", sample_context()).text == (
        "Plano"
    )


def test_a_problem_reads_as_field_line_and_reason() -> None:
    assert str(TemplateProblem("pt-br.body", 3, "boom")) == "pt-br.body, line 3: boom"
    assert str(TemplateProblem("message", None, "pt-br is required")) == (
        "message: pt-br is required"
    )


# -- Rendering --------------------------------------------------------------------------


def test_it_renders_an_email_with_the_brand_layout() -> None:
    # when
    rendered = render_message("email", WELCOME, "pt-br", sample_context())

    # then the subject, the plain text with its link written out, and the branded html
    assert rendered.subject == "Bem-vinda, Mariana!"
    assert rendered.text == (
        "Olá, Mariana!\n"
        "Vimos que você trabalha na Padaria Pão Dourado Ltda.\n\n"
        "Acessar minha conta: https://www.lojaexemplo.com.br/"
    )
    assert '<html lang="pt-br">' in rendered.html
    assert "Loja Exemplo" in rendered.html
    assert "Olá, Mariana!<br>" in rendered.html
    assert 'href="https://regua.lojaexemplo.com.br/u/3f9a2c/sair"' in rendered.html


def test_values_from_the_context_are_escaped_in_the_html() -> None:
    context = context_with(first_name='<script>alert("oi")</script>')
    context["brand"]["name"] = "Tom & Jerry <Ltda>"

    rendered = render_message("email", WELCOME, "pt-br", context)

    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&quot;oi&quot;)&lt;/script&gt;" in rendered.html
    assert "Tom &amp; Jerry &lt;Ltda&gt;" in rendered.html
    assert "<script>" in rendered.text  # the plain-text part is text, not html
    assert "&lt;script&gt;" in rendered.html.split("<title>")[1].split("</title>")[0]


def test_a_link_from_the_context_that_is_not_http_stays_text_in_the_html() -> None:
    context = sample_context()
    context["links"]["site"] = "javascript:alert(1)"

    rendered = render_message("email", WELCOME, "pt-br", context)

    assert 'href="javascript' not in rendered.html
    assert "[Acessar minha conta](javascript:alert(1))" in rendered.html


def test_variant_b_uses_the_alternative_subject_when_there_is_one() -> None:
    context = sample_context()

    assert render_message("email", WELCOME, "pt-br", context, variant="b").subject == (
        "Mariana, seu benefício chegou"
    )
    # English has no subject_b: variant b falls back to the subject
    assert render_message("email", WELCOME, "en", context, variant="b").subject == (
        "Welcome, Mariana!"
    )
    with pytest.raises(ValueError):
        render_message("email", WELCOME, "pt-br", context, variant="c")


def test_the_subject_is_one_line() -> None:
    message = {"pt-br": {"subject": "  Oi,\n  {{ contact.first_name }}\r\n! ", "body": "x"}}

    assert render_message("task", message, "pt-br", sample_context()).subject == "Oi, Mariana !"


@pytest.mark.parametrize("language", ["es", "EN", "en"])
def test_it_falls_back_to_pt_br_when_the_language_has_no_texts(language: str) -> None:
    message = {"pt-br": WELCOME["pt-br"]}

    rendered = render_message("email", message, language, sample_context())

    assert rendered.subject == "Bem-vinda, Mariana!"
    assert '<html lang="pt-br">' in rendered.html


def test_it_uses_the_contacts_language_when_the_message_has_it() -> None:
    rendered = render_message("email", WELCOME, "en", sample_context())

    assert rendered.subject == "Welcome, Mariana!"
    assert rendered.text == "Hello, Mariana!\n\nGo to my account: https://www.lojaexemplo.com.br/"
    assert '<html lang="en">' in rendered.html
    assert "Unsubscribe" in rendered.html


def test_tracking_rewrites_the_links_of_the_html_only() -> None:
    def track(url: str) -> str:
        return f"https://t.regua.com.br/c/42?u={url}"

    rendered = render_message("email", WELCOME, "pt-br", sample_context(), track=track)

    assert 'href="https://t.regua.com.br/c/42?u=https://www.lojaexemplo.com.br/"' in rendered.html
    assert "t.regua.com.br" not in rendered.text
    # the unsubscribe link must work without the tracker
    assert 'href="https://regua.lojaexemplo.com.br/u/3f9a2c/sair"' in rendered.html


@pytest.mark.parametrize("channel", ["sms", "whatsapp", "task", "webhook"])
def test_only_email_gets_html(channel: str) -> None:
    message = {"pt-br": {"subject": "Ligar para {{ contact.name }}", "body": "Oi {{ owner.name }}"}}

    rendered = render_message(channel, message, "pt-br", sample_context())

    assert rendered.html == ""
    assert rendered.text == "Oi Rafael Lima"
    assert rendered.subject == (
        "Ligar para Mariana Souza" if channel in CHANNELS_WITH_SUBJECT else ""
    )


def test_a_template_that_fails_for_a_real_contact_raises_with_its_line() -> None:
    context = sample_context()
    context["last_order"]["total"] = "não informado"
    message = {"pt-br": {"body": "Olá\nTotal: {{ last_order.total|brl }}"}}

    with pytest.raises(RenderError) as error:
        render_message("sms", message, "pt-br", context)

    assert (error.value.problem.field, error.value.problem.line) == ("pt-br.body", 2)


def test_an_orders_items_are_its_items_not_the_dict_method() -> None:
    message = {"pt-br": {"body": "{% for i in last_order.items %}{{ i.quantity }}x {% endfor %}"}}

    assert render_message("sms", message, "pt-br", sample_context()).text == "2x 1x"


def test_block_tags_on_their_own_lines_leave_no_blank_lines() -> None:
    context = sample_context()
    context["company"] = None

    rendered = render_message("email", WELCOME, "pt-br", context)

    assert rendered.text == "Olá, Mariana!\n\nAcessar minha conta: https://www.lojaexemplo.com.br/"


# -- Body markup ------------------------------------------------------------------------


def test_body_to_text_writes_links_out() -> None:
    body = "Veja [as ofertas](https://a.com.br/o) e https://b.com.br\n\n\n\n[https://c.com](https://c.com)"

    assert body_to_text(body) == (
        "Veja as ofertas: https://a.com.br/o e https://b.com.br\n\nhttps://c.com"
    )


def test_body_to_html_makes_paragraphs_line_breaks_links_and_buttons() -> None:
    body = (
        "Olá & bem-vinda\nVeja [as ofertas](https://a.com.br/o?x=1&y=2).\n\n"
        "  [Comprar](https://a.com.br/c)  "
    )

    page = body_to_html(body)

    paragraphs = page.split("\n<p")
    assert len(paragraphs) == 2
    assert "Olá &amp; bem-vinda<br>" in paragraphs[0]
    assert '<a href="https://a.com.br/o?x=1&amp;y=2" style="color:' in paragraphs[0]
    assert ">as ofertas</a>." in paragraphs[0]
    assert '<a href="https://a.com.br/c" style="display:inline-block;' in paragraphs[1]
    assert ">Comprar</a></p>" in paragraphs[1]


def test_a_link_with_parentheses_in_its_url_works() -> None:
    body = "[Café](https://pt.wikipedia.org/wiki/Caf%C3%A9_(bebida))"

    assert body_to_text(body) == "Café: https://pt.wikipedia.org/wiki/Caf%C3%A9_(bebida)"
    assert 'href="https://pt.wikipedia.org/wiki/Caf%C3%A9_(bebida)"' in body_to_html(body)


# -- Filters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("1234.56"), "R$ 1.234,56"),
        (Decimal("1234567.891"), "R$ 1.234.567,89"),
        (0, "R$ 0,00"),
        (12.5, "R$ 12,50"),
        (0.125, "R$ 0,13"),
        (-10, "-R$ 10,00"),
        (Decimal("-0.001"), "R$ 0,00"),
        ("199.90", "R$ 199,90"),
        (None, ""),
    ],
)
def test_brl_writes_reais_the_brazilian_way(amount: Any, text: str) -> None:
    assert brl(amount) == text
    assert environment().from_string("{{ x|brl }}").render(x=amount) == text


@pytest.mark.parametrize("amount", ["abc", True, Decimal("NaN"), float("inf"), [1]])
def test_brl_refuses_what_is_not_an_amount(amount: Any) -> None:
    with pytest.raises(TypeError):
        brl(amount)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (date(2025, 3, 4), "04/03/2025"),
        (datetime(2025, 12, 31, 23, 30), "31/12/2025"),
        # 02:30 UTC is still the previous day in São Paulo
        (datetime(2025, 1, 1, 2, 30, tzinfo=ZoneInfo("UTC")), "31/12/2024"),
        ("2025-07-09", "09/07/2025"),
        (None, ""),
    ],
)
def test_date_br_writes_dd_mm_yyyy(value: Any, text: str) -> None:
    assert date_br(value) == text


def test_date_br_refuses_what_is_not_a_date() -> None:
    with pytest.raises(TypeError):
        date_br("amanhã")


# -- Arbitrary input --------------------------------------------------------------------

FRAGMENTS = [
    "{{ ",
    " }}",
    "{% ",
    " %}",
    "{# ",
    " #}",
    "if ",
    "endif",
    "for p in recommended_products",
    "endfor",
    "else",
    "contact.first_name",
    "contact.attributes.x",
    "company.name",
    "company",
    "last_order.total",
    "|brl",
    "|date_br",
    "|upper",
    "today",
    "p.name",
    "(",
    ")",
    "[",
    "]",
    "](",
    "https://a.com.br",
    "javascript:x",
    "\n",
    "\n\n",
    " ",
    "<b>",
    "&",
    "1 / 0",
    "'",
    '"',
    "~",
    "*",
    "**",
    "9",
    "range(",
    "links.site",
    "brand.name",
    "__class__",
    ".",
    "Olá ",
]
template_text = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(FRAGMENTS), max_size=16).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(
    channel=st.sampled_from(["email", "sms", "whatsapp", "task", "webhook"]),
    subject=template_text,
    body=template_text,
    language=st.sampled_from(LANGUAGES),
    variant=st.sampled_from(["a", "b"]),
)
def test_whatever_the_text_a_checked_message_renders(
    channel: str, subject: str, body: str, language: str, variant: str
) -> None:
    texts = {"subject": subject, "subject_b": body, "body": body}
    if channel not in CHANNELS_WITH_SUBJECT:
        texts = {"body": body}
    message = {"pt-br": texts, language: texts}

    # check_message never raises, whatever it is given
    problems = check_message(channel, message)

    assert all(isinstance(problem, TemplateProblem) for problem in problems)
    if not problems:
        rendered = render_message(channel, message, language, sample_context(), variant=variant)
        assert isinstance(rendered, Rendered)
        assert 'href="javascript' not in rendered.html.lower()


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.text(max_size=5) | st.integers(),
        lambda children: (
            st.lists(children)
            | st.dictionaries(st.sampled_from(["pt-br", "en", "subject", "body", "x"]), children)
        ),
        max_leaves=8,
    )
)
def test_check_message_never_raises_on_any_shape(message: Any) -> None:
    for shape in (message, {"pt-br": message}, {"pt-br": {"body": message}}):
        assert isinstance(check_message("email", shape), list)

"""The help centre: public index, search, permalinks, languages, markup, admin, demo."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from regua.faq import views
from regua.faq.demo import ENTRIES, faq_demo
from regua.faq.markup import answer_html, answer_plain
from regua.faq.models import Article, Category, Language
from regua.faq.search import article_search
from regua.faq.text import query_words
from regua.users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def category() -> Category:
    return Category.objects.create(name="Trocas e devoluções", position=1)


@pytest.fixture
def make_article(category: Category) -> Callable[..., Article]:
    def make(question: str, answer: str = "Resposta.", **fields: Any) -> Article:
        fields.setdefault("category", category)
        fields.setdefault("published", True)
        return Article.objects.create(question=question, answer=answer, **fields)

    return make


def questions(response: Any) -> list[str]:
    found = response.context.get("results")
    if found is None:
        found = response.context["articles"]
    return [article.question for article in found]


# -- The index --------------------------------------------------------------------------


def test_the_help_centre_needs_no_login(client: Client, make_article: Callable) -> None:
    make_article("Como faço uma troca?")
    response = client.get(reverse("faq:index"), HTTP_ACCEPT_LANGUAGE="pt-br")
    assert response.status_code == 200
    assert "Como faço uma troca?" in response.content.decode()


def test_unpublished_articles_are_not_listed(client: Client, make_article: Callable) -> None:
    make_article("Como faço uma troca?")
    make_article("Rascunho da Black Friday", published=False)
    response = client.get(reverse("faq:index"), HTTP_ACCEPT_LANGUAGE="pt-br")
    assert questions(response) == ["Como faço uma troca?"]
    assert "Black Friday" not in response.content.decode()


def test_the_index_groups_articles_by_category_in_order(
    client: Client, make_article: Callable, category: Category
) -> None:
    delivery = Category.objects.create(name="Entrega", position=0)
    make_article("Como faço uma troca?", position=2)
    make_article("Posso devolver um presente?", position=1)
    make_article("Qual o prazo de entrega?", category=delivery)
    response = client.get(reverse("faq:index"), HTTP_ACCEPT_LANGUAGE="pt-br")
    assert questions(response) == [
        "Qual o prazo de entrega?",
        "Posso devolver um presente?",
        "Como faço uma troca?",
    ]
    page = response.content.decode()
    assert page.index("Entrega") < page.index("Trocas e devoluções")


def test_visitors_see_the_articles_of_their_language(
    client: Client, make_article: Callable
) -> None:
    make_article("Como faço uma troca?", language=Language.PT_BR)
    make_article("How do I exchange a product?", language=Language.EN)
    assert questions(client.get(reverse("faq:index"), HTTP_ACCEPT_LANGUAGE="pt-br")) == [
        "Como faço uma troca?"
    ]
    english = client.get(reverse("faq:index"), HTTP_ACCEPT_LANGUAGE="en")
    assert questions(english) == ["How do I exchange a product?"]
    assert "How can we help?" in english.content.decode()


def test_the_language_switch_changes_the_articles_shown(
    client: Client, make_article: Callable
) -> None:
    # given a Portuguese browser
    make_article("Como faço uma troca?", language=Language.PT_BR)
    make_article("How do I exchange a product?", language=Language.EN)
    # when the visitor picks English on the page
    response = client.post(
        reverse("set_language"),
        {"language": "en", "next": reverse("faq:index")},
        HTTP_ACCEPT_LANGUAGE="pt-br",
    )
    assert response.status_code == 302
    # then the help centre is in English from then on
    assert questions(client.get(reverse("faq:index"), HTTP_ACCEPT_LANGUAGE="pt-br")) == [
        "How do I exchange a product?"
    ]


def test_an_empty_help_centre_says_so(client: Client) -> None:
    response = client.get(reverse("faq:index"), HTTP_ACCEPT_LANGUAGE="en")
    assert "There are no articles in the help centre yet." in response.content.decode()


# -- Search -----------------------------------------------------------------------------


def test_search_ignores_accents_and_case(client: Client, make_article: Callable) -> None:
    make_article("Como funciona a DEVOLUÇÃO?")
    make_article("Qual o prazo de entrega?")
    for typed in ["devolucao", "Devolução", "DEVOLUCAO", "devolu"]:
        response = client.get(reverse("faq:index"), {"q": typed}, HTTP_ACCEPT_LANGUAGE="pt-br")
        assert questions(response) == ["Como funciona a DEVOLUÇÃO?"], typed


def test_search_finds_words_of_the_answer(client: Client, make_article: Callable) -> None:
    make_article("Quais são as formas de pagamento?", "Pix, boleto e cartão em até 12x.")
    make_article("Qual o prazo de entrega?", "De 2 a 5 dias úteis.")
    response = client.get(reverse("faq:index"), {"q": "cartao"}, HTTP_ACCEPT_LANGUAGE="pt-br")
    assert questions(response) == ["Quais são as formas de pagamento?"]


def test_a_plural_finds_the_singular(make_article: Callable) -> None:
    make_article("Como funciona a devolução?")
    make_article("Aceitam cartão de crédito?")
    assert [a.question for a in article_search("devoluções", language=Language.PT_BR)] == [
        "Como funciona a devolução?"
    ]
    assert [a.question for a in article_search("cartões", language=Language.PT_BR)] == [
        "Aceitam cartão de crédito?"
    ]


def test_question_matches_rank_above_answer_matches(make_article: Callable) -> None:
    # given an older article that mentions delivery only in its answer
    make_article("Posso mudar o endereço?", "Sim, antes da entrega.", position=0)
    make_article("Qual o prazo de entrega?", "De 2 a 5 dias úteis.", position=9)
    # when someone searches for it
    found = article_search("entrega", language=Language.PT_BR)
    # then the article that asks about delivery comes first
    assert [a.question for a in found] == ["Qual o prazo de entrega?", "Posso mudar o endereço?"]


def test_articles_matching_more_words_rank_higher(make_article: Callable) -> None:
    make_article("Como rastrear meu pedido?")
    make_article("Como cancelar meu pedido?")
    found = article_search("cancelar pedido", language=Language.PT_BR)
    assert [a.question for a in found] == ["Como cancelar meu pedido?", "Como rastrear meu pedido?"]


def test_common_words_alone_do_not_match_everything(make_article: Callable) -> None:
    make_article("Qual o prazo de entrega?")
    make_article("Como funciona a troca?")
    found = article_search("como é a troca", language=Language.PT_BR)
    assert [a.question for a in found] == ["Como funciona a troca?"]


def test_search_keeps_to_the_visitors_language_and_published_articles(
    client: Client, make_article: Callable
) -> None:
    make_article("Como funciona o Pix?", language=Language.PT_BR)
    make_article("How does Pix work?", language=Language.EN)
    make_article("How does Pix cashback work?", language=Language.EN, published=False)
    response = client.get(reverse("faq:index"), {"q": "pix"}, HTTP_ACCEPT_LANGUAGE="en")
    assert questions(response) == ["How does Pix work?"]
    assert "1 article found for “pix”" in response.content.decode()


def test_a_search_that_finds_nothing_says_so(client: Client, make_article: Callable) -> None:
    make_article("How does Pix work?", language=Language.EN)
    response = client.get(reverse("faq:index"), {"q": "bitcoin"}, HTTP_ACCEPT_LANGUAGE="en")
    assert questions(response) == []
    assert "No articles found for “bitcoin”." in response.content.decode()


def test_the_search_text_is_escaped(client: Client) -> None:
    response = client.get(
        reverse("faq:index"), {"q": "<script>alert(1)</script>"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    page = response.content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page


@given(st.text(max_size=60))
def test_query_words_are_folded_ascii_words(text: str) -> None:
    words = query_words(text)
    assert len(words) <= 8
    assert all(word.isascii() and word.isalnum() and word == word.lower() for word in words)


# -- The article page -------------------------------------------------------------------


def test_an_article_has_a_permalink(client: Client, make_article: Callable) -> None:
    article = make_article("Qual o prazo de entrega?", "De 2 a 5 dias úteis.")
    assert article.get_absolute_url() == "/help/qual-o-prazo-de-entrega/"
    response = client.get(article.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pt-br")
    assert response.status_code == 200
    assert "De 2 a 5 dias úteis." in response.content.decode()


def test_a_reworded_question_keeps_its_address(make_article: Callable) -> None:
    article = make_article("Qual o prazo de entrega?")
    article.question = "Em quantos dias recebo meu pedido?"
    article.save()
    article.refresh_from_db()
    assert article.slug == "qual-o-prazo-de-entrega"
    assert article.search_question == "em quantos dias recebo meu pedido"


def test_two_articles_with_the_same_question_get_different_addresses(
    make_article: Callable,
) -> None:
    first = make_article("Como faço uma troca?")
    second = make_article("Como faço uma troca?", language=Language.EN)
    assert (first.slug, second.slug) == ("como-faco-uma-troca", "como-faco-uma-troca-2")


def test_an_unpublished_article_is_not_found(client: Client, make_article: Callable) -> None:
    draft = make_article("Rascunho", published=False)
    assert client.get(draft.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pt-br").status_code == 404
    assert client.get("/help/no-such-article/", HTTP_ACCEPT_LANGUAGE="pt-br").status_code == 404


def test_staff_can_proofread_a_draft(
    client_for: Callable[[User], Client], admin_user: User, make_article: Callable
) -> None:
    draft = make_article("Rascunho", published=False)
    response = client_for(admin_user).get(draft.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "only staff can see this article" in response.content.decode()


def test_an_article_links_to_its_translation(client: Client, make_article: Callable) -> None:
    pt = make_article("Como faço uma troca?", language=Language.PT_BR, translation_key="troca")
    en = make_article("How do I exchange a product?", language=Language.EN, translation_key="troca")
    page = client.get(pt.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert f'href="{en.get_absolute_url()}" hreflang="en"' in page
    # The switch to English from this page leads to the English version.
    assert f'name="next" value="{en.get_absolute_url()}"' in page


def test_the_answer_is_rendered_as_safe_text(client: Client, make_article: Callable) -> None:
    article = make_article(
        "Onde vejo meus pedidos?",
        "Acesse [Meus pedidos](https://loja.exemplo.com.br/pedidos).\n\n<b>Obrigado</b>",
    )
    page = client.get(article.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert '<a href="https://loja.exemplo.com.br/pedidos" rel="nofollow">Meus pedidos</a>' in page
    assert "<b>Obrigado</b>" not in page
    assert "&lt;b&gt;Obrigado&lt;/b&gt;" in page


# -- Markup -----------------------------------------------------------------------------


def test_answers_have_paragraphs_lists_and_links() -> None:
    html = answer_html(
        "Aceitamos:\n- Pix\n- Cartão em até 12x\n\nDúvidas? Veja https://exemplo.com.br/ajuda."
    )
    assert html == (
        "<p>Aceitamos:</p>\n<ul><li>Pix</li><li>Cartão em até 12x</li></ul>\n"
        '<p>Dúvidas? Veja <a href="https://exemplo.com.br/ajuda" rel="nofollow">'
        "https://exemplo.com.br/ajuda</a>.</p>"
    )


def test_only_web_and_mail_links_become_anchors() -> None:
    html = answer_html("[Clique](javascript:alert(1)) [Escreva](mailto:oi@exemplo.com.br)")
    assert 'href="javascript' not in html
    assert '<a href="mailto:oi@exemplo.com.br" rel="nofollow">Escreva</a>' in html


@given(st.text(max_size=200))
def test_no_markup_of_the_author_survives(text: str) -> None:
    html = answer_html(text)
    without_ours = (
        html.replace("<p>", "")
        .replace("</p>", "")
        .replace("<br>", "")
        .replace("<ul>", "")
        .replace("</ul>", "")
        .replace("<li>", "")
        .replace("</li>", "")
        .replace("</a>", "")
    )
    assert "<" not in without_ours.replace('<a href="', "")


def test_search_reads_link_text_not_addresses() -> None:
    assert answer_plain("Veja [Meus pedidos](https://loja.com.br/x).") == "Veja Meus pedidos."


# -- The contact link -------------------------------------------------------------------


def test_the_contact_link_shows_once_the_desk_provides_it(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "contact_url", lambda: "")
    page = client.get(reverse("faq:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="contact"' not in page
    assert "desk_public" not in page  # the template's note to developers stays hidden
    monkeypatch.setattr(views, "contact_url", lambda: "/contact/")
    page = client.get(reverse("faq:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'href="/contact/"' in page
    assert "Contact us" in page


# -- The admin --------------------------------------------------------------------------


def test_the_admin_lists_and_adds_articles(
    client_for: Callable[[User], Client], admin_user: User, make_article: Callable
) -> None:
    make_article("Como faço uma troca?")
    staff = client_for(admin_user)
    changelist = staff.get(reverse("admin:faq_article_changelist"), HTTP_ACCEPT_LANGUAGE="en")
    assert changelist.status_code == 200
    assert "Como faço uma troca?" in changelist.content.decode()
    assert staff.get(reverse("admin:faq_article_add"), HTTP_ACCEPT_LANGUAGE="en").status_code == 200
    assert (
        staff.get(reverse("admin:faq_category_changelist"), HTTP_ACCEPT_LANGUAGE="en").status_code
        == 200
    )


def test_the_admin_search_ignores_accents(
    client_for: Callable[[User], Client], admin_user: User, make_article: Callable
) -> None:
    make_article("Como funciona a devolução?")
    make_article("Qual o prazo de entrega?")
    response = client_for(admin_user).get(
        reverse("admin:faq_article_changelist"), {"q": "devolucao"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert [a.question for a in response.context["cl"].result_list] == [
        "Como funciona a devolução?"
    ]


def test_the_admin_publishes_in_bulk(
    client_for: Callable[[User], Client], admin_user: User, make_article: Callable
) -> None:
    drafts = [make_article(f"Rascunho {n}", published=False) for n in range(2)]
    response = client_for(admin_user).post(
        reverse("admin:faq_article_changelist"),
        {"action": "publish", "_selected_action": [d.pk for d in drafts]},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302
    assert Article.objects.published().count() == 2


def test_agents_cannot_reach_the_admin(client_for: Callable[[User], Client], alice: User) -> None:
    response = client_for(alice).get(
        reverse("admin:faq_article_changelist"), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 302


# -- The demo ---------------------------------------------------------------------------


def test_the_demo_writes_every_article_in_both_languages_once(client: Client) -> None:
    assert faq_demo() == 2 * len(ENTRIES)
    assert faq_demo() == 0
    assert Article.objects.filter(language=Language.PT_BR).count() == len(ENTRIES)
    assert Article.objects.filter(language=Language.EN).count() == len(ENTRIES)
    found = client.get(reverse("faq:index"), {"q": "devolucao"}, HTTP_ACCEPT_LANGUAGE="pt-br")
    assert "Posso desistir da compra e devolver o produto?" in questions(found)

"""The public help centre: the index (with search) and an article's permalink page.

No login. Pages follow the visitor's language as LocaleMiddleware settled it (the
language cookie set by the switch on the page, else the browser's Accept-Language), and
list the articles written in that language.
"""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.views.decorators.http import require_GET

from regua.core import ratelimits

from .models import Article, Language
from .search import article_search

QUERY_LENGTH = 200


def contact_url() -> str:
    """The service desk's public contact form, once the desk app provides one."""
    try:
        return reverse("desk_public:contact")
    except NoReverseMatch:
        return ""


def _languages(targets: dict[str, str]) -> list[tuple[str, str, str, bool]]:
    """The language switch: (code, name in that language, where it leads, current?)."""
    current = Language.of(translation.get_language())
    return [
        (code, translation.get_language_info(code)["name_local"], target, code == current)
        for code, target in targets.items()
    ]


def _page(
    request: HttpRequest, template: str, context: dict[str, object], targets: dict[str, str]
) -> HttpResponse:
    return render(
        request,
        f"faq/public/{template}",
        {
            "brand": settings.REGUA_BRAND_NAME,
            "language": translation.get_language(),
            "languages": _languages(targets),
            "contact_url": contact_url(),
            **context,
        },
    )


# Searches run full-text queries: counted per client address (docs/security.md).
SEARCH_LIMIT = ratelimits.public_form("faq-search")


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    language = Language.of(translation.get_language())
    query = request.GET.get("q", "").strip()[:QUERY_LENGTH]
    # Switching language keeps the search: the results come in the new language.
    here = {code: request.get_full_path() for code in Language.values}
    if query:
        limited = ratelimits.refused(request, SEARCH_LIMIT)
        if limited:
            return limited
        results = article_search(query, language=language)
        return _page(request, "index.html", {"query": query, "results": results}, here)
    articles = (
        Article.objects.published()
        .filter(language=language)
        .select_related("category")
        .order_by("category__position", "category__name", "category_id", "position", "id")
    )
    return _page(request, "index.html", {"query": "", "articles": articles}, here)


@require_GET
def article(request: HttpRequest, slug: str) -> HttpResponse:
    found = get_object_or_404(Article.objects.select_related("category"), slug=slug)
    # Staff may open a draft from the admin ("View on site") to proofread it.
    if not found.published and not request.user.is_staff:
        raise Http404
    translations = list(found.translations())
    # Switching language leads to this article's version in that language, if any.
    targets = {code: reverse("faq:index") for code in Language.values}
    targets.update({other.language: other.get_absolute_url() for other in translations})
    targets[found.language] = found.get_absolute_url()
    context = {"article": found, "translations": translations, "related": found.related()}
    return _page(request, "article.html", context, targets)

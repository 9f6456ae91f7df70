"""The help centre is managed here: categories, articles, publishing."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import Article, Category
from .search import article_search_q


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "position", "article_count"]
    list_editable = ["position"]
    search_fields = ["name"]
    ordering = ["position", "name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Category]:
        return super().get_queryset(request).annotate(article_count=Count("articles"))

    @admin.display(description=_("articles"), ordering="article_count")
    def article_count(self, category: Any) -> int:
        return int(category.article_count)


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["question", "category", "language", "published", "position", "updated_at"]
    list_display_links = ["question"]
    list_editable = ["published", "position"]
    list_filter = ["published", "language", "category"]
    list_select_related = ["category"]
    ordering = ["category__position", "category__name", "language", "position", "id"]
    search_fields = ["question", "answer"]
    search_help_text = _("Finds words in the question or answer, with or without accents.")
    prepopulated_fields = {"slug": ["question"]}
    readonly_fields = ["created_at", "updated_at"]
    actions = ["publish", "unpublish"]
    save_on_top = True
    fieldsets = [
        (None, {"fields": ["question", "answer", "category", "language", "published"]}),
        (
            _("Placement"),
            {"fields": ["position", "slug", "translation_key", "created_at", "updated_at"]},
        ),
    ]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Article], search_term: str
    ) -> tuple[QuerySet[Article], bool]:
        # The same accent-insensitive matching as the public search, over every article.
        if not search_term.strip():
            return queryset, False
        return queryset.filter(article_search_q(search_term)), False

    @admin.action(description=_("Publish the selected articles"))
    def publish(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        self._set_published(request, queryset, True)

    @admin.action(description=_("Unpublish the selected articles"))
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        self._set_published(request, queryset, False)

    def _set_published(
        self, request: HttpRequest, queryset: QuerySet[Article], published: bool
    ) -> None:
        changed = queryset.exclude(published=published).update(
            published=published, updated_at=timezone.now()
        )
        if published:
            message = ngettext(
                "%(count)d article published.", "%(count)d articles published.", changed
            )
        else:
            message = ngettext(
                "%(count)d article unpublished.", "%(count)d articles unpublished.", changed
            )
        self.message_user(request, message % {"count": changed}, messages.SUCCESS)

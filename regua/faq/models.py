"""The help centre: questions and answers grouped in categories, one article per language.

Articles are written in the admin as plain text (markup.py turns paragraphs, lists and
links into safe HTML). Each article keeps a folded copy of its question and answer
(lower case, no accents, words only) that search.py matches against, so a visitor who
types "devolucao" finds "Devolução" on SQLite and PostgreSQL alike.
"""

from typing import Any

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.text import Truncator, slugify
from django.utils.translation import gettext_lazy as _

from regua.core.models import TimeStamped

from .markup import answer_html, answer_plain
from .text import distinct_words, search_text

SLUG_LENGTH = 100


class Language(models.TextChoices):
    PT_BR = "pt-br", _("Portuguese (Brazil)")
    EN = "en", _("English")

    @classmethod
    def of(cls, code: str | None) -> "Language":
        """The article language for an active Django language code ("en-us" → English)."""
        return cls.EN if (code or "").lower().startswith("en") else cls.PT_BR


class Category(TimeStamped):
    """A heading of the help centre. Not tied to a language: a category shows in the
    help centre of each language it has published articles in ("Entrega", "Delivery")."""

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(
        _("position"), default=0, help_text=_("Lower numbers come first.")
    )

    class Meta:
        ordering = ["position", "name", "id"]
        verbose_name = _("FAQ category")
        verbose_name_plural = _("FAQ categories")

    def __str__(self) -> str:
        return self.name


class ArticleQuerySet(models.QuerySet["Article"]):
    def published(self) -> "ArticleQuerySet":
        return self.filter(published=True)


class Article(TimeStamped):
    """One question and its answer, in one language."""

    question = models.CharField(_("question"), max_length=200)
    answer = models.TextField(
        _("answer"),
        help_text=_(
            "Plain text. Leave a blank line between paragraphs; start lines with "
            '"- " for a list; write links as [text](https://...) or paste the address.'
        ),
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        related_name="articles",
    )
    language = models.CharField(
        _("language"), max_length=5, choices=Language.choices, default=Language.PT_BR
    )
    published = models.BooleanField(
        _("published"), default=False, help_text=_("Only published articles are public.")
    )
    position = models.PositiveIntegerField(
        _("position"), default=0, help_text=_("Order within the category; lower comes first.")
    )
    # The permalink: made from the question when the article is first saved and kept
    # afterwards, so links already shared keep working when the question is reworded.
    slug = models.SlugField(
        _("address"),
        max_length=SLUG_LENGTH,
        unique=True,
        blank=True,
        help_text=_(
            "The end of the article's public address. Left blank, it is made from the question."
        ),
    )
    translation_key = models.SlugField(
        _("translation key"),
        max_length=60,
        blank=True,
        help_text=_(
            "The same key on articles in different languages marks them as translations "
            "of one another, so readers can switch between them."
        ),
    )
    # What search.py matches (see regua.faq.text): the folded question, and the distinct
    # folded words of question and answer. Kept current by save(); a bulk write must set
    # them itself (search_columns()).
    search_question = models.TextField(editable=False, default="")
    search_all = models.TextField(editable=False, default="")

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("FAQ article")
        verbose_name_plural = _("FAQ articles")
        constraints = [
            models.UniqueConstraint(
                fields=["translation_key", "language"],
                condition=~Q(translation_key=""),
                name="faq_article_one_per_language",
            ),
        ]
        indexes = [
            models.Index(
                fields=["language", "position"],
                condition=Q(published=True),
                name="faq_article_public_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.question

    def get_absolute_url(self) -> str:
        return reverse("faq:article", args=[self.slug])

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The search columns are a pure function of the text; keeping them here means no
        # caller (admin, demo, a shell) can forget them.
        self.search_question, self.search_all = self.search_columns()
        if not self.slug:
            self.slug = self._free_slug()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"question", "answer"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "search_question", "search_all"}
        super().save(*args, **kwargs)

    def search_columns(self) -> tuple[str, str]:
        """(search_question, search_all) for the current question and answer."""
        return (
            search_text(self.question),
            distinct_words(f"{self.question}\n{answer_plain(self.answer)}"),
        )

    def _free_slug(self) -> str:
        base = slugify(self.question)[: SLUG_LENGTH - 4].strip("-") or "article"
        taken = set(
            Article.objects.filter(slug__startswith=base)
            .exclude(pk=self.pk)
            .values_list("slug", flat=True)
        )
        slug, n = base, 1
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        return slug

    def answer_html(self) -> SafeString:
        return answer_html(self.answer)

    def excerpt(self, length: int = 160) -> str:
        """The start of the answer as plain text, for search results."""
        return Truncator(" ".join(answer_plain(self.answer).split())).chars(length)

    def related(self, limit: int = 5) -> "ArticleQuerySet":
        """Other published articles of the same category and language."""
        return (
            Article.objects.published()
            .filter(category_id=self.category_id, language=self.language)
            .exclude(pk=self.pk)
            .order_by("position", "id")[:limit]
        )

    def translations(self) -> "ArticleQuerySet":
        """The published versions of this article in other languages."""
        if not self.translation_key:
            return Article.objects.none()
        return (
            Article.objects.published()
            .filter(translation_key=self.translation_key)
            .exclude(language=self.language)
        )

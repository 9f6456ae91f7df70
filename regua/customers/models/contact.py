from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from regua.core.models import TimeStamped
from regua.lib.brazil import DEFAULT_TIME_ZONE, STATE_CHOICES
from regua.lib.text import fold, search_key


class Stage(models.TextChoices):
    """The lifecycle stage: lead → prospect → customer → inactive / churned."""

    LEAD = "lead", _("Lead")
    PROSPECT = "prospect", _("Prospect")
    CUSTOMER = "customer", _("Customer")
    INACTIVE = "inactive", _("Inactive")
    CHURNED = "churned", _("Churned")


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")


class RelationshipType(models.TextChoices):
    """Piercy's 2×2 of relationship length and closeness (computed later by analytics)."""

    SEEKER = "seeker", _("Relationship seeker")
    LOYAL = "loyal", _("Loyal customer")
    EXPLOITER = "exploiter", _("Relationship exploiter")
    ONE_TIME = "one_time", _("One-time buyer")


class Tag(TimeStamped):
    name = models.CharField(_("name"), max_length=60)
    # The folded name ('cliente vip' for 'Cliente VIP'): one tag however it is written.
    # Computed in Python because SQLite's LOWER() only knows ASCII.
    key = models.CharField(max_length=60, unique=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def key_for(name: str) -> str:
        return " ".join(fold(name).split())[:60]

    def save(self, *args: object, **kwargs: object) -> None:
        self.key = self.key_for(self.name)
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class Contact(TimeStamped):
    """A person the business has a relationship with: lead, prospect or customer."""

    # NULL when absent (not ""): the unique constraints hold only among given values.
    external_id = models.CharField(  # noqa: DJ001
        _("external id"),
        max_length=100,
        null=True,
        blank=True,
        help_text=_("The id of this person in the shop or system that sends the data."),
    )
    email = models.EmailField(_("e-mail"), max_length=254, null=True, blank=True)  # noqa: DJ001
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    # Folded full name ('joao da silva'), the key of name search and of the A–Z ordering.
    search_name = models.CharField(max_length=255, editable=False, default="")
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    state = models.CharField(_("state"), max_length=2, choices=STATE_CHOICES, blank=True)
    country = models.CharField(_("country"), max_length=2, default="BR")
    time_zone = models.CharField(_("time zone"), max_length=64, default=DEFAULT_TIME_ZONE)
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default="pt-br"
    )
    stage = models.CharField(
        _("lifecycle stage"), max_length=10, choices=Stage.choices, default=Stage.LEAD
    )
    source = models.CharField(_("source"), max_length=60, blank=True)
    relationship_type = models.CharField(
        _("relationship type"), max_length=12, choices=RelationshipType.choices, blank=True
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contacts",
        db_index=False,
        # No foreign-key constraint in PostgreSQL: it would check every contact a
        # portfolio hand-over moves, one at a time at commit. Django sets the owner to
        # NULL when a user is deleted; users are deactivated, not deleted.
        db_constraint=False,
    )
    attributes = models.JSONField(_("custom attributes"), default=dict, blank=True)
    tags = models.ManyToManyField(Tag, through="ContactTag", related_name="contacts", blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        # (No INCLUDE columns: Django skips such indexes, and constraints, on SQLite.)
        # Uniqueness by constraints rather than unique=True, so that PostgreSQL gets one
        # index per column, not a second "_like" one: the e-mail index uses the pattern
        # operator class itself, serving both uniqueness and the prefix search. Every
        # index costs each insert; the list filters that need one end in id, so "newest
        # first" walks it (the lifecycle stage has five values and needs none).
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="contact_external_id_unique"),
            models.UniqueConstraint(
                fields=["email"],
                name="contact_email_unique",
                opclasses=["varchar_pattern_ops"],
            ),
        ]
        indexes = [
            models.Index(fields=["search_name", "id"], name="contact_name_idx"),
            models.Index(
                fields=["phone"],
                name="contact_phone_idx",
                opclasses=["varchar_pattern_ops"],
            ),
            models.Index(
                fields=["owner", "id"],
                name="contact_owner_idx",
                condition=models.Q(owner__isnull=False),
            ),
            models.Index(fields=["city", "id"], name="contact_city_idx"),
            # Birthday réguas look up a few exact dates (one per past year).
            models.Index(fields=["birth_date"], name="contact_birth_idx"),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.phone or f"#{self.pk}"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def save(self, *args: object, **kwargs: object) -> None:
        # The search key is a pure function of the name; keeping it here means no caller
        # can forget it. Bulk writers (the importer) call search_key() themselves.
        self.search_name = search_key(self.name)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"first_name", "last_name"} & set(update_fields):  # type: ignore[call-overload]
            kwargs["update_fields"] = {*update_fields, "search_name"}  # type: ignore[misc]
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class ContactTag(models.Model):
    """A tag on a contact. No updated_at: a tagging is added or removed, never changed."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, db_index=False)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["contact", "tag"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "tag"], name="contact_tag_unique"),
        ]
        indexes = [models.Index(fields=["tag", "contact"], name="tag_contact_idx")]

    def __str__(self) -> str:
        return f"{self.contact_id}:{self.tag_id}"


class StageChange(models.Model):
    """Append-only history of a contact's lifecycle stage (no updated_at: never changed)."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=10, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=10, choices=Stage.choices)
    changed_at = models.DateTimeField(_("changed at"))
    source = models.CharField(_("source"), max_length=60, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")

    def __str__(self) -> str:
        return f"{self.from_stage or '∅'} → {self.to_stage}"

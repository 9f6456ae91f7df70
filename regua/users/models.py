import hashlib
import secrets

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from regua.core.models import TimeStamped


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    MANAGER = "manager", _("Manager")
    AGENT = "agent", _("Agent")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: object) -> "User":
        if not email:
            raise ValueError("users need an e-mail address")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> "User":
        fields.update(is_staff=True, is_superuser=True, role=Role.ADMIN)
        return self.create_user(email, password, **fields)


class User(AbstractUser):
    """A member of the business's team; signs in with an e-mail address."""

    username = None  # type: ignore[assignment]
    email = models.EmailField(_("e-mail address"), unique=True)
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.AGENT)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []
    objects = UserManager()  # type: ignore[misc]

    class Meta:
        ordering = ["first_name", "last_name", "email"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    @property
    def manages(self) -> bool:
        """Managers and administrators: they change réguas, programmes and portfolios."""
        return self.is_superuser or self.role in (Role.ADMIN, Role.MANAGER)

    @property
    def sees_all_contacts(self) -> bool:
        """Managers and admins see every contact; agents too unless portfolios are private."""
        from django.conf import settings

        return self.role != Role.AGENT or settings.PORTFOLIO_VISIBILITY == "all"


class ApiKey(TimeStamped):
    """A secret that lets a program act as its user through the REST API.

    Only a SHA-256 digest of the secret is stored: the key is shown once, when created.
    The secret has 256 bits of entropy, so a fast hash is enough (no key stretching).
    """

    PREFIX = "rg_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=100)
    lookup = models.CharField(max_length=12, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.PREFIX}{self.lookup}…)"

    @staticmethod
    def hash(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def generate(cls, *, user: User, name: str) -> tuple["ApiKey", str]:
        """Create a key; returns it with the full token, which is never stored."""
        lookup = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        token = f"{cls.PREFIX}{lookup}_{secret}"
        key = cls.objects.create(user=user, name=name, lookup=lookup, digest=cls.hash(token))
        return key, token

    @classmethod
    def lookup_of(cls, token: str) -> str:
        """The public part of a token, which names its key (rg_<lookup>_<secret>)."""
        return token[len(cls.PREFIX) :].split("_", 1)[0]

    @classmethod
    def authenticate(cls, token: str) -> User | None:
        """The active user a token belongs to, or None."""
        if not token.startswith(cls.PREFIX) or token.count("_") < 2:
            return None
        lookup = cls.lookup_of(token)
        key = cls.objects.select_related("user").filter(lookup=lookup).first()
        if key is None or key.revoked_at or not key.user.is_active:
            return None
        if not secrets.compare_digest(key.digest, cls.hash(token)):
            return None
        now = timezone.now()
        # Record use at most once a minute, so a busy integration does not write per call.
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            cls.objects.filter(pk=key.pk).update(last_used_at=now)
        return key.user

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

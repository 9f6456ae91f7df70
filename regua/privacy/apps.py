from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    """LGPD: the audit log, the data subject's page (export and erasure) and the
    retention of personal data (docs/security.md §LGPD)."""

    name = "regua.privacy"
    label = "privacy"
    verbose_name = _("Privacy")

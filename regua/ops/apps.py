from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    """Running Régua in production: worker heartbeats, the status page, /healthz,
    /metrics and the deploy checks (docs/deploy.md)."""

    name = "regua.ops"
    label = "ops"
    verbose_name = _("Operations")

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the deploy checks)

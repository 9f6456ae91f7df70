from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeskConfig(AppConfig):
    name = "regua.desk"
    label = "desk"
    verbose_name = _("Service desk")

    def ready(self) -> None:
        from . import inbound  # noqa: F401  (connects the inbound e-mail receiver)

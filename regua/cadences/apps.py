from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CadencesConfig(AppConfig):
    name = "regua.cadences"
    label = "cadences"
    verbose_name = _("Réguas")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from . import tracking  # noqa: F401  (connects anymail's tracking signal)
        from .due import register_sqlite_functions

        connection_created.connect(register_sqlite_functions)

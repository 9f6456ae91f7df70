from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "regua.customers"
    label = "customers"
    verbose_name = _("Customer base")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .fts import ensure_sqlite_triggers

        post_migrate.connect(ensure_sqlite_triggers, sender=self)

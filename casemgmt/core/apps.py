from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "casemgmt.core"
    label = "core"
    verbose_name = _("Core: regions, users, audit")

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import dbroles, signals  # noqa: F401

        post_migrate.connect(dbroles.grant_after_migrate, sender=self, dispatch_uid="casemgmt.core.dbroles.grant")

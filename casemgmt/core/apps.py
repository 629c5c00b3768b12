from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "casemgmt.core"
    label = "core"
    verbose_name = _("Core: regions, users, audit")

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import checks, keys, signals  # noqa: F401

        post_migrate.connect(keys.record_after_migrate, sender=self, dispatch_uid="core.keys.record")

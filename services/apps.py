from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServicesConfig(AppConfig):
    name = "services"
    verbose_name = _("Sites, activities, insurance and funds")

    def ready(self):
        from casemgmt.core import reach
        from casemgmt.security import services as security

        from . import retention, scopes

        reach.scopes_declare(scopes.SCOPES)
        security.eraser_declare(retention.family_health_data_erase)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VolunteersConfig(AppConfig):
    name = "volunteers"
    verbose_name = _("Volunteers and training")

    def ready(self):
        from casemgmt.core import reach
        from casemgmt.security import services as security

        from . import scopes
        from .models import Volunteer

        reach.scopes_declare(scopes.SCOPES)
        reach.family_ids_declare(paired=scopes.paired)
        security.subject_declare("volunteer", Volunteer)

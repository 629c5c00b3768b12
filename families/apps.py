from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FamiliesConfig(AppConfig):
    name = "families"
    verbose_name = _("Special families")

    def ready(self):
        from casemgmt.core import reach
        from casemgmt.security import services as security

        from . import retention, scopes
        from .models import FamilyMember

        reach.scopes_declare(scopes.SCOPES)
        reach.family_ids_declare(caseload=scopes.caseload)
        security.eraser_declare(retention.family_personal_data_erase)
        security.subject_declare("member", FamilyMember, belongs_to=("family",))

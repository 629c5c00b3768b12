"""django-import-export resource for volunteer lists (translated headings); its columns as the
privacy policy gives them to the reader (``families.resources.PolicyResource``)."""
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from import_export import fields

from families.resources import PolicyResource

from .models import Volunteer

VOLUNTEER = "volunteers.volunteer"


class VolunteerResource(PolicyResource):
    name = fields.Field(column_name=pgettext_lazy("person", "name"))
    id_number = fields.Field(column_name=_("ID number"))
    phone = fields.Field(column_name=_("phone"))
    region_code = fields.Field(column_name=_("division code"), dehydrate_method=lambda v: v.region.code)
    region = fields.Field(column_name=_("region"), dehydrate_method=lambda v: str(v.region))
    professional_title = fields.Field(column_name=_("professional qualification"),
                                      dehydrate_method=lambda v: v.professional_title)
    status = fields.Field(column_name=_("status"), dehydrate_method=lambda v: v.get_status_display())
    joined_on = fields.Field(column_name=_("joined on"), dehydrate_method=lambda v: v.joined_on)

    governed = {
        "name": (VOLUNTEER, "name"), "id_number": (VOLUNTEER, "id_number"), "phone": (VOLUNTEER, "phone"),
        "region_code": (VOLUNTEER, "region"), "region": (VOLUNTEER, "region"),
        "professional_title": (VOLUNTEER, "professional_title"), "status": (VOLUNTEER, "status"),
        "joined_on": (VOLUNTEER, "joined_on"),
    }

    class Meta:
        model = Volunteer

    def dehydrate_name(self, volunteer):
        return self.carried("name", volunteer.name)

    def dehydrate_id_number(self, volunteer):
        return self.carried("id_number", volunteer.id_number)

    def dehydrate_phone(self, volunteer):
        return self.carried("phone", volunteer.phone)

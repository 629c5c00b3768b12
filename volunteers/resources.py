"""django-import-export resource for volunteer lists (translated headings, masked by default)."""
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from import_export import fields

from families.resources import MaskingResource

from .models import Volunteer


class VolunteerResource(MaskingResource):
    name = fields.Field(column_name=pgettext_lazy("person", "name"))
    id_number = fields.Field(column_name=_("ID number"))
    phone = fields.Field(column_name=_("phone"))
    region_code = fields.Field(column_name=_("division code"), dehydrate_method=lambda v: v.region.code)
    region = fields.Field(column_name=_("region"), dehydrate_method=lambda v: str(v.region))
    professional_title = fields.Field(column_name=_("professional qualification"),
                                      dehydrate_method=lambda v: v.professional_title)
    status = fields.Field(column_name=_("status"), dehydrate_method=lambda v: v.get_status_display())
    joined_on = fields.Field(column_name=_("joined on"), dehydrate_method=lambda v: v.joined_on)

    class Meta:
        model = Volunteer

    def dehydrate_name(self, volunteer):
        return self.name_of(volunteer.name)

    def dehydrate_id_number(self, volunteer):
        return self.id_of(volunteer.id_number)

    def dehydrate_phone(self, volunteer):
        return self.phone_of(volunteer.phone)

"""django-import-export resources for family lists: the columns (with translated headings) and masking.

``masked=True`` (the default) masks names, ID numbers and phones; only the export service in
``reports.exports`` decides, by role and with a reason, to ask for ``masked=False``.
"""
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from import_export import fields, resources

from casemgmt.core.idcard import mask_id_number, mask_name, mask_phone

from .models import AssistanceEnrollment, FamilyMember


class MaskingResource(resources.Resource):
    def __init__(self, *, masked=True, **kwargs):
        super().__init__(**kwargs)
        self.masked = masked

    def name_of(self, name):
        return mask_name(name) if self.masked else name

    def id_of(self, number):
        return mask_id_number(number) if self.masked else number

    def phone_of(self, phone):
        return mask_phone(phone) if self.masked else phone


class FamilyMemberResource(MaskingResource):
    """A family list, one row per member (the shape of the import template)."""

    file_number = fields.Field(column_name=_("file number"), dehydrate_method=lambda m: m.family.file_number)
    region_code = fields.Field(column_name=_("division code"), dehydrate_method=lambda m: m.family.region.code)
    region = fields.Field(column_name=_("region"), dehydrate_method=lambda m: str(m.family.region))
    category = fields.Field(column_name=_("category"), dehydrate_method=lambda m: m.family.get_category_display())
    status = fields.Field(column_name=_("status"), dehydrate_method=lambda m: m.family.get_status_display())
    name = fields.Field(column_name=pgettext_lazy("person", "name"))
    relation = fields.Field(column_name=_("relation"), dehydrate_method=lambda m: m.get_relation_display())
    id_number = fields.Field(column_name=_("ID number"))
    phone = fields.Field(column_name=_("phone"))
    deceased = fields.Field(column_name=_("deceased"), dehydrate_method=lambda m: str(_("yes") if m.is_deceased else _("no")))

    class Meta:
        model = FamilyMember

    def dehydrate_name(self, member):
        return self.name_of(member.name)

    def dehydrate_id_number(self, member):
        return self.id_of(member.id_number)

    def dehydrate_phone(self, member):
        return self.phone_of(member.phone)


class PublicPostingResource(MaskingResource):
    """The list posted publicly (张榜公示): names and ID numbers always masked, whoever exports it."""

    region = fields.Field(column_name=_("region"), dehydrate_method=lambda e: str(e.family.region))
    name = fields.Field(column_name=pgettext_lazy("person", "name"), dehydrate_method=lambda e: mask_name(e.member.name))
    id_number = fields.Field(column_name=_("ID number"), dehydrate_method=lambda e: mask_id_number(e.member.id_number))
    category = fields.Field(column_name=_("category"), dehydrate_method=lambda e: e.family.get_category_display())
    status = fields.Field(column_name=_("status"), dehydrate_method=lambda e: e.get_status_display())

    class Meta:
        model = AssistanceEnrollment

    def __init__(self, **kwargs):
        super().__init__(masked=True)

"""django-import-export resources for family lists: the columns (with translated headings), each
given to the reader as the privacy policy says (``core.privacy.export_access``).

Each resource names, for every column that carries a field of a family or a person, the governed
field it carries (``governed``): that column is masked or left out as the policy has it for the
reader and the kind of list; only the export service in ``reports.exports`` asks for an unmasked
list, and the policy grants it only to the roles that may have one.
"""
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from import_export import fields, resources

from casemgmt.core import privacy

from .models import AssistanceEnrollment, FamilyMember

FAMILY, MEMBER, ENROLLMENT = "families.family", "families.familymember", "families.assistanceenrollment"


class PolicyResource(resources.Resource):
    """A list whose columns come from the policy. ``governed``: column → (model label, field)."""

    governed = {}

    def __init__(self, *, reader, unmasked=False, **kwargs):
        super().__init__(**kwargs)
        self.access = {column: privacy.export_access(reader, label, name, unmasked=unmasked)
                       for column, (label, name) in self.governed.items()}
        for column, how in self.access.items():
            if how == privacy.Access.HIDDEN:
                del self.fields[column]

    def carried(self, column, value):
        """``value`` of ``column`` as this list carries it for its reader."""
        label, name = self.governed[column]
        return privacy.export_value(label, name, value, self.access[column])

    def fields_carried(self, how):
        """The governed fields (``label.field``) this list carries as ``how``, for its audit row."""
        return sorted({f"{label}.{name}" for column, (label, name) in self.governed.items()
                       if self.access[column] == how})


class FamilyMemberResource(PolicyResource):
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

    governed = {
        "file_number": (FAMILY, "file_number"), "region_code": (FAMILY, "region"), "region": (FAMILY, "region"),
        "category": (FAMILY, "category"), "status": (FAMILY, "status"), "name": (MEMBER, "name"),
        "relation": (MEMBER, "relation"), "id_number": (MEMBER, "id_number"), "phone": (MEMBER, "phone"),
        "deceased": (MEMBER, "is_deceased"),
    }

    class Meta:
        model = FamilyMember

    def dehydrate_name(self, member):
        return self.carried("name", member.name)

    def dehydrate_id_number(self, member):
        return self.carried("id_number", member.id_number)

    def dehydrate_phone(self, member):
        return self.carried("phone", member.phone)


class PublicPostingResource(PolicyResource):
    """The list posted publicly (张榜公示): masked whoever exports it (names and ID numbers as such
    lists show them, 王*英, 350623********1234), without columns the reader never gets."""

    region = fields.Field(column_name=_("region"), dehydrate_method=lambda e: str(e.family.region))
    name = fields.Field(column_name=pgettext_lazy("person", "name"))
    id_number = fields.Field(column_name=_("ID number"))
    category = fields.Field(column_name=_("category"), dehydrate_method=lambda e: e.family.get_category_display())
    status = fields.Field(column_name=_("status"), dehydrate_method=lambda e: e.get_status_display())

    governed = {
        "region": (FAMILY, "region"), "name": (MEMBER, "name"), "id_number": (MEMBER, "id_number"),
        "category": (FAMILY, "category"), "status": (ENROLLMENT, "status"),
    }

    class Meta:
        model = AssistanceEnrollment

    def __init__(self, *, reader, unmasked=False, **kwargs):
        super().__init__(reader=reader, unmasked=False, **kwargs)

    def dehydrate_name(self, enrollment):
        return self.carried("name", enrollment.member.name)

    def dehydrate_id_number(self, enrollment):
        return self.carried("id_number", enrollment.member.id_number)

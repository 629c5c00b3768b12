"""django-import-export resource for the insurer's roster (名单) sent for a policy renewal; its
columns as the privacy policy gives them to the reader (``families.resources.PolicyResource``)."""
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from import_export import fields

from families.resources import FAMILY, MEMBER, PolicyResource

from .models import InsuredPerson


class InsuredPersonResource(PolicyResource):
    policy_number = fields.Field(column_name=_("policy number"), dehydrate_method=lambda p: p.policy.policy_number)
    name = fields.Field(column_name=pgettext_lazy("person", "name"))
    sex = fields.Field(column_name=_("sex"), dehydrate_method=lambda p: p.member.get_sex_display())
    birth_date = fields.Field(column_name=_("birth date"), dehydrate_method=lambda p: p.member.birth_date)
    id_number = fields.Field(column_name=_("ID number"))
    phone = fields.Field(column_name=_("phone"))
    region = fields.Field(column_name=_("region"), dehydrate_method=lambda p: str(p.member.family.region))
    premium = fields.Field(column_name=_("premium for this person (CNY)"), dehydrate_method=lambda p: p.premium)

    governed = {
        "name": (MEMBER, "name"), "sex": (MEMBER, "sex"), "birth_date": (MEMBER, "birth_date"),
        "id_number": (MEMBER, "id_number"), "phone": (MEMBER, "phone"), "region": (FAMILY, "region"),
    }

    class Meta:
        model = InsuredPerson

    def dehydrate_name(self, person):
        return self.carried("name", person.member.name)

    def dehydrate_id_number(self, person):
        return self.carried("id_number", person.member.id_number)

    def dehydrate_phone(self, person):
        return self.carried("phone", person.member.phone)

"""List exports to Excel, their columns as the privacy policy gives them to the reader
(``core.privacy.export_access``): masked by default; unmasked only for the roles the policy names,
with a reason and a fresh second factor. Every export leaves an audit row naming the fields it
carried, in plaintext and masked.

The public-posting list (公示) is always masked; the insurer roster lists the living people insured
under one policy, for its renewal.
"""
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casemgmt.core import privacy, reach
from casemgmt.core.audit import audit_log
from casemgmt.core.errors import OutOfReachError
from families.consent import EXPORT_PURPOSES, consent_filter
from families.models import AssistanceEnrollment, FamilyMember
from families.resources import FamilyMemberResource, PublicPostingResource
from services.models import InsurancePolicy, InsuredPerson
from services.resources import InsuredPersonResource
from volunteers.models import Volunteer
from volunteers.resources import VolunteerResource

from .excel import list_workbook

UNMASKED_ACT = "export.unmasked"


class StepUpRequired(PermissionDenied):
    """The act needs a second factor entered in the last few minutes (``security.stepup``)."""




def _in_region(queryset, path_field, region):
    return queryset.filter(**{f"{path_field}__startswith": region.path}) if region else queryset


def _records(actor, kind, region, policy_id):
    if kind == "families":
        qs = _in_region(reach.restrict(FamilyMember.objects.all(), actor), "family__region_path", region)
        return qs.select_related("family__region").order_by("family__file_number", "relation", "pk"), FamilyMemberResource
    if kind == "volunteers":
        qs = _in_region(reach.restrict(Volunteer.objects.all(), actor), "region__path", region)
        return qs.select_related("region").order_by("name", "pk"), VolunteerResource
    if kind == "public_posting":
        qs = _in_region(reach.restrict(AssistanceEnrollment.objects.all(), actor), "family__region_path", region)
        qs = qs.filter(status__in=(AssistanceEnrollment.Status.APPLIED, AssistanceEnrollment.Status.APPROVED))
        return qs.select_related("family__region", "member").order_by("family__region_path", "pk"), PublicPostingResource
    if kind == "insurer_roster":
        policy = reach.restrict(InsurancePolicy.objects.all(), actor).filter(pk=policy_id or 0).first()
        if policy is None:
            raise OutOfReachError()
        qs = reach.restrict(InsuredPerson.objects.all(), actor).filter(policy=policy, member__is_deceased=False)
        return qs.select_related("policy", "member__family__region").order_by("member__family__file_number", "pk"), \
            InsuredPersonResource
    raise KeyError(kind)


TITLES = {"families": gettext_lazy("families"), "volunteers": gettext_lazy("volunteers"),
          "public_posting": gettext_lazy("public posting"), "insurer_roster": gettext_lazy("insurer roster")}


def public_posting_table(*, actor, region=None, ip=None):
    """(headings, rows) of the public posting list (公示名单) in the actor's reach and ``region``, as
    the export policy gives it (always masked; consenting people only), for the statistics workbook.
    Audited like the list export it is."""
    queryset, resource_class = _records(actor, "public_posting", region, None)
    objects = list(consent_filter(queryset, EXPORT_PURPOSES["public_posting"]))
    resource = resource_class(reader=actor)
    dataset = resource.export(queryset=objects)
    audit_log(actor=actor, event="reports.export.masked", objects=objects,
              region_path=region.path if region else actor.reach_path, ip=ip,
              after={"list": "public_posting", "rows": len(objects), "fields": resource.fields_carried(privacy.Access.SHOW),
                     "masked": resource.fields_carried(privacy.Access.MASKED)})
    return dataset.headers, list(dataset)


def list_export(*, actor, kind, region=None, unmasked=False, reason="", policy_id=None, ip=None, stepped_up=False):
    """(file name, workbook bytes) of the list ``kind`` within the actor's reach and ``region``.
    ``stepped_up``: the request carries a fresh second factor (``security.stepup.step_up_ok``)."""
    reason = (reason or "").strip()
    if unmasked:
        if kind == "public_posting" or not privacy.may_export_unmasked(actor):
            raise PermissionDenied(_("Your role may not export unmasked personal data."))
        reason = privacy.clean_reason(reason)
        if privacy.needs_step_up(UNMASKED_ACT) and not stepped_up:
            raise StepUpRequired(_("Enter a code from your authenticator again before an unmasked export."))
    queryset, resource_class = _records(actor, kind, region, policy_id)
    if kind in EXPORT_PURPOSES:
        # Lists that leave the casework (posted publicly, sent to an insurer) carry only consenting people.
        queryset = consent_filter(queryset, EXPORT_PURPOSES[kind])
    objects = list(queryset)
    resource = resource_class(reader=actor, unmasked=unmasked)
    dataset = resource.export(queryset=objects)
    data = list_workbook(str(TITLES[kind]), dataset.headers, dataset)
    audit_log(actor=actor, event="reports.export.unmasked" if unmasked else "reports.export.masked", objects=objects,
              region_path=region.path if region else actor.reach_path, reason=reason, ip=ip,
              after={"list": kind, "rows": len(objects), "fields": resource.fields_carried(privacy.Access.SHOW),
                     "masked": resource.fields_carried(privacy.Access.MASKED)})
    return f"{kind}.xlsx", data

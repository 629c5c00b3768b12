"""List exports to Excel: masked by default; unmasked only for entitled roles, with a reason, audited.

The public-posting list (公示) is always masked; the insurer roster lists the living people insured
under one policy, for its renewal.
"""
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casemgmt.core import reach
from casemgmt.core.audit import audit_log
from casemgmt.core.errors import OutOfReachError
from casemgmt.core.models import Role
from casemgmt.security.consent import EXPORT_PURPOSES, consent_filter
from families.models import AssistanceEnrollment, FamilyMember
from families.resources import FamilyMemberResource, PublicPostingResource
from services.models import InsurancePolicy, InsuredPerson
from services.resources import InsuredPersonResource
from volunteers.models import Volunteer
from volunteers.resources import VolunteerResource

from .excel import list_workbook

UNMASKED_ROLES = frozenset({Role.ADMIN, Role.REGION_MANAGER, Role.SOCIAL_WORKER})


def may_export_unmasked(user):
    return bool(user.is_superuser or user.role in UNMASKED_ROLES)


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


def list_export(*, actor, kind, region=None, unmasked=False, reason="", policy_id=None, ip=None):
    """(file name, workbook bytes) of the list ``kind`` within the actor's reach and ``region``."""
    reason = (reason or "").strip()
    if unmasked:
        if kind == "public_posting" or not may_export_unmasked(actor):
            raise PermissionDenied(_("Your role may not export unmasked personal data."))
        if not reason:
            raise ValidationError({"reason": _("Say why you need the unmasked list.")}, code="required")
    queryset, resource_class = _records(actor, kind, region, policy_id)
    if kind in EXPORT_PURPOSES:
        # Lists that leave the casework (posted publicly, sent to an insurer) carry only consenting people.
        queryset = consent_filter(queryset, EXPORT_PURPOSES[kind])
    objects = list(queryset)
    resource = resource_class(masked=not unmasked)
    dataset = resource.export(queryset=objects)
    data = list_workbook(str(TITLES[kind]), dataset.headers, dataset)
    audit_log(actor=actor, event="reports.export.unmasked" if unmasked else "reports.export.masked", objects=objects,
              region_path=region.path if region else actor.reach_path, reason=reason, ip=ip,
              after={"list": kind, "rows": len(objects)})
    return f"{kind}.xlsx", data

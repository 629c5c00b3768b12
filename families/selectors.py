"""Reads about families, already scoped to the reader (``reach.restrict``): views never see more."""
import re

from django.db.models import Prefetch, Q

from casemgmt.core.crypto import blind_index
from casemgmt.core.idcard import normalize_id_number
from casemgmt.core.reach import restrict

from .models import (
    AnnualReview,
    Assessment,
    AssessmentScale,
    AssistanceEnrollment,
    CarePlan,
    CarePlanGoal,
    CareTask,
    CheckIn,
    ConsentRecord,
    ContactAssignment,
    Family,
    FamilyMember,
    FamilyStatusChange,
    FamilyTransfer,
    RiskLevelChange,
)

ID_NUMBER_RE = re.compile(r"^\d{17}[\dXx]$")
PHONE_RE = re.compile(r"^\+?\d{7,15}$")


def active_assignments():
    return Prefetch(
        "assignments", to_attr="active_assignments",
        queryset=ContactAssignment.objects.filter(ended_on__isnull=True).select_related("user"),
    )


def family_list(*, user):
    queryset = Family.objects.select_related("region").prefetch_related(
        Prefetch("members", queryset=FamilyMember.objects.order_by("relation", "id")), active_assignments(),
    )
    return restrict(queryset, user)


def family_search(queryset, q):
    """Names (characters, pinyin, pinyin initials), file number, exact ID number or phone."""
    q = (q or "").strip()
    if not q:
        return queryset
    if ID_NUMBER_RE.match(q):
        digest = blind_index(normalize_id_number(q), "id_number")
        return queryset.filter(pk__in=FamilyMember.objects.filter(id_number_index=digest).values("family_id"))
    if PHONE_RE.match(q):
        digest = blind_index(q, "phone")
        members = FamilyMember.objects.filter(phone_index=digest).values("family_id")
        return queryset.filter(Q(pk__in=members) | Q(file_number__icontains=q))
    lowered = q.lower().replace(" ", "")
    members = FamilyMember.objects.filter(
        Q(name__contains=q) | Q(name_pinyin__startswith=lowered) | Q(name_pinyin__contains=lowered)
        | Q(name_initials__startswith=lowered)
    ).values("family_id")
    return queryset.filter(Q(pk__in=members) | Q(file_number__icontains=q) | Q(address__contains=q))


def member_list(*, user):
    return restrict(FamilyMember.objects.select_related("family"), user)


def assignment_list(*, user):
    return restrict(ContactAssignment.objects.select_related("user", "assigned_by", "family"), user)


def checkin_list(*, user):
    return restrict(CheckIn.objects.select_related("recorded_by", "family"), user)


def assessment_list(*, user):
    return restrict(Assessment.objects.select_related("scale", "assessed_by", "member", "family"), user)


def scale_list(*, user):
    return restrict(AssessmentScale.objects.all(), user)


def careplan_list(*, user):
    return restrict(CarePlan.objects.select_related("owner", "family").prefetch_related("goals"), user)


def goal_list(*, user):
    return restrict(CarePlanGoal.objects.select_related("plan"), user)


def task_list(*, user):
    return restrict(CareTask.objects.select_related("assignee", "family"), user)


def enrollment_list(*, user):
    return restrict(AssistanceEnrollment.objects.select_related("member", "family"), user)


def review_list(*, user):
    return restrict(AnnualReview.objects.select_related("enrollment", "reviewer"), user)


def consent_list(*, user):
    return restrict(ConsentRecord.objects.select_related("member", "recorded_by", "family"), user)


def transfer_list(*, user):
    return restrict(FamilyTransfer.objects.select_related("from_region", "to_region", "requested_by", "decided_by",
                                                          "family"), user)


def status_history(*, user, family):
    return restrict(FamilyStatusChange.objects.filter(family=family).select_related("changed_by"), user)


def risk_history(*, user, family):
    return restrict(RiskLevelChange.objects.filter(family=family).select_related("changed_by"), user)

"""Reads about sites, activities, insurance and funds, already scoped to the user (``reach.restrict``),
with what their lists show loaded once (a list costs the same for 1 row or 50)."""
from decimal import Decimal

from django.db.models import DecimalField, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from casemgmt.core.reach import restrict
from families.models import Family, FamilyMember
from volunteers.models import Volunteer
from volunteers.selectors import count_of

from .models import (
    Activity,
    ActivityAttendance,
    ActivityInvitation,
    ConsolationVisit,
    Disbursement,
    Fund,
    HealthCheckup,
    InsuranceClaim,
    InsurancePolicy,
    InsuredPerson,
    PremiumPayment,
    ServiceSite,
)

# The family a member's row belongs to, so read audits can name it.
FAMILY_ID = {"family_id": F("member__family_id")}


def site_list(*, user):
    return restrict(ServiceSite.objects.select_related("region"), user)


def activity_list(*, user):
    return restrict(Activity.objects.select_related("region", "site").annotate(
        attendance_count=count_of(ActivityAttendance.objects.filter(activity=OuterRef("pk")))), user)


def attendance_list(*, user):
    queryset = ActivityAttendance.objects.select_related("activity__region", "member__family", "volunteer")
    return restrict(queryset.annotate(**FAMILY_ID), user)


def invitation_list(*, user):
    queryset = ActivityInvitation.objects.select_related("activity__region", "member__family__region", "volunteer")
    return restrict(queryset.annotate(**FAMILY_ID), user)


def invitation_candidates(*, user, activity, q="", limit=50):
    """Who may still be invited to ``activity``: living members of open families and active
    volunteers, in the user's reach and inside the activity's region, not invited yet; ``q``
    narrows by name or file number. ([members], [volunteers]), each at most ``limit``."""
    path = activity.region.path
    members = restrict(FamilyMember.objects.filter(
        is_deceased=False, family__status__in=(Family.Status.REGISTERED, Family.Status.ACTIVE),
        family__region_path__startswith=path,
    ).exclude(activity_invitations__activity=activity).select_related("family__region"), user)
    volunteers = restrict(Volunteer.objects.filter(status=Volunteer.Status.ACTIVE, region__path__startswith=path)
                          .exclude(activity_invitations__activity=activity).select_related("region"), user)
    if q:
        members = members.filter(Q(name__contains=q) | Q(family__file_number__icontains=q))
        volunteers = volunteers.filter(name__contains=q)
    return (list(members.order_by("family__file_number", "id")[:limit]),
            list(volunteers.order_by("name", "id")[:limit]))


def fund_list(*, user):
    """Funds with what has been paid out of them so far."""
    spent = (
        Disbursement.objects.filter(fund=OuterRef("pk")).order_by().values("fund")
        .annotate(total=Sum("amount")).values("total")
    )
    money = DecimalField(max_digits=14, decimal_places=2)
    return restrict(
        Fund.objects.select_related("region").annotate(spent=Coalesce(Subquery(spent, output_field=money), Value(Decimal("0")),
                                                                      output_field=money)),
        user,
    )


def policy_list(*, user):
    return restrict(InsurancePolicy.objects.select_related("region").annotate(
        roster_size=count_of(InsuredPerson.objects.filter(policy=OuterRef("pk")))), user)


def roster_list(*, user):
    return restrict(InsuredPerson.objects.select_related("policy", "member__family").annotate(**FAMILY_ID)
                    .order_by("-policy__starts_on", "policy_id", "id"), user)


def claim_list(*, user):
    return restrict(InsuranceClaim.objects.select_related("policy", "member__family").annotate(**FAMILY_ID), user)


def disbursement_list(*, user):
    return restrict(Disbursement.objects.select_related("fund__region", "family", "member", "volunteer"), user)


def premium_payment_list(*, user):
    return restrict(PremiumPayment.objects.select_related("policy__region", "member").annotate(**FAMILY_ID), user)


def consolation_visit_list(*, user):
    return restrict(ConsolationVisit.objects.select_related("family", "member", "visitor", "fund"), user)


def checkup_list(*, user):
    return restrict(HealthCheckup.objects.select_related("member__family", "site").annotate(**FAMILY_ID), user)

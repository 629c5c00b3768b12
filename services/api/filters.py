"""Filters of the services API: region subtree (``region_id`` / ``region``), status, dates and ``q``."""
import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from casemgmt.api.filters import RegionSubtreeFilterSet

from ..models import (
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


class ServiceSiteFilter(RegionSubtreeFilterSet):
    open = django_filters.BooleanFilter(field_name="closed_on", lookup_expr="isnull", label=_("still open"))
    q = django_filters.CharFilter(method="filter_q", label=_("name, address or partner"))

    class Meta:
        model = ServiceSite
        fields = ["kind"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(address__icontains=value) | Q(partner__icontains=value))


class ActivityFilter(RegionSubtreeFilterSet):
    starts = django_filters.DateFromToRangeFilter(field_name="starts_at__date", label=_("starting between"))
    q = django_filters.CharFilter(method="filter_q", label=_("title or local name"))

    class Meta:
        model = Activity
        fields = ["category", "status", "site"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(title__icontains=value) | Q(local_name__icontains=value))


class ActivityAttendanceFilter(RegionSubtreeFilterSet):
    region_path_field = "activity__region__path"
    checked_in = django_filters.DateFromToRangeFilter(field_name="checked_in_at__date")

    class Meta:
        model = ActivityAttendance
        fields = ["activity", "member", "volunteer", "method"]


class ActivityInvitationFilter(RegionSubtreeFilterSet):
    region_path_field = "activity__region__path"

    class Meta:
        model = ActivityInvitation
        fields = ["activity", "member", "volunteer", "status"]


class FundFilter(RegionSubtreeFilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("name or source"))

    class Meta:
        model = Fund
        fields = ["programme", "year"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(source__icontains=value))


class InsurancePolicyFilter(RegionSubtreeFilterSet):
    starts = django_filters.DateFromToRangeFilter(field_name="starts_on")
    ends = django_filters.DateFromToRangeFilter(field_name="ends_on")
    q = django_filters.CharFilter(method="filter_q", label=_("insurer or policy number"))

    class Meta:
        model = InsurancePolicy
        fields = ["status", "product_kind", "fund"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(insurer__icontains=value) | Q(policy_number__icontains=value))


class MemberSearchMixin(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("member name or pinyin"))

    def filter_q(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(member__name__contains=value) | Q(member__name_pinyin__startswith=value.lower())
                               | Q(member__name_initials__startswith=value.lower()))


class InsuredPersonFilter(MemberSearchMixin, RegionSubtreeFilterSet):
    region_path_field = "member__family__region_path"

    class Meta:
        model = InsuredPerson
        fields = ["policy", "member"]


class InsuranceClaimFilter(MemberSearchMixin, RegionSubtreeFilterSet):
    region_path_field = "member__family__region_path"
    filed = django_filters.DateFromToRangeFilter(field_name="filed_on")
    incident = django_filters.DateFromToRangeFilter(field_name="incident_date")

    class Meta:
        model = InsuranceClaim
        fields = ["policy", "member", "status"]


class PremiumPaymentFilter(RegionSubtreeFilterSet):
    region_path_field = "policy__region__path"
    paid = django_filters.DateFromToRangeFilter(field_name="paid_on")

    class Meta:
        model = PremiumPayment
        fields = ["policy", "member"]


class ConsolationVisitFilter(RegionSubtreeFilterSet):
    region_path_field = "family__region_path"
    visited = django_filters.DateFromToRangeFilter(field_name="visited_on")
    q = django_filters.CharFilter(method="filter_q", label=_("visiting party, occasion or goods"))

    class Meta:
        model = ConsolationVisit
        fields = ["family", "member", "visitor", "fund"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(visiting_party__icontains=value) | Q(occasion__icontains=value)
                               | Q(goods__icontains=value))


class DisbursementFilter(RegionSubtreeFilterSet):
    region_path_field = "fund__region__path"
    paid = django_filters.DateFromToRangeFilter(field_name="paid_on")
    q = django_filters.CharFilter(method="filter_q", label=_("recipient, goods or description"))

    class Meta:
        model = Disbursement
        fields = ["fund", "kind", "family", "member", "volunteer", "period"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(recipient_name__icontains=value) | Q(goods__icontains=value)
                               | Q(description__icontains=value) | Q(member__name__contains=value))


class HealthCheckupFilter(MemberSearchMixin, RegionSubtreeFilterSet):
    region_path_field = "member__family__region_path"
    date = django_filters.DateFromToRangeFilter(field_name="date")

    class Meta:
        model = HealthCheckup
        fields = ["member", "site", "is_free"]

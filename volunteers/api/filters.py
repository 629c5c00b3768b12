"""Filters of the volunteers API: region subtree (``region_id`` / ``region``), status, dates and ``q``."""
import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from casemgmt.api.filters import RegionSubtreeFilterSet
from casemgmt.core import privacy
from casemgmt.core.crypto import blind_index
from casemgmt.core.idcard import normalize_id_number

from ..models import Enrollment, Pairing, Qualification, ServiceHours, Skill, Team, TrainingCourse, TrainingSession, Volunteer


class SkillFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("name or code"))

    class Meta:
        model = Skill
        fields = ["is_professional"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(code__icontains=value))


class TeamFilter(RegionSubtreeFilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=pgettext_lazy("thing", "name"))

    class Meta:
        model = Team
        fields = []


class VolunteerFilter(RegionSubtreeFilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("name, pinyin initials, exact phone or ID number"))
    skill = django_filters.NumberFilter(field_name="skills", label=_("skill id"))
    joined = django_filters.DateFromToRangeFilter(field_name="joined_on")

    class Meta:
        model = Volunteer
        fields = ["status", "team"]

    def filter_q(self, queryset, name, value):
        value = value.strip()
        condition = Q(name__contains=value) | Q(name_initials__startswith=value.lower())
        # Phone and ID number are encrypted: only an exact match through their blind index works, and
        # only for a reader who gets the field at all (a search would tell them the value).
        user = getattr(self.request, "user", None)
        if privacy.searchable(user, Volunteer, "phone"):
            condition |= Q(phone_index=blind_index(value, "phone"))
        if privacy.searchable(user, Volunteer, "id_number"):
            condition |= Q(id_number_index=blind_index(normalize_id_number(value), "id_number"))
        return queryset.filter(condition)


class TrainingCourseFilter(RegionSubtreeFilterSet):
    q = django_filters.CharFilter(method="filter_q", label=_("title or qualification"))

    class Meta:
        model = TrainingCourse
        fields = ["skill"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(title__icontains=value) | Q(qualification_name__icontains=value))


class TrainingSessionFilter(RegionSubtreeFilterSet):
    starts = django_filters.DateFromToRangeFilter(field_name="starts_at__date", label=_("starting between"))
    q = django_filters.CharFilter(method="filter_q", label=_("course title, venue or trainer"))

    class Meta:
        model = TrainingSession
        fields = ["course", "status"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(course__title__icontains=value) | Q(venue__icontains=value) | Q(trainer__icontains=value))


class EnrollmentFilter(RegionSubtreeFilterSet):
    region_path_field = "session__region__path"
    q = django_filters.CharFilter(field_name="volunteer__name", lookup_expr="contains", label=_("volunteer name"))

    class Meta:
        model = Enrollment
        fields = ["session", "volunteer", "status"]


class QualificationFilter(RegionSubtreeFilterSet):
    region_path_field = "volunteer__region__path"
    expires = django_filters.DateFromToRangeFilter(field_name="expires_on", label=_("expiring between"))
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=pgettext_lazy("thing", "name"))

    class Meta:
        model = Qualification
        fields = ["volunteer", "course"]


class PairingFilter(RegionSubtreeFilterSet):
    region_path_field = "family__region_path"
    active = django_filters.BooleanFilter(field_name="ended_on", lookup_expr="isnull", label=_("still active"))

    class Meta:
        model = Pairing
        fields = ["volunteer", "family"]


class ServiceHoursFilter(RegionSubtreeFilterSet):
    region_path_field = "volunteer__region__path"
    date = django_filters.DateFromToRangeFilter(field_name="date")
    q = django_filters.CharFilter(method="filter_q", label=_("volunteer name or description"))

    class Meta:
        model = ServiceHours
        fields = ["volunteer", "family", "activity", "status"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(volunteer__name__contains=value) | Q(description__icontains=value))

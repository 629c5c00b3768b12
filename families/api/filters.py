"""Filters of the families API (NetBox style: ``region_id`` / ``region`` subtree pair, ``q`` search)."""
import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from casemgmt.api.filters import RegionSubtreeFilterSet

from ..models import CareTask, Family
from ..selectors import family_search


class FamilyFilter(RegionSubtreeFilterSet):
    region_path_field = "region_path"

    q = django_filters.CharFilter(method="filter_q", label=_("search: name, pinyin, initials, file number, ID number, phone"))
    category = django_filters.ChoiceFilter(choices=Family._meta.get_field("category").choices)
    status = django_filters.MultipleChoiceFilter(choices=Family.Status.choices)
    risk_level = django_filters.MultipleChoiceFilter(choices=Family._meta.get_field("risk_level").choices)
    due_before = django_filters.DateFilter(field_name="next_checkin_due", lookup_expr="lte",
                                           label=_("next check-in due on or before"))
    due_after = django_filters.DateFilter(field_name="next_checkin_due", lookup_expr="gte",
                                          label=_("next check-in due on or after"))
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("check-in overdue"))

    class Meta:
        model = Family
        fields = ["category", "status", "risk_level", "residence"]

    def filter_q(self, queryset, name, value):
        request = self.request
        params = getattr(request, "query_params", None) or getattr(request, "GET", {})
        ordering = params.get("ordering", "") if request is not None else None
        return family_search(queryset=queryset, q=value, reader=getattr(request, "user", None),
                             file_number_order=ordering in ("", "file_number"))

    def filter_overdue(self, queryset, name, value):
        today = timezone.localdate()
        if value:
            return queryset.filter(next_checkin_due__lt=today, status__in=["registered", "active"])
        return queryset.exclude(next_checkin_due__lt=today, status__in=["registered", "active"])




class CareTaskFilter(django_filters.FilterSet):
    holder = django_filters.NumberFilter(field_name="holder", label=_(
        "held now by (user id): tasks follow the family's current assignment, as Today shows them"))

    class Meta:
        model = CareTask
        fields = {"family": ["exact"], "status": ["exact"], "kind": ["exact"], "assignee": ["exact"],
                  "due_on": ["lte", "gte"]}

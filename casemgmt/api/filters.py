"""Filter building blocks: a cheaper FilterSet, and the ``region_id`` / ``region`` (code) pair
meaning "in this subtree"."""
import copy

import django_filters
from django.http import QueryDict
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_filters.filters import FilterMethod

from casemgmt.core.models import Region

_form_classes = {}


class FilterSet(django_filters.FilterSet):
    """django-filter's FilterSet without its fixed cost per request: it deep-copies every filter and
    builds a new form class (every filter's form field, its label looked up) for each request, on
    every list and search (bench/README.md). The filters here are declared on the
    class and hold no state of a request but ``model`` and ``parent``, so each is copied shallowly,
    and the form class is built once per FilterSet and language (the labels are translated)."""

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {name: copy.copy(filter_) for name, filter_ in self.base_filters.items()}
        for filter_ in self.filters.values():
            filter_.model = queryset.model
            filter_.parent = self
            if filter_.method is not None:  # its proxy must call this FilterSet's method
                filter_.filter = FilterMethod(filter_)

    def get_form_class(self):
        key = (type(self), get_language())
        if key not in _form_classes:
            _form_classes[key] = super().get_form_class()
        return _form_classes[key]


class RegionSubtreeFilterSet(FilterSet):
    """Subclasses set ``region_path_field`` to the lookup of a region path string on their model
    (``"region_path"`` for a family, ``"region__path"`` for a team …)."""

    region_path_field = "region__path"

    region_id = django_filters.NumberFilter(method="filter_region_id", label=_("region id (its whole subtree)"))
    region = django_filters.CharFilter(method="filter_region_code", label=_("region code (its whole subtree)"))

    def _subtree(self, queryset, region):
        if region is None:
            return queryset.none()
        return queryset.filter(**{f"{self.region_path_field}__startswith": region.path})

    def filter_region_id(self, queryset, name, value):
        return self._subtree(queryset, Region.objects.filter(pk=value).only("path").first())

    def filter_region_code(self, queryset, name, value):
        return self._subtree(queryset, Region.objects.filter(code=Region.normalize_code(value)).only("path").first())

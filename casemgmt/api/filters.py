"""Filter building blocks: the ``region_id`` / ``region`` (code) pair meaning "in this subtree"."""
import django_filters
from django.utils.translation import gettext_lazy as _

from casemgmt.core.models import Region


class RegionSubtreeFilterSet(django_filters.FilterSet):
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

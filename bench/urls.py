"""The project's URLs plus ``bench/bare/...``: the limits the real endpoints are compared with."""
from django.urls import include, path

from . import bare

urlpatterns = [
    path("bench/bare/caseload", bare.caseload),
    path("bench/bare/family/<int:pk>", bare.family_detail),
    path("bench/bare/search", bare.search),
    path("bench/bare/checkin", bare.checkin),
    path("", include("casemgmt.urls")),
]

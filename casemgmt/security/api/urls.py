"""Plain routes of the security app under /api/v1/ (no model viewsets, so no router entries)."""
from django.urls import path

from . import views

routes = []
urlpatterns = [
    path("break-glass/", views.BreakGlassView.as_view(), name="break-glass"),
    path("break-glass/<int:pk>/revoke/", views.BreakGlassRevokeView.as_view(), name="break-glass-revoke"),
    path("family-messages/", views.FamilyMessageView.as_view(), name="family-messages"),
]

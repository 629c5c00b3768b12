"""Plain routes of the security app under /api/v1/ (no model viewsets, so no router entries)."""
from django.urls import path

from . import views

routes = []
urlpatterns = [
    path("break-glass/", views.BreakGlassView.as_view(), name="break-glass"),
    path("break-glass/<int:pk>/revoke/", views.BreakGlassRevokeView.as_view(), name="break-glass-revoke"),
    path("break-glass/grants/", views.OverseenGrantsView.as_view(), name="break-glass-grants"),
    path("break-glass/<int:pk>/approve/", views.BreakGlassDecideView.as_view(approve=True), name="break-glass-approve"),
    path("break-glass/<int:pk>/deny/", views.BreakGlassDecideView.as_view(approve=False), name="break-glass-deny"),
]

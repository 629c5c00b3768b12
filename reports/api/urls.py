"""Report endpoints, mounted under /api/v1/ by casemgmt.api.urls (plain views: no model router)."""
from django.urls import path

from . import views

urlpatterns = [
    path("reports/statistics/", views.StatisticsView.as_view(), name="reports-statistics"),
    path("reports/trends/", views.TrendsView.as_view(), name="reports-trends"),
    path("reports/drilldown/<slug:figure>/", views.DrilldownView.as_view(), name="reports-drilldown"),
    path("reports/workbook/", views.WorkbookView.as_view(), name="reports-workbook"),
    path("reports/exports/<slug:kind>/", views.ExportView.as_view(), name="reports-export"),
    path("reports/import-templates/<slug:kind>/", views.ImportTemplateView.as_view(), name="reports-import-template"),
    path("reports/imports/<slug:kind>/", views.ImportView.as_view(), name="reports-import"),
]

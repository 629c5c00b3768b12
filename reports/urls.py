"""Report pages under /reports/."""
from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("annual/", views.annual, name="annual"),
    path("drilldown/<slug:figure>/", views.drilldown_page, name="drilldown"),
    path("workbook/", views.workbook, name="workbook"),
    path("export/<slug:kind>/", views.export, name="export"),
    path("import/<slug:kind>/", views.import_page, name="import"),
    path("import/<slug:kind>/template/", views.import_template, name="import-template"),
]

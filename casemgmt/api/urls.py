"""/api/v1/: one router for every app. Each installed app's ``<app>/api/urls.py`` lists its viewsets
in ``routes = [(prefix, viewset, basename), ...]`` (and may add plain ``urlpatterns``); they are found
and registered here, in the order of INSTALLED_APPS, so the permission-matrix test sees every route
in ``router.registry`` and this module names none of the apps above it."""
import importlib

from django.apps import apps
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import DefaultRouter

from . import views

APP_API_MODULES = [f"{app.name}.api.urls" for app in apps.get_app_configs() if app.name != "casemgmt.api"]

router = DefaultRouter()
router.register("regions", views.RegionViewSet, basename="region")
router.register("audit-events", views.AuditEventViewSet, basename="auditevent")
router.register("tokens", views.TokenViewSet, basename="apitoken")
router.register("notifications", views.NotificationViewSet, basename="notification")

extra_patterns = []
for module_name in APP_API_MODULES:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only an app without an API yet is skipped; a broken import inside one must fail loudly.
        if exc.name and module_name.startswith(exc.name):
            continue
        raise
    for prefix, viewset, basename in getattr(module, "routes", ()):
        router.register(prefix, viewset, basename=basename)
    extra_patterns += getattr(module, "urlpatterns", [])



@csrf_exempt  # it changes nothing; a POST with a session cookie gets this 404, not the CSRF page
def not_found(request, *args, **kwargs):
    """Unknown paths under /api/v1/ answer in the API's error shape, not with Django's HTML page."""
    message = _("Not found.")
    return JsonResponse({"detail": message, "errors": [{"field": None, "code": "not_found", "message": message}]},
                        status=404)


urlpatterns = [
    path("users/me/", views.MeView.as_view(), name="users-me"),
    *extra_patterns,
    path("", include(router.urls)),
    re_path(r"^.*$", not_found),
]

"""Top-level URLs: Django admin (in the user's language), the health check, the API and the workspace."""
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from casemgmt.security import views as security_views


def healthz(request):
    """Liveness, plus the parts an operator watches: ``jobs`` turns "overdue" (and the whole "degraded",
    still with 200, since the web itself is fine) when scheduled work is late."""
    from django.db import DatabaseError

    from casemgmt.core.jobs import jobs_health

    try:
        jobs = jobs_health()
    except DatabaseError:
        jobs = {"status": "unknown", "overdue": []}
    return JsonResponse({"status": "ok" if jobs["status"] == "ok" else "degraded", "jobs": jobs})


urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    # The second factor: enrolment after the first password sign-in, recovery codes, step-up.
    path("sign-in/authenticator/", security_views.enrol, name="otp_enrol"),
    path("account/recovery-codes/", security_views.recovery_codes, name="recovery_codes"),
    path("step-up/", security_views.step_up, name="step_up"),
    path("reports/", include("reports.urls")),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include(("casemgmt.api.urls", "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file, so the CSP needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("", include("workspace.urls")),
]

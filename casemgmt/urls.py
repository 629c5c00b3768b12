"""Top-level URLs: Django admin (in the user's language), the health check, the API and the workspace."""
from django.contrib import admin
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from casemgmt.security import views as security_views


def healthz(request):
    """Each dependency an operator watches, and the whole: "ok"; "degraded" (still 200, the web
    answers) when the cache runs on each process's memory, the broker is away or scheduled work is
    late; "down" with 503 when the database is away."""
    from django.db import DatabaseError, connection

    from casemgmt.core.cache import cache_health
    from casemgmt.core.health import broker_health
    from casemgmt.core.jobs import jobs_health

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = {"status": "ok"}
    except DatabaseError:
        database = {"status": "down"}
    try:
        jobs = jobs_health()
    except DatabaseError:
        jobs = {"status": "unknown", "overdue": []}
    parts = {"database": database, "cache": cache_health(), "broker": broker_health(), "jobs": jobs}
    if database["status"] != "ok":
        overall, code = "down", 503
    elif all(part["status"] == "ok" for part in parts.values()):
        overall, code = "ok", 200
    else:
        overall, code = "degraded", 200
    return JsonResponse({"status": overall, **parts}, status=code)


urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    # The second factor: enrolment after the first password sign-in, recovery codes, step-up.
    path("sign-in/authenticator/", security_views.enrol, name="otp_enrol"),
    path("account/recovery-codes/", security_views.recovery_codes, name="recovery_codes"),
    path("step-up/", security_views.step_up, name="step_up"),
    path("reports/", include("reports.urls")),
    path("healthz", healthz, name="healthz"),
    # Where browsers look for an icon on pages that name none (JSON answers, files).
    path("favicon.ico", lambda request: HttpResponsePermanentRedirect(static("workspace/favicon.svg"))),
    path("api/v1/", include(("casemgmt.api.urls", "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file, so the CSP needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    # Our page around the sidecar's Redoc bundle: drf-spectacular's own loads web fonts from outside.
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="api/redoc.html"), name="redoc"),
    path("", include("workspace.urls")),
]

# Server errors under /api/ answer in the API's JSON shape (503 when the database or broker is away).
handler500 = "casemgmt.api.exceptions.server_error"
# The others likewise: the API's shape under /api/, a translated page with a way home elsewhere.
handler400 = "casemgmt.api.exceptions.bad_request"
handler403 = "casemgmt.api.exceptions.permission_denied"
handler404 = "casemgmt.api.exceptions.page_not_found"

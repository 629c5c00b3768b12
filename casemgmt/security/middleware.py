"""Denied attempts into the audit trail: an authenticated caller answered 403 or 404 by the API
(which answers 404 for records out of reach) or 403 by the admin. Runs after the view's own
transaction, so the row survives the rollback of a refused write. Only the path is kept; query
strings may hold search terms such as ID numbers. The row carries the region of the record the
path names, when it exists (its auditors see who tried it), else the caller's."""
import re

from casemgmt.core.audit import audit_log, family_of

from .network import client_ip

# A family id in the path; longer than any bigint (19 digits) is a probe, recorded by its path only.
FAMILY_PATH = re.compile(r"^/api/v\d+/families/(\d{1,18})/")
AUDITED_PREFIXES = ("/api/", "/admin/")


def _named_object(request):
    """The record a detail route of the API (a viewset's ``pk``) or of the admin (``object_id``)
    names, if it exists; else None."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None
    pk = str(match.kwargs.get("pk") or match.kwargs.get("object_id") or "")
    if not pk.isdigit() or len(pk) > 18:
        return None
    model_admin = getattr(match.func, "model_admin", None)
    queryset = getattr(getattr(match.func, "cls", None), "queryset", None)
    model = model_admin.model if model_admin is not None else getattr(queryset, "model", None)
    if model is None:
        return None
    return model._default_manager.filter(pk=int(pk)).first()


class DeniedAccessAuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code in (403, 404) and request.path.startswith(AUDITED_PREFIXES):
            # DRF authenticates tokens inside the view and sets the user on this request too.
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                obj = _named_object(request)
                match = FAMILY_PATH.match(request.path)
                family_id = family_of(obj) if obj is not None else (int(match.group(1)) if match else None)
                audit_log(actor=user, event="security.access.denied", obj=obj, family_id=family_id,
                          ip=client_ip(request),
                          after={"path": request.path[:300], "method": request.method, "status": response.status_code})
        return response


class RequestSizeLimitMiddleware:
    """Refuses (413) any request body larger than ``MAX_UPLOAD_SIZE`` before anything reads it.

    Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` leaves uploaded files out of its count, and files above
    ``FILE_UPLOAD_MAX_MEMORY_SIZE`` go to disk, so without this a workbook upload (the imports) has
    no ceiling at all."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings
        from django.http import JsonResponse
        from django.utils.translation import gettext as _

        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_UPLOAD_SIZE:
            message = _("The request is larger than %(size)s MB.") % {"size": settings.MAX_UPLOAD_SIZE // (1024 * 1024)}
            return JsonResponse({"detail": message, "errors": [{"field": None, "code": "too_large", "message": message}]},
                                status=413)
        return self.get_response(request)


class SecondFactorSessionMiddleware:
    """A session counts as signed in only with its second factor verified (``django_otp``), for
    every user who needs one: a session made before the second factor was required, or by any
    path that skipped it, is treated as signed out. After ``OTPMiddleware``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.contrib.auth.models import AnonymousUser

        from .otp import second_factor_required

        user = request.user
        if user.is_authenticated and second_factor_required(user) and not user.is_verified():
            request.user = AnonymousUser()
        return self.get_response(request)

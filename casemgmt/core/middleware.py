"""Requests no page or API route can use, refused in one place before any view runs.

A NUL character in a query parameter or form field cannot be stored or compared by PostgreSQL (its
text types refuse it, and so does ``jsonb``, where audited reads record their query), so letting it
through turns a typo or a probe into a server error deep inside a view. It is refused here with a
400 that says why: in the API's error shape under ``/api/``, as plain text on pages.
"""
from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _

NUL = "\x00"


def _nul_field(data):
    """The name of the first field of a QueryDict whose name or a value holds a NUL character."""
    for key, values in data.lists():
        if NUL in key or any(isinstance(value, str) and NUL in value for value in values):
            return key.replace(NUL, "\\0")
    return None


def bad_request(request, *, field, code, message):
    """A 400 in the shape the caller reads: the API's JSON error shape, or a plain page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "errors": [{"field": field, "code": code, "message": message}]},
                            status=400)
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


class NulCharacterMiddleware:
    """400 for a NUL character in the path, a query parameter or a form field."""

    def __init__(self, get_response):
        self.get_response = get_response

    @staticmethod
    def _reads_form(request):
        # An API upload is left to DRF, whose fields refuse NUL characters themselves: parsing it here
        # would consume the stream the API still reads whole (an Idempotency-Key hashes the body).
        if request.content_type == "multipart/form-data":
            return not request.path.startswith("/api/")
        return request.content_type == "application/x-www-form-urlencoded"

    def __call__(self, request):
        field = None
        found = NUL in request.path
        if not found:
            field = _nul_field(request.GET)
            found = field is not None
        if not found and request.method not in ("GET", "HEAD", "OPTIONS") and self._reads_form(request):
            try:
                field = _nul_field(request.POST)
            except (MultiPartParserError, SuspiciousOperation):
                field = None  # a broken or oversized body is the view's (or DRF's parser's) to refuse
            found = field is not None
        if found:
            message = (_("The field “%(field)s” contains a NUL character, which is not allowed.") % {"field": field}
                       if field else _("The address contains a NUL character, which is not allowed."))
            return bad_request(request, field=field, code="null_characters_not_allowed", message=message)
        return self.get_response(request)
